"""The publish state machine: from the folder, the stored records and the time, which pushes exist.

Pure: it is handed a snapshot of the posts folder, what the archive knows, and `now`, and returns
a Plan that the caller records in the archive as one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.config import BotSettings
from bot.errors import PostError
from bot.model import DateSource, KnownFile, NewPush, Post, PostState, PushKind, Record

BURST_WINDOW = timedelta(minutes=1)  # DESIGN.md: more than max_burst new posts within a minute


class Verdict(StrEnum):
    """What was decided about one post, as logged."""

    NEW = "new"  # first alert pushed
    ARCHIVED = "archived"  # seen on the first run: recorded as pushed
    BACKFILLED = "backfilled"  # seen on the first run and pushed (bot.backfill)
    TOO_OLD = "too-old"  # older than max_age_hours when it became news: recorded, not pushed
    BURST = "burst-held"  # beyond max_burst within a minute: recorded, not pushed
    SCHEDULED = "scheduled"
    UNPUBLISHED = "unpublished"
    CORRECTION = "correction"
    UPDATED = "updated"  # stored; nothing readers saw changed, or not within the edit window
    RESTORED = "restored"  # back after a delete or unpublish: shown again, never a new alert
    HIDDEN = "hidden"  # deleted, unpublished or re-dated: out of commands, unsent pushes cancelled
    RENAMED = "renamed"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The posts folder as last read, whole or the files that changed: their posts, their
    refusals, and whether the folder was there.

    `scope` names the paths looked at: a known post whose file is among them and not among
    `posts` is gone (or renamed); None means every file of the folder. `files` is what each
    path read now holds, for the next start to skip what did not change.
    """

    posts: tuple[Post, ...]
    refused: tuple[PostError, ...] = ()
    is_complete: bool = True  # False when the folder itself is missing: nothing counts as deleted
    scope: frozenset[str] | None = None
    files: tuple[KnownFile, ...] = ()
    is_final: bool = True  # False: read in haste (front matter only), read whole right after

    def covers(self, path: str) -> bool:
        """Whether the file at `path` was looked at."""
        return self.scope is None or path in self.scope


@dataclass(frozen=True, slots=True)
class Decision:
    """One logged decision: `verdict post=key detail`."""

    verdict: Verdict
    key: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """What to write: records, renames, pushes in order, keys whose unsent pushes go."""

    records: tuple[Record, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()  # (old key, new key), applied first
    pushes: tuple[NewPush, ...] = ()
    cancelled: tuple[str, ...] = ()
    decisions: tuple[Decision, ...] = ()
    notices: tuple[str, ...] = ()  # for admins
    next_due: datetime | None = None  # the earliest scheduled post: wake up then

    @property
    def is_empty(self) -> bool:
        """Whether applying the plan would change nothing."""
        return not (self.records or self.renames or self.pushes or self.cancelled)


def state_of(post: Post, now: datetime) -> PostState:
    """Return where `post` stands at `now`, from its flag and its date."""
    if not post.is_published:
        return PostState.UNPUBLISHED
    return PostState.PUBLISHED if post.is_due(now) else PostState.SCHEDULED


def _reader_visible(post: Post, *, with_link: bool = True) -> tuple[object, ...]:
    """The fields whose change makes an edit a correction."""
    return (post.title, post.excerpt, post.image_url, post.url if with_link else None)


@dataclass
class _Work:
    """The plan under construction."""

    rules: BotSettings
    now: datetime
    links_moved: bool = False  # the site's address or link pattern changed: not a correction
    records: dict[str, Record] = field(default_factory=dict)
    renames: list[tuple[str, str]] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    # Posts that may get their first alert, with where each stood before (None: never seen).
    candidates: list[tuple[Record, PostState | None]] = field(default_factory=list)

    def note(self, verdict: Verdict, key: str, detail: str = "") -> None:
        self.decisions.append(Decision(verdict, key, detail))

    def is_too_old(self, post: Post) -> bool:
        return self.now - post.date > timedelta(hours=self.rules.max_age_hours)


def decide(
    known: Mapping[str, Record],
    snapshot: Snapshot,
    *,
    now: datetime,
    rules: BotSettings,
    is_first_run: bool,
    recent_alerts: int = 0,
    links_moved: bool = False,
) -> Plan:
    """Compare the folder with what is known at `now` and return what to write and push.

    `recent_alerts` is how many first alerts were created within the last minute;
    `links_moved` says the site's links changed since the known posts were read, so a new
    link alone is recorded, not sent as a correction.
    """
    work = _Work(rules, now, links_moved)
    present = {post.key: post for post in snapshot.posts}
    known = _follow_renames(dict(known), present, snapshot, work)
    for key, post in present.items():
        record = known.get(key)
        if record is None:
            _first_sight(post, work)
        else:
            _seen_again(record, post, work)
    if snapshot.is_complete:
        broken = {error.path for error in snapshot.refused}  # a broken edit keeps the post
        vanished = [
            record
            for key, record in known.items()
            if key not in present
            and record.state is not PostState.GONE
            and record.post.path not in broken
            and snapshot.covers(record.post.path)
        ]
        for record in vanished:
            _gone(record, work)
    pushes, notices = _alerts(work, is_first_run=is_first_run, recent_alerts=recent_alerts)
    pushes += [NewPush(key, PushKind.CORRECTION) for key in work.corrections]
    return Plan(
        records=tuple(work.records.values()),
        renames=tuple(work.renames),
        pushes=tuple(pushes),
        cancelled=tuple(work.cancelled),
        decisions=tuple(work.decisions),
        notices=tuple(notices),
        next_due=_next_due({**known, **work.records}, now),
    )


def _follow_renames(
    known: dict[str, Record], present: dict[str, Post], snapshot: Snapshot, work: _Work
) -> dict[str, Record]:
    """A known key gone and a new key with the same content in one scan: the same post."""
    if not snapshot.is_complete:
        return known
    arrivals: dict[str, str] = {}
    for key, post in present.items():
        if key not in known:
            arrivals.setdefault(post.content_hash, key)
    for old_key, record in list(known.items()):
        if old_key in present or record.state is PostState.GONE:
            continue
        if not snapshot.covers(record.post.path):
            continue
        new_key = arrivals.pop(record.post.content_hash, None)
        if new_key is not None:
            known[new_key] = replace(record, post=replace(record.post, key=new_key))
            del known[old_key]
            work.renames.append((old_key, new_key))
            work.note(Verdict.RENAMED, new_key, f"from={old_key}")
    return known


def _first_sight(post: Post, work: _Work) -> None:
    state = state_of(post, work.now)
    record = Record(post, state, first_seen=work.now, is_alerted=False)
    work.records[post.key] = record
    if state is PostState.PUBLISHED:
        work.candidates.append((record, None))
    elif state is PostState.SCHEDULED:
        work.note(Verdict.SCHEDULED, post.key, f"at={post.date.isoformat()}")
    else:
        work.note(Verdict.UNPUBLISHED, post.key)


def _seen_again(record: Record, post: Post, work: _Work) -> None:
    if post.date_source is DateSource.FIRST_SEEN:
        post = replace(post, date=record.first_seen)
    state = state_of(post, work.now)
    if post == record.post and state is record.state:
        return
    updated = replace(record, post=post, state=state)
    work.records[post.key] = updated
    was_live = record.state is PostState.PUBLISHED
    if state is PostState.PUBLISHED and not record.is_alerted:
        work.candidates.append((updated, record.state))
    elif state is PostState.PUBLISHED and not was_live:
        work.note(Verdict.RESTORED, post.key, f"was={record.state}")
    elif state is PostState.PUBLISHED and _is_correction(record, post, work):
        work.corrections.append(post.key)
        work.note(Verdict.CORRECTION, post.key)
    elif state is PostState.PUBLISHED:
        work.note(Verdict.UPDATED, post.key)
    elif was_live:
        work.cancelled.append(post.key)
        work.note(Verdict.HIDDEN, post.key, f"now={state}")
    elif state is PostState.SCHEDULED:
        work.note(Verdict.SCHEDULED, post.key, f"at={post.date.isoformat()}")
    else:
        work.note(Verdict.UPDATED, post.key, f"state={state}")


def _is_correction(record: Record, post: Post, work: _Work) -> bool:
    """A visible change to a post pushed within the edit window, when edits are on.

    The same bytes in the same file, read differently (a new sokbo reads excerpts or titles
    better, the settings changed), are not the author's correction: recorded, never sent to
    every chat (a file renamed is: its link moved).
    """
    if work.rules.on_edit != "edit" or record.pushed_at is None:
        return False
    if (record.post.content_hash, record.post.path) == (post.content_hash, post.path):
        return False
    window = timedelta(hours=work.rules.edit_window_hours)
    with_link = not work.links_moved
    was, now = (
        _reader_visible(record.post, with_link=with_link),
        _reader_visible(post, with_link=with_link),
    )
    return was != now and (work.now - record.pushed_at <= window)


def _gone(record: Record, work: _Work) -> None:
    work.records[record.post.key] = replace(record, state=PostState.GONE)
    work.cancelled.append(record.post.key)
    work.note(Verdict.HIDDEN, record.post.key, "now=gone")


def _alerts(
    work: _Work, *, is_first_run: bool, recent_alerts: int
) -> tuple[list[NewPush], list[str]]:
    """Choose which candidates get their first alert: archive, age, and burst rules."""
    work.candidates.sort(key=lambda c: (c[0].post.date, c[0].first_seen, c[0].post.key))
    if is_first_run:
        ordered = [record for record, _ in work.candidates]
        cut = len(ordered) - min(work.rules.backfill, len(ordered))
        for record in ordered[:cut]:
            _spend(record, work, Verdict.ARCHIVED)  # logged as one line: see tracker._log
        return _push(ordered[cut:], work, Verdict.BACKFILLED), []
    fresh = []
    for record, before in work.candidates:
        # A flip from `published: false` is news whatever the date; anything else must be fresh.
        if before is not PostState.UNPUBLISHED and work.is_too_old(record.post):
            _spend(record, work, Verdict.TOO_OLD, _too_old(record.post, work.rules))
        else:
            fresh.append(record)
    cut = len(fresh) - min(max(0, work.rules.max_burst - recent_alerts), len(fresh))
    for record in fresh[:cut]:
        _spend(record, work, Verdict.BURST, _held(work.rules))
    notices = [_burst_notice(fresh[:cut], len(fresh) - cut, recent_alerts, work.rules.max_burst)]
    notices = notices if cut else []
    return _push(fresh[cut:], work, Verdict.NEW), notices


def _too_old(post: Post, rules: BotSettings) -> str:
    """Why a post became news too late to push, in the log's words."""
    return (
        f"date={post.date.isoformat()}: older than bot.max_age_hours = {rules.max_age_hours:g} h "
        "when first seen; recorded, not pushed (/repost KEY sends it)"
    )


def _held(rules: BotSettings) -> str:
    """Why a post of a burst was not pushed."""
    return (
        f"more than bot.max_burst = {rules.max_burst} new within a minute; recorded, not "
        "pushed (/repost KEY sends it)"
    )


def _burst_notice(held: Sequence[Record], pushed: int, recent: int, max_burst: int) -> str:
    """Tell admins what a burst held back, by name, and how to send one anyway."""
    newest = [record.post.key for record in reversed(held[-3:])]
    more = f" and {len(held) - len(newest):,} older" if len(held) > len(newest) else ""
    return (
        f"burst: pushed {pushed:,}, recorded {len(held):,} without pushing "
        f"({recent + pushed:,} pushed within a minute; bot.max_burst = {max_burst}): "
        f"{', '.join(newest)}{more}; /repost KEY sends one"
    )


def _spend(record: Record, work: _Work, verdict: Verdict, detail: str = "") -> None:
    work.records[record.post.key] = replace(record, is_alerted=True)
    work.note(verdict, record.post.key, detail)


def _push(records: Sequence[Record], work: _Work, verdict: Verdict) -> list[NewPush]:
    for record in records:
        work.records[record.post.key] = replace(record, is_alerted=True, pushed_at=work.now)
        work.note(verdict, record.post.key)
    return [NewPush(record.post.key, PushKind.ALERT) for record in records]


def _next_due(records: Mapping[str, Record], now: datetime) -> datetime | None:
    """The earliest scheduled date still ahead (one behind is a post whose file is broken)."""
    due = [r.post.date for r in records.values() if r.state is PostState.SCHEDULED]
    return min((date for date in due if date > now), default=None)
