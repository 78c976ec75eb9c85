"""What sokbo needs from storage, as domain operations a backend implements (SQLite today)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.errors import BotError, PostError
from bot.fanout import QueuedPush
from bot.liveness import Waiting
from bot.model import (
    DeliveryStatus,
    KnownFile,
    MessageRef,
    PushKind,
    Record,
    Target,
    TargetOptions,
)
from bot.outcome import Outcome
from bot.publish import Plan


class StoreError(BotError):
    """The database cannot be opened or is not one sokbo can use."""


class StoreUnavailable(StoreError):
    """Storage cannot be used right now (locked by another process, disk full, file gone).

    Nothing was written by the operation that raised it; the same operation may succeed later.
    """


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused file as stored: shown by status, told to admins once."""

    path: str
    reason: str
    line: int | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class Decided:
    """The last decision about a recent post, and where its first alert stands."""

    key: str
    verdict: str  # as logged: new, too-old, burst-held, scheduled …
    reason: str | None  # the log's detail: why it was (not) pushed
    at: datetime
    alert: str | None  # its first alert's push: waiting, pending, fanned, cancelled; None: none
    chats: int  # the chats that alert reached
    sent: int  # … and got it


@dataclass(frozen=True, slots=True)
class Summary:
    """What `sokbo status` and `/status` show."""

    posts_by_state: Mapping[str, int]
    scheduled: tuple[tuple[str, datetime], ...]
    refused: tuple[Refusal, ...]
    pushes_pending: int  # queued, not yet fanned out to chats
    deliveries: Mapping[str, int]  # outbox rows by status
    targets: int  # chats that get pushes
    is_paused: bool
    last_scan: datetime | None
    waiting: tuple[tuple[str, datetime], ...] = ()  # first alerts waiting for their pages, since
    recent: tuple[Decided, ...] = ()  # the latest decisions, newest first


@dataclass(frozen=True, slots=True)
class StaticChat:
    """A chat the config subscribes (the console, `[[telegram.channels]]` …)."""

    platform: str
    address: str
    categories: tuple[str, ...]  # empty: every post
    language: str | None
    kind: str
    options: TargetOptions = None


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery, with what its worker needs."""

    row_id: int
    kind: PushKind
    record: Record  # its post, as stored when claimed
    target: Target
    attempts: int  # this one included
    refs: tuple[MessageRef, ...]  # the messages a correction edits or a retraction deletes

    @property
    def key(self) -> str:
        """Its post's key."""
        return self.record.post.key


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a push's delivery has come."""

    sent: int
    failed: int  # dead, rejected or cancelled: done, not delivered
    total: int

    @property
    def is_done(self) -> bool:
        """Every delivery has ended, one way or the other."""
        return self.sent + self.failed >= self.total


@dataclass(frozen=True, slots=True)
class Delivered:
    """One delivery (a push to one chat) as it stands: for status and for tests."""

    push_id: int
    kind: PushKind
    key: str
    platform: str
    address: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime  # when a waiting delivery is due
    last_error: str | None
    ref: MessageRef | None


class Archive(Protocol):
    """The posts as last read, the refused files, and each scan's decisions."""

    async def records(self) -> dict[str, Record]:
        """Every known post, by key (a full scan's comparison; nothing else loads them all)."""
        ...

    async def involved(self, keys: Iterable[str], paths: Iterable[str]) -> dict[str, Record]:
        """The known posts with one of `keys`, or whose file is at one of `paths`, by key."""
        ...

    async def due(self, now: datetime) -> list[Record]:
        """Scheduled posts whose date has arrived by `now` (their files not refused now)."""
        ...

    async def next_due(self, now: datetime) -> datetime | None:
        """The earliest date of a scheduled post still ahead of `now`."""
        ...

    async def record(self, key: str) -> Record | None:
        """Post `key`, if known."""
        ...

    async def newest(
        self, count: int, *, category: str | None = None, skip: int = 0
    ) -> list[Record]:
        """Up to `count` published posts, newest first (after the `skip` newest), optionally
        in one (folded) category."""
        ...

    async def categories(self) -> list[tuple[str, int]]:
        """Each category of the published posts with its count, most posts first."""
        ...

    async def find(self, query: str) -> list[Record]:
        """Posts not gone by key, file path or URL (an exact match wins), else keys holding it."""
        ...

    async def matching(self, typed: str, *, most: int) -> list[Record]:
        """Posts not gone whose key or title holds `typed` (folded), newest first."""
        ...

    async def files(self) -> list[KnownFile]:
        """The files as last read (empty unless the last full read used `reading`)."""
        ...

    async def refusals(self, paths: Iterable[str] | None = None) -> dict[str, Refusal]:
        """The refused files (at `paths`, if given), by path."""
        ...

    async def is_first_run(self) -> bool:
        """Whether no scan was ever recorded (the archive is not yet baselined)."""
        ...

    async def recent_alerts(self, now: datetime) -> int:
        """First alerts created within the burst window before `now`."""
        ...

    async def site(self) -> str | None:
        """The site identity the stored links were made with, once recorded."""
        ...

    async def reading(self) -> str | None:
        """How the files were read (settings and reader) when they were last all read."""
        ...

    async def record_scan(
        self,
        plan: Plan,
        refused: Iterable[PostError],
        *,
        now: datetime,
        site: str | None,
        scope: Iterable[str] | None = None,
        files: Sequence[KnownFile] | None = None,
        reading: str | None = None,
        hold_alerts: bool = False,
    ) -> list[PostError]:
        """Write a scan's decisions, its refusals, the files it read and (if given) the site,
        all or nothing; return the refusals that are new or changed (to tell admins).

        `hold_alerts`: first alerts wait for their pages (`Outbox.waiting`) before they go.

        `scope`: the paths the scan looked at (None: the whole folder); refusals and files
        elsewhere stay as they are. `files`: what each path looked at now holds (None: leave
        the files alone). `reading`: set when every file was read, as that reading.
        """
        ...


class Chats(Protocol):
    """The chats that get pushes, and what each subscribed to."""

    async def target(self, platform: str, address: str) -> Target | None:
        """A chat's target, if known (subscribed or not)."""
        ...

    async def active_targets(self) -> list[Target]:
        """Every active chat with at least one subscription."""
        ...

    async def subscribed(self, platform: str, address: str) -> Target | None:
        """A chat's target if it is active with at least one subscription."""
        ...

    async def reach(self, categories: Sequence[str]) -> int:
        """How many active chats a post in `categories` reaches."""
        ...

    async def subscribe(
        self,
        platform: str,
        address: str,
        categories: Sequence[str],
        *,
        now: datetime,
        language: str | None = None,
        kind: str = "",
    ) -> Target:
        """Subscribe a chat to every post (no categories) or to more categories; reactivate it."""
        ...

    async def unsubscribe(self, platform: str, address: str, categories: Sequence[str]) -> None:
        """Remove some categories, or (none given) every subscription of a chat."""
        ...

    async def ensure_target(self, platform: str, address: str, *, now: datetime) -> Target:
        """A chat's target, recorded (with no subscription) when new."""
        ...

    async def apply_static(
        self, chats: Sequence[StaticChat], *, platforms: Sequence[str], now: datetime
    ) -> int:
        """Make `chats` exactly the static chats of `platforms`; return how many others were.

        A static chat taken out of the config loses its subscriptions: it gets no more pushes.
        """
        ...

    async def move(self, platform: str, address: str, new_address: str) -> None:
        """Follow a chat to its new address (a migrated group), keeping its subscriptions."""
        ...

    async def deactivate(self, platform: str, address: str, *, error: str, now: datetime) -> None:
        """Stop sending to a chat that is gone; its unfinished deliveries are rejected."""
        ...


class Outbox(Protocol):
    """Pushes and their deliveries: queued, fanned out to chats, claimed, sent or failed."""

    async def queue(
        self, key: str, kind: PushKind, *, now: datetime, only: Target | None = None
    ) -> int | None:
        """Queue a push of post `key` (to chat `only`, if given); its id, or None if unknown."""
        ...

    async def cancel_unsent(self, key: str, *, now: datetime) -> None:
        """Cancel post `key`'s pushes not yet sent (not its retractions)."""
        ...

    async def waiting(self) -> list[Waiting]:
        """The first alerts waiting for their pages, oldest first, with their posts' links."""
        ...

    async def release(self, push_id: int) -> bool:
        """Let a waiting alert go (its page answers, or waiting is over); False if it no
        longer waits (cancelled, or released already)."""
        ...

    async def tell(self, push_id: int, told: str) -> None:
        """Note what admins were told of a waiting alert ("rebuild", "timeout")."""
        ...

    async def queued(self) -> list[QueuedPush]:
        """The pushes not yet fanned out, oldest first."""
        ...

    async def fan_out(self, chats: Mapping[int, Sequence[int]], *, now: datetime) -> int:
        """Write each queued push's deliveries, one per chat id given; return how many are new."""
        ...

    async def claim(self, *, now: datetime, platforms: Sequence[str], limit: int) -> list[Job]:
        """Claim due deliveries, oldest first, one per chat at a time; none but retractions
        while paused."""
        ...

    async def sent(self, job: Job, ref: MessageRef | None, *, now: datetime) -> None:
        """Record a delivered job (with the message it made, for later edits)."""
        ...

    async def failed(self, job: Job, outcome: Outcome, *, now: datetime) -> None:
        """Record a failed attempt as judged, with what it does to its chat (gone, moved)."""
        ...

    async def reset_in_flight(self, *, now: datetime) -> int:
        """At start: deliveries a crash left in flight go again; return how many."""
        ...

    async def prune(self, *, now: datetime, window: timedelta) -> int:
        """Forget finished deliveries older than the edit window; return how many."""
        ...

    async def progress(self, push_id: int) -> Progress | None:
        """How far a push has come, or None while it is not fanned out yet."""
        ...

    async def deliveries(self, *, key: str | None = None) -> list[Delivered]:
        """Every delivery (of post `key`), oldest first."""
        ...

    async def set_paused(self, is_paused: bool) -> None:
        """Hold every push but retractions, or let them go again."""
        ...


class Reports(Protocol):
    """What the service's state adds up to."""

    async def summary(self) -> Summary:
        """Gather what `sokbo status` and `/status` show."""
        ...


class Keeper(Protocol):
    """Keeps the store where it was opened while the service runs."""

    async def check(self) -> str | None:
        """Make sure the store is still where it was opened, mending it if not (its file
        deleted or replaced, its instance lock lost); return a one-line notice for admins
        saying what was mended, else None. StoreUnavailable: try again later."""
        ...


@dataclass(frozen=True, slots=True)
class Storage:
    """One backend's parts, built once by the composition root and handed to their users."""

    archive: Archive
    chats: Chats
    outbox: Outbox
    reports: Reports
    keeper: Keeper
