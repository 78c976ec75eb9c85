"""The posts folder over time: file events (debounced, settled) and a periodic full rescan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import repeat
from pathlib import Path

from watchfiles import Change, awatch

from bot.clock import Clock, sleep_or
from bot.config import SiteConfig
from bot.errors import PostError
from bot.model import Fingerprint, KnownFile
from bot.publish import Snapshot
from bot.source import (
    Outcome,
    fingerprint,
    fingerprints,
    is_post_file,
    listed_path,
    read_outcome,
    relative_name,
)

IDLE_TICK_MS = 1_000  # with no event, no file settling and no rescan due: a look this often
PUMP_START_STEPS = 3  # loop turns for watchfiles to set its watch up (synchronously, at start)
EVENT_STEP_MS = 50  # watchfiles groups events until none arrive for this long
REFUSAL_GRACE_S = 2.0  # a file refused this soon after a write may still be being written
READ_APART_FROM = 2_000  # files read at once: from this many, in worker processes
MOST_READERS = 4  # worker processes, at most (and no more than the cores)

log = logging.getLogger(__name__)


class Hold:
    """Git writing into the folder (a pull): the watcher holds file events while it runs, and
    reads the folder once when it ends (unless it brought nothing), instead of each file git
    touches as it writes."""

    def __init__(self) -> None:
        self._depth = 0
        self.freed = asyncio.Event()  # set while nothing holds the folder
        self.freed.set()
        self._rescan = False

    @property
    def is_held(self) -> bool:
        """Whether a pull is under way."""
        return self._depth > 0

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold the folder for the duration of the block; a rescan follows it."""
        self._depth += 1
        self.freed.clear()
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth:
                self._rescan = True
                self.freed.set()

    def brought_nothing(self) -> None:
        """The pull that just ended changed nothing: the folder need not be read again."""
        self._rescan = False

    def take_rescan(self) -> bool:
        """Whether a hold ended since the last call (the folder must be read again)."""
        rescan, self._rescan = self._rescan, False
        return rescan


@dataclass(frozen=True, slots=True)
class _Seen:
    """A file as last read: enough to tell a change, and which post key it claims."""

    fingerprint: Fingerprint
    key: str | None  # its post's key (held, or claimed a second time); None: refused, skipped
    is_skipped: bool = False  # not a post candidate (a draft, an editor's file)


@dataclass(frozen=True, slots=True)
class _Change:
    """A file that changed: what it was (None: new) and what it is (None: gone)."""

    was: _Seen | None
    now: Outcome | None


class FolderView:
    """The posts folder as last read, kept current file by file. Blocking: run it in a thread.

    It holds each file's fingerprint and post key, not its post: what changed since the last
    `take` is read again and handed over as a Snapshot of those files. Started from the files
    the archive last saw (`known`), a restart reads only the files that changed meanwhile;
    started from nothing, its first Snapshot is the whole folder.
    """

    def __init__(
        self,
        site: SiteConfig,
        *,
        clock: Clock,
        settle_s: float,
        known: Iterable[KnownFile] = (),
        light: bool = False,
    ) -> None:
        self.site = site
        self.clock = clock
        self.settle_s = settle_s
        self.files: dict[str, _Seen] = {}  # by path as text (as a walk lists it)
        self.unsettled: dict[str, float] = {}  # path → wall time to look again
        self._claims: dict[str, set[str]] = {}  # key → the files whose post has it
        self._holders: dict[str, str] = {}  # key → the file whose post it is (the first path)
        self._pending: dict[str, Outcome | None] = {}  # changed since `take`; None: gone
        self._prefix = os.path.join(str(site.posts_dir), "")
        for file in known:
            path = self._prefix + file.path.replace("/", os.sep)
            self.files[path] = _Seen(file.fingerprint, file.key)
            if file.key is not None:
                self._claims.setdefault(file.key, set()).add(path)
        self._holders = {key: min(paths) for key, paths in self._claims.items()}
        self._is_whole = not self.files  # nothing known: the first take is the whole folder
        self.reads = 0  # files read (parsed) so far
        self.stopping = threading.Event()  # set: a read under way is given up
        self.is_light = light and self._is_whole  # the first whole read: front matter only

    def refresh(
        self,
        changed: Iterable[Path] | None = None,
        *,
        whole: Iterable[Path] = (),
        is_settled: bool = False,
    ) -> bool:
        """Look again at the `changed` paths (None: the whole folder) and the files now settled;
        return whether anything sokbo cares about changed (see `take`).

        A file in `whole` arrived complete (an atomic rename): it is read without settling;
        `is_settled`: every file is complete (a pull just ended).
        """
        now = self.clock.now().timestamp()
        listing: dict[str, Fingerprint | None] | None = None  # a whole look: every file's
        if changed is not None:
            listed = (listed_path(path, self.site.posts_dir) for path in changed)  # not via links
            kinds = {path: self._kind(path) for path in listed if path is not None}
            if "folder" in kinds.values():
                return self.refresh(None)  # a folder moved or vanished: look at everything
            paths = {str(path) for path, kind in kinds.items() if kind == "post"}
        elif self.site.posts_dir.is_dir():
            listing = fingerprints(self.site.posts_dir)
            paths = listing.keys() | self.files.keys()  # a known file not listed is gone
        else:
            return False  # the folder is away: nothing counts as deleted until it is back
        paths |= {path for path, due in self.unsettled.items() if due <= now}
        complete = {str(path) for path in whole}
        touched: dict[str, _Change] = {}
        to_read: dict[str, Fingerprint] = {}
        for path in paths:
            found = _fingerprint(path) if listing is None or path not in listing else listing[path]
            if self._is_due(path, found, now, touched, is_whole=is_settled or path in complete):
                assert found is not None
                to_read[path] = found
        now_at = self.clock.now()
        try:
            outcomes = read_all(
                list(to_read), site=self.site, seen_at=now_at, light=self.is_light,
                stopping=self.stopping,
            )  # fmt: skip
        except Stopped:  # the files stay unread: the next start reads them
            return False
        for (path, found), outcome in zip(to_read.items(), outcomes, strict=True):
            self._took(path, found, outcome, now, touched)
        self._apply(touched)
        return bool(touched)

    def take(self) -> Snapshot:
        """The files changed since the last take (the first: the whole folder, unless started
        from known files), as a Snapshot; the view then starts counting afresh."""
        pending, self._pending = self._pending, {}
        relative = {path: self._relative(path) for path in pending}
        outcomes = [outcome for outcome in pending.values() if outcome is not None]
        files = tuple(
            KnownFile(relative[path], seen.fingerprint, seen.key)
            for path in pending
            if (seen := self.files.get(path)) is not None and not seen.is_skipped
        )
        scope = None if self._is_whole else frozenset(relative.values())
        is_complete = self.site.posts_dir.is_dir()
        is_final = not (self.is_light and is_complete)
        if not is_final:  # read it all again, whole, for the next take
            self.files, self._claims, self._holders, self.is_light = {}, {}, {}, False
        self._is_whole = self._is_whole and not (is_complete and is_final)
        return Snapshot(
            posts=tuple(o.post for o in outcomes if o.post is not None),
            refused=tuple(o.error for o in outcomes if o.error is not None),
            is_complete=is_complete,
            scope=scope,
            files=files,
            is_final=is_final,
        )

    def _relative(self, path: str) -> str:
        """A path as text → its '/'-separated path under posts_dir."""
        if path.startswith(self._prefix):
            return path[len(self._prefix) :].replace(os.sep, "/")
        return relative_name(Path(path), self.site.posts_dir)

    def _kind(self, path: Path) -> str:
        """Say what an event's path is to sokbo: a post file, a folder, or nothing."""
        try:
            relative = path.relative_to(self.site.posts_dir).parts
        except ValueError:
            return "ignore"
        if any(part.startswith(".") for part in relative):
            return "ignore"
        if path.is_dir() or (not path.exists() and not path.suffix):
            return "folder"
        return "post" if is_post_file(path.name) else "ignore"

    def next_look(self) -> float | None:
        """Return the wall time at which an unsettled file should be looked at again."""
        return min(self.unsettled.values(), default=None)

    def _is_due(
        self,
        path: str,
        fingerprint: Fingerprint | None,
        now: float,
        touched: dict[str, _Change],
        *,
        is_whole: bool,
    ) -> bool:
        """Whether `path` (found with `fingerprint`; None: gone) must be read now: changed and
        settled. A file gone is noted in `touched` at once."""
        self.unsettled.pop(path, None)
        seen = self.files.get(path)
        if fingerprint is None:
            if seen is not None:
                touched[path] = _Change(seen, None)
                del self.files[path]
            return False
        if seen is not None and seen.fingerprint == fingerprint:
            return False
        mtime = fingerprint[1] / 1e9
        if now - mtime < self.settle_s and not is_whole:
            self.unsettled[path] = mtime + self.settle_s
            return False
        return True

    def _took(
        self,
        path: str,
        fingerprint: Fingerprint,
        outcome: Outcome,
        now: float,
        touched: dict[str, _Change],
    ) -> None:
        """Note in `touched` what the file read at `path` holds, unless it may be half-written."""
        self.reads += 1
        mtime = fingerprint[1] / 1e9
        if outcome.error is not None and now - mtime < REFUSAL_GRACE_S:
            self.unsettled[path] = mtime + REFUSAL_GRACE_S  # maybe half-written
            return
        seen = self.files.get(path)
        key = None if outcome.post is None else outcome.post.key
        self.files[path] = _Seen(fingerprint, key, is_skipped=outcome.skipped is not None)
        if outcome.skipped is None or (seen is not None and not seen.is_skipped):
            touched[path] = _Change(seen, outcome)

    def _apply(self, touched: dict[str, _Change]) -> None:
        """Take in what changed: who holds each key now, which files are second claims."""
        keys: set[str] = set()
        for path, change in touched.items():
            if change.was is not None and change.was.key is not None:
                keys.add(change.was.key)
                self._claims.get(change.was.key, set()).discard(path)
            post = None if change.now is None else change.now.post
            if post is not None:
                keys.add(post.key)
                self._claims.setdefault(post.key, set()).add(path)
            self._pending[path] = change.now
        for key in keys:
            self._settle_claims(key, touched)

    def _settle_claims(self, key: str, touched: dict[str, _Change]) -> None:
        """Make the first path claiming `key` its post and refuse the others, re-reading a
        file that becomes the holder without having changed."""
        claims = self._claims.get(key) or set()
        if not claims:
            self._claims.pop(key, None)
            self._holders.pop(key, None)
            return
        holder, was = min(claims), self._holders.get(key)
        self._holders[key] = holder
        if holder != was and holder not in touched:  # a second claim now first: read it again
            outcome = read_outcome(
                Path(holder), site=self.site, seen_at=self.clock.now(), light=self.is_light
            )
            self._pending[holder] = outcome
        for path in claims - {holder}:
            if path in touched or path == was:
                reason = f"duplicate key {key!r}: {self._relative(holder)} has it already"
                error = PostError(self._relative(path), reason)
                self._pending[path] = Outcome(Path(path), error=error)


class Stopped(Exception):
    """sokbo is stopping: a long read was given up, and nothing it read is kept."""


def read_all(
    paths: Sequence[str],
    *,
    site: SiteConfig,
    seen_at: datetime,
    light: bool = False,
    stopping: threading.Event | None = None,
) -> list[Outcome]:
    """Read the files at `paths`, in order (`light`: see parse_post); many at once are shared
    out among the cores (reading is CPU-bound: threads would take turns). Stopped when
    `stopping` is set before the end."""
    stopping = stopping or threading.Event()
    workers = min(MOST_READERS, os.cpu_count() or 1)
    if len(paths) < READ_APART_FROM or workers < 2:
        return _read_chunk(site, seen_at, light, paths, stopping)
    size = -(-len(paths) // (workers * 4))  # a few chunks a worker: the slow ones even out
    chunks = [paths[start : start + size] for start in range(0, len(paths), size)]
    context = multiprocessing.get_context("spawn")  # fork is unsafe beside threads
    try:
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_leave_signals_to_sokbo
        )
        with pool:
            done = pool.map(_read_chunk, repeat(site), repeat(seen_at), repeat(light), chunks)
            outcomes = []
            for chunk in done:
                if stopping.is_set():
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise Stopped
                outcomes += chunk
            return outcomes
    except (BrokenProcessPool, OSError) as error:  # no workers here: read them one by one
        log.warning("reading %d files in one process (no worker processes: %s)", len(paths), error)
        return _read_chunk(site, seen_at, light, paths, stopping)


def _leave_signals_to_sokbo() -> None:
    """In a worker: Ctrl-C and SIGTERM (sent to the whole group) stop sokbo, which stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _read_chunk(
    site: SiteConfig,
    seen_at: datetime,
    light: bool,
    paths: Sequence[str],
    stopping: threading.Event | None = None,
) -> list[Outcome]:
    outcomes = []
    for path in paths:
        if stopping is not None and stopping.is_set():
            raise Stopped
        outcomes.append(read_outcome(Path(path), site=site, seen_at=seen_at, light=light))
    return outcomes


def _fingerprint(path: str) -> Fingerprint | None:
    """A file's fingerprint, or None if it cannot be reached (gone)."""
    try:
        return fingerprint(os.stat(path))
    except OSError:
        return None


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


async def watch_folder(
    view: FolderView,
    *,
    clock: Clock,
    rescan_s: float,
    stop: asyncio.Event,
    hold: Hold | None = None,
) -> AsyncIterator[Snapshot]:
    """Yield a snapshot at start and after every change, until `stop` is set (which also
    gives up a long read under way: see `_watch`). While `hold` is held, events wait."""
    relay = asyncio.create_task(_give_up_reads(view, stop))
    try:
        hold = hold or Hold()
        async for snapshot in _watch(view, clock=clock, rescan_s=rescan_s, stop=stop, hold=hold):
            yield snapshot
            del snapshot  # not kept while the next is read
    finally:
        relay.cancel()


async def _give_up_reads(view: FolderView, stop: asyncio.Event) -> None:
    await stop.wait()
    view.stopping.set()


async def _watch(
    view: FolderView, *, clock: Clock, rescan_s: float, stop: asyncio.Event, hold: Hold
) -> AsyncIterator[Snapshot]:
    """Yield a snapshot at start and after every change, until `stop` is set.

    Events come from the OS (watchfiles); a full rescan every `rescan_s` catches any missed.
    A folder that disappears yields an incomplete snapshot; when it comes back, it is
    watched anew (the old watch saw the old folder).
    """
    is_there: bool | None = None  # None: not looked at yet
    last_full = clock.now()
    is_told = False  # that the folder is missing, once until it comes back
    while not stop.is_set():
        identity = _identity(view.site.posts_dir)
        if identity is None:
            if is_there is None:  # the first look finds no folder: say so (no baseline)
                async for snapshot in _first_looks(view, clock=clock, stop=stop):
                    yield snapshot
                    del snapshot  # not kept while the next is read
            if not is_told:
                log.warning("the posts folder %s is missing; waiting for it", view.site.posts_dir)
                is_told = True
            if is_there:
                yield Snapshot((), is_complete=False, scope=frozenset())
            is_there = False
            await sleep_or(clock, 0.5, stop)
            continue
        is_told = False
        events: asyncio.Queue[set[tuple[Change, str]]] = asyncio.Queue()
        unwatch = asyncio.Event()
        pump = asyncio.create_task(_pump(view.site.posts_dir, events, unwatch))
        for _ in range(PUMP_START_STEPS):  # its first steps set the watch up: live from here
            await asyncio.sleep(0)
        try:
            if is_there is None:  # nothing written from here on is missed: the first look
                async for snapshot in _first_looks(view, clock=clock, stop=stop):
                    yield snapshot
                    del snapshot  # not kept while the next is read
                last_full = clock.now()
            elif await asyncio.to_thread(view.refresh, None) or not is_there:
                yield view.take()  # a new folder, or back after going missing: what it holds
            is_there = True
            log.info("watching %s", view.site.posts_dir)
            watch = _Watch(view, clock, rescan_s, events, pump, identity, last_full, hold)
            async for snapshot in watch.follow(stop):
                yield snapshot
                del snapshot  # not kept while the next is read
        finally:
            unwatch.set()
            await pump


@dataclass
class _Watch:
    """One watch of the folder: its events, settled files and rescans, until it moves."""

    view: FolderView
    clock: Clock
    rescan_s: float
    events: asyncio.Queue[set[tuple[Change, str]]]
    pump: asyncio.Task[None]
    identity: tuple[int, int]  # the folder watched
    last_full: datetime  # the last rescan
    hold: Hold  # a pull under way: its events wait, and one rescan follows it

    async def follow(self, stop: asyncio.Event) -> AsyncIterator[Snapshot]:
        """Yield a snapshot after every change, until `stop`, or the folder moves or goes."""
        view, clock = self.view, self.clock
        while not stop.is_set() and not self.pump.done():
            if self.hold.is_held:
                await sleep_or(clock, None, self.hold.freed, stop, tasks=[self.pump])
                continue
            pulled = self.hold.take_rescan()
            wait = 0.0 if pulled else _until_next_look(view, clock, self.last_full, self.rescan_s)
            changes = await _next_changes(self.events, clock, wait, stop, self.pump)
            # Gone from under the watch: its own deletion event, or another folder in its place
            # (an inode number alone can be reused at once by the folder that replaces it).
            root_deleted = (Change.deleted, str(view.site.posts_dir)) in changes
            moved = root_deleted or _identity(view.site.posts_dir) != self.identity
            is_due = (clock.now() - self.last_full).total_seconds() >= self.rescan_s
            full = pulled or moved or is_due
            if full:
                self.last_full = clock.now()
            if changes or full or view.unsettled:
                paths = None if full else {Path(path) for _, path in changes}
                whole = _arrived(changes)
                # After a pull, git has finished writing: what changed is read without settling.
                refresh = partial(view.refresh, paths, whole=whole, is_settled=pulled)
                if await asyncio.to_thread(refresh) or full:
                    yield view.take()
            if moved:
                return  # watch the folder that is there now


async def _pump(
    folder: Path, events: asyncio.Queue[set[tuple[Change, str]]], stop: asyncio.Event
) -> None:
    """Put each batch of the OS's file events under `folder` on `events` until `stop` (or
    until the watch itself ends: its folder went)."""
    try:
        async for changes in awatch(
            folder,
            stop_event=stop,
            step=EVENT_STEP_MS,
            rust_timeout=IDLE_TICK_MS,
            ignore_permission_denied=True,
        ):
            events.put_nowait(changes)
    except (OSError, RuntimeError) as error:  # the folder went: the caller looks again
        log.info("the watch of %s ended: %s", folder, error)


def _until_next_look(view: FolderView, clock: Clock, last_full: datetime, rescan_s: float) -> float:
    """Seconds until something is due without an event: a file settled, or the rescan."""
    now = clock.now()
    due = [IDLE_TICK_MS / 1000, rescan_s - (now - last_full).total_seconds()]
    if (settled := view.next_look()) is not None:
        due.append(settled - now.timestamp())
    return max(0.0, min(due))


async def _next_changes(
    events: asyncio.Queue[set[tuple[Change, str]]],
    clock: Clock,
    wait: float,
    stop: asyncio.Event,
    pump: asyncio.Task[None],
) -> set[tuple[Change, str]]:
    """The events queued within `wait` seconds, merged (none if nothing came)."""
    getter = asyncio.ensure_future(events.get())
    try:
        await sleep_or(clock, wait, stop, tasks=[getter, pump])
    finally:
        if not getter.done():
            getter.cancel()
    changes = getter.result() if getter.done() and not getter.cancelled() else set()
    while not events.empty():
        changes |= events.get_nowait()
    return changes


async def _first_looks(
    view: FolderView, *, clock: Clock, stop: asyncio.Event
) -> AsyncIterator[Snapshot]:
    """The folder at start, settled: what changed since the last run (the whole folder on a
    first run: its front matter first, then, in a second snapshot, whole)."""
    await asyncio.to_thread(view.refresh, None)
    while view.unsettled and not stop.is_set():  # the first look is the baseline: let it settle
        await sleep_or(clock, view.settle_s, stop)
        await asyncio.to_thread(view.refresh, ())
    if stop.is_set():
        return  # the look may have been given up half way: it must not count as the folder
    snapshot = view.take()
    if snapshot.scope is not None:
        log.info(
            "read %d changed files of %d; the others are as sokbo last saw them",
            view.reads, len(view.files),
        )  # fmt: skip
    is_final = snapshot.is_final
    yield snapshot
    del snapshot  # a first run's is the whole archive: not kept while it is read again
    if not is_final and not stop.is_set():  # the archive is in: now read it whole
        await asyncio.to_thread(view.refresh, None)
        if stop.is_set():
            return  # given up half way: the next start reads them whole (no reading is kept)
        snapshot = view.take()
        log.info("read the bodies of %d posts (excerpts and images)", len(snapshot.posts))
        yield snapshot


def _arrived(changes: set[tuple[Change, str]]) -> set[Path]:
    """Files that arrived whole: each one added as a temporary file beside it was deleted in
    the same batch (written beside it, then renamed into place: how editors and atomic writers
    save). The temporary file names it (`.post.md.tmp` → `post.md`), or it is the only file
    added there.

    An added file alone proves nothing: a file being written in several steps is reported as
    added, with what it holds so far.
    """
    written = {path for change, path in changes if change is Change.modified}
    added: dict[str, list[str]] = {}
    for change, path in changes:
        if change is Change.added and path not in written and is_post_file(path):
            added.setdefault(os.path.dirname(path), []).append(path)
    whole = set()
    for change, path in changes:
        folder, name = os.path.split(path)
        if change is not Change.deleted or not _is_temporary(name) or folder not in added:
            continue
        candidates = added[folder]
        named = [file for file in candidates if os.path.basename(file) in name]
        whole.update(named if named else candidates if len(candidates) == 1 else [])
    return {Path(path) for path in whole}


def _is_temporary(name: str) -> bool:
    """A name editors and atomic writers give the file they write before renaming it."""
    return name.startswith((".", "#")) or name.endswith(("~", ".tmp", ".swp", ".swx"))
