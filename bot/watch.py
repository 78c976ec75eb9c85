"""The posts folder over time: file events (debounced, settled) and a periodic full rescan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from watchfiles import Change, awatch

from bot.clock import Clock, sleep_or
from bot.config import SiteConfig
from bot.publish import Snapshot
from bot.source import Outcome, dedupe, is_post_file, listed_path, read_outcome, walk

TICK_MS = 100  # how often the watch loop wakes without events, to act on settled files
EVENT_STEP_MS = 50  # watchfiles groups events until none arrive for this long
REFUSAL_GRACE_S = 2.0  # a file refused this soon after a write may still be being written

log = logging.getLogger(__name__)

Fingerprint: TypeAlias = tuple[int, int, int]  # size, mtime in ns, inode: any write changes it


@dataclass(frozen=True, slots=True)
class _Seen:
    fingerprint: Fingerprint
    outcome: Outcome


class FolderView:
    """The posts folder as last read, kept current file by file. Blocking: run it in a thread."""

    def __init__(self, site: SiteConfig, *, clock: Clock, settle_s: float) -> None:
        self.site = site
        self.clock = clock
        self.settle_s = settle_s
        self.files: dict[Path, _Seen] = {}
        self.unsettled: dict[Path, float] = {}  # path → wall time to look again

    def refresh(self, changed: Iterable[Path] | None = None) -> Snapshot | None:
        """Re-read the `changed` paths (None: the whole folder) and the files now settled.

        A full look always returns the snapshot; a partial one returns None when nothing
        sokbo cares about changed.
        """
        now = self.clock.now().timestamp()
        if changed is not None:
            listed = (listed_path(path, self.site.posts_dir) for path in changed)  # not via links
            kinds = {path: self._kind(path) for path in listed if path is not None}
            if "folder" in kinds.values():
                return self.refresh(None)  # a folder moved or vanished: look at everything
            paths = {path for path, kind in kinds.items() if kind == "post"}
        else:
            paths = set(walk(self.site.posts_dir)) if self.site.posts_dir.is_dir() else set()
            for gone in self.files.keys() - paths:
                del self.files[gone]
        paths |= {path for path, due in self.unsettled.items() if due <= now}
        before = {path: seen.fingerprint for path, seen in self.files.items()}
        for path in paths:
            self._look(path, now)
        unchanged = {path: seen.fingerprint for path, seen in self.files.items()} == before
        return None if unchanged and changed is not None else self.snapshot()

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

    def snapshot(self) -> Snapshot:
        """Return the folder as currently known."""
        outcomes = list(dedupe(self.files[path].outcome for path in sorted(self.files)))
        return Snapshot(
            posts=tuple(o.post for o in outcomes if o.post is not None),
            refused=tuple(o.error for o in outcomes if o.error is not None),
            is_complete=self.site.posts_dir.is_dir(),
        )

    def next_look(self) -> float | None:
        """Return the wall time at which an unsettled file should be looked at again."""
        return min(self.unsettled.values(), default=None)

    def _look(self, path: Path, now: float) -> None:
        self.unsettled.pop(path, None)
        try:
            info = path.stat()
        except OSError:
            self.files.pop(path, None)
            return
        fingerprint = (info.st_size, info.st_mtime_ns, info.st_ino)
        seen = self.files.get(path)
        if seen is not None and seen.fingerprint == fingerprint:
            return
        written_ago = now - info.st_mtime
        if written_ago < self.settle_s:
            self.unsettled[path] = info.st_mtime + self.settle_s
            return
        outcome = read_outcome(path, site=self.site, seen_at=self.clock.now())
        if outcome.error is not None and written_ago < REFUSAL_GRACE_S:
            self.unsettled[path] = info.st_mtime + REFUSAL_GRACE_S  # maybe half-written
            return
        self.files[path] = _Seen(fingerprint, outcome)


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


async def watch_folder(
    view: FolderView, *, clock: Clock, rescan_s: float, stop: asyncio.Event
) -> AsyncIterator[Snapshot]:
    """Yield a snapshot at start and after every change, until `stop` is set.

    Events come from the OS (watchfiles); a full rescan every `rescan_s` catches any missed.
    A folder that disappears yields an incomplete snapshot; when it comes back, it is
    watched anew (the old watch saw the old folder).
    """
    await asyncio.to_thread(view.refresh, None)
    while view.unsettled and not stop.is_set():  # the first look is the baseline: let it settle
        await sleep_or(clock, view.settle_s, stop)
        await asyncio.to_thread(view.refresh, ())
    snapshot = view.snapshot()
    yield snapshot
    last_full = clock.now()
    is_told = False  # that the folder is missing, once until it comes back
    while not stop.is_set():
        identity = _identity(view.site.posts_dir)
        if identity is None:
            if not is_told:
                log.warning("the posts folder %s is missing; waiting for it", view.site.posts_dir)
                is_told = True
            if snapshot.is_complete:
                snapshot = view.snapshot()
                yield snapshot
            await sleep_or(clock, 0.5, stop)
            continue
        is_told = False
        if not snapshot.is_complete:  # back after going missing: see what it holds now
            fresh = await asyncio.to_thread(view.refresh, None)
            snapshot = view.snapshot() if fresh is None else fresh
            yield snapshot
        log.info("watching %s", view.site.posts_dir)
        first_tick = True  # the watch is live from here: look again at anything written before
        async for changes in awatch(
            view.site.posts_dir,
            stop_event=stop,
            step=EVENT_STEP_MS,
            rust_timeout=TICK_MS,
            yield_on_timeout=True,
            ignore_permission_denied=True,
        ):
            # Gone from under the watch: its own deletion event, or another folder in its place
            # (an inode number alone can be reused at once by the folder that replaces it).
            root_deleted = (Change.deleted, str(view.site.posts_dir)) in changes
            moved = root_deleted or _identity(view.site.posts_dir) != identity
            full = first_tick or moved or (clock.now() - last_full).total_seconds() >= rescan_s
            first_tick = False
            if full:
                last_full = clock.now()
            if changes or full or view.unsettled:
                paths = None if full else {Path(path) for _, path in changes}
                if (fresh := await asyncio.to_thread(view.refresh, paths)) is not None:
                    snapshot = fresh
                    yield snapshot
            if moved:
                break  # watch the folder that is there now
