"""Keeps the archive in step with the posts folder and the clock: decide, record, log, wake."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from functools import partial

from bot.clock import Clock, sleep_or
from bot.config import BotSettings, SiteConfig
from bot.faults import StoreFaults
from bot.i18n import counted
from bot.model import Record
from bot.publish import Decision, Plan, Snapshot, decide
from bot.source import READER_VERSION
from bot.storage import Archive, StoreUnavailable

LOG_EACH_UP_TO = 20  # decisions of one verdict logged one by one; more are one line
MIN_WAKE_S = 0.05  # never spin: a due time that did not move waits at least this long

log = logging.getLogger(__name__)


class Tracker:
    """Applies the publish state machine whenever the folder changes or a scheduled post is due."""

    def __init__(
        self,
        archive: Archive,
        rules: BotSettings,
        clock: Clock,
        *,
        site: str = "",
        reading: str = "",
        on_push: Callable[[], None] = lambda: None,
        on_notice: Callable[[str], None] = lambda _text: None,
        faults: StoreFaults | None = None,
        hold_alerts: bool = False,
    ) -> None:
        self.archive = archive
        self.hold_alerts = hold_alerts  # first alerts wait for their pages (see live.py)
        self.site = site  # what the posts' links are made of (site_identity), remembered
        self.rules = rules
        self.clock = clock
        self.on_push = on_push  # tells delivery there is work
        self.on_notice = on_notice  # tells admins (refused files, bursts), once each
        self.faults = faults or StoreFaults(clock, on_notice=on_notice)  # storage away: retried
        self.reading = reading  # how files are read: a restart reuses them only if unchanged
        self.synced = asyncio.Event()  # set once the first snapshot is written
        self._has_looked = False
        self.next_due: datetime | None = None
        self._lock = asyncio.Lock()
        self._rescheduled = asyncio.Event()

    async def sync(self, snapshot: Snapshot | None = None) -> Plan:
        """Decide on `snapshot` (default: no file changed, only the time) at the clock's now,
        write and log it. Only the posts it names, the posts whose files it looked at and the
        scheduled posts now due are read from the archive; a whole folder's snapshot reads all.
        """
        async with self._lock:
            if snapshot is None and not self._has_looked:
                return Plan()  # the timer before the first look: no baseline yet
            snapshot = snapshot or Snapshot((), scope=frozenset())
            self._has_looked = True
            now = self.clock.now()
            is_first_run = await self.archive.is_first_run()
            if is_first_run and not snapshot.is_complete:
                self.synced.set()  # commands may answer (nothing yet); the banner may say why
                return Plan()  # no folder, no baseline: its posts must not all look new later
            is_whole = snapshot.scope is None and snapshot.is_complete
            known_site = await self.archive.site()
            links_moved = known_site not in (None, self.site) and is_whole
            snapshot, known = await self._known(snapshot, now)
            plan = decide(
                known,
                snapshot,
                now=now,
                rules=self.rules,
                is_first_run=is_first_run,
                recent_alerts=await self.archive.recent_alerts(now),
                links_moved=links_moved,
            )
            fresh = await self.archive.record_scan(
                plan,
                snapshot.refused,
                now=now,
                site=self.site if is_whole and known_site != self.site else None,
                scope=snapshot.scope,
                files=snapshot.files if snapshot.is_complete and snapshot.is_final else None,
                reading=self.reading if is_whole and snapshot.is_final else None,
                hold_alerts=self.hold_alerts,
            )
            _log(plan)
            notices = list(plan.notices)
            if links_moved:
                relinked = sum(
                    1 for r in plan.records
                    if r.post.key in known and known[r.post.key].post.url != r.post.url
                )  # fmt: skip
                notices.append(_moved(known_site or "", self.site, relinked))
            for error in fresh:
                log.warning("refused %s", error)
                notices.append(f"refused {error}")
            for notice in notices:
                self.on_notice(notice)
            self.next_due = await self.archive.next_due(now)
            self._rescheduled.set()
            self.synced.set()
            if plan.pushes or plan.cancelled:
                self.on_push()
            return plan

    async def _known(self, snapshot: Snapshot, now: datetime) -> tuple[Snapshot, dict[str, Record]]:
        """The snapshot with the scheduled posts now due added, and the known posts it
        involves (every post, for a whole folder)."""
        scope = snapshot.scope
        if scope is None:
            return snapshot, await self.archive.records()
        named = {post.key for post in snapshot.posts}
        due = tuple(
            record.post
            for record in await self.archive.due(now)
            if record.post.key not in named and not snapshot.covers(record.post.path)
        )
        snapshot = replace(snapshot, posts=snapshot.posts + due)
        keys = [post.key for post in snapshot.posts]
        return snapshot, await self.archive.involved(keys, scope)

    async def follow(
        self, snapshots: AsyncIterator[Snapshot], stop: asyncio.Event | None = None
    ) -> None:
        """Sync on every snapshot the watcher yields; while storage is away, retry the last
        (until `stop`: the next start reads the folder again)."""
        async for snapshot in snapshots:
            if not await self._recorded(partial(self.sync, snapshot), stop):
                return
            del snapshot  # a first run's is the whole archive: not kept while the next is read

    async def keep_time(self, stop: asyncio.Event) -> None:
        """Sync when the earliest scheduled post is due (a timer, not the next rescan)."""
        while not stop.is_set():
            self._rescheduled.clear()
            due = self.next_due
            delay = None if due is None else (due - self.clock.now()).total_seconds()
            if delay is not None and delay <= 0:
                if not await self._recorded(self.sync, stop):
                    return
                self._rescheduled.clear()
                if self.next_due == due:  # cannot happen while next_due is in the future
                    await sleep_or(self.clock, MIN_WAKE_S, self._rescheduled, stop)
                continue
            await sleep_or(self.clock, delay, self._rescheduled, stop)

    async def _recorded(
        self, sync: Callable[[], Awaitable[Plan]], stop: asyncio.Event | None
    ) -> bool:
        """Sync, retried while storage is away; False if sokbo stopped first."""
        try:
            await self.faults.retry(sync, stop=stop)
        except StoreUnavailable:  # stopping: nothing was written, nothing is lost
            return False
        return True


def site_identity(site: SiteConfig) -> str:
    """What a post's link is made of; when it changes, links change without being corrections."""
    return json.dumps([site.url, site.permalink, [list(pair) for pair in site.link_params]])


def reading_identity(site: SiteConfig) -> str:
    """Everything a post file's reading depends on besides its bytes: when it changes, every
    file is read again at start instead of trusting what the archive saw."""
    return json.dumps(
        [
            site_identity(site),
            site.timezone,
            str(site.posts_dir.resolve()),
            str(site.site_root.resolve()),
            list(site.ignore_images),
            READER_VERSION,
        ]
    )


def _moved(was: str, now: str, moved: int) -> str:
    log.warning("the site's links changed: %s -> %s", was, now)
    return (
        f"the site's links changed ({was} -> {now}): the links of {counted(moved, 'post')} "
        "now point to the new address; messages already sent keep their links (no corrections "
        "are sent for this)"
    )


def _log(plan: Plan) -> None:
    """A line per decision; a verdict given to many posts at once (the first run's archive, a
    folder read again) is one line saying how many."""
    by_verdict: dict[str, list[Decision]] = {}
    for decision in plan.decisions:
        by_verdict.setdefault(decision.verdict, []).append(decision)
    for verdict, decisions in by_verdict.items():
        if len(decisions) > LOG_EACH_UP_TO:
            first, last = decisions[0].key, decisions[-1].key
            log.info("%s %d posts (%s … %s)", verdict, len(decisions), first, last)
            continue
        for decision in decisions:
            detail = f" {decision.detail}" if decision.detail else ""
            log.info("%s post=%s%s", decision.verdict, decision.key, detail)
    for notice in plan.notices:
        log.warning("notice: %s", notice)
