"""Keeps the archive in step with the posts folder and the clock: decide, record, log, wake."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial

from bot.clock import Clock, sleep_or
from bot.config import BotSettings, SiteConfig
from bot.faults import StoreFaults
from bot.publish import Plan, Snapshot, decide
from bot.storage import Archive, StoreUnavailable

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
        on_push: Callable[[], None] = lambda: None,
        on_notice: Callable[[str], None] = lambda _text: None,
        faults: StoreFaults | None = None,
    ) -> None:
        self.archive = archive
        self.site = site  # what the posts' links are made of (site_identity), remembered
        self.rules = rules
        self.clock = clock
        self.on_push = on_push  # tells delivery there is work
        self.on_notice = on_notice  # tells admins (refused files, bursts), once each
        self.faults = faults or StoreFaults(clock, on_notice=on_notice)  # storage away: retried
        self.synced = asyncio.Event()  # set once the first snapshot is written
        self.snapshot: Snapshot | None = None
        self.next_due: datetime | None = None
        self._lock = asyncio.Lock()
        self._rescheduled = asyncio.Event()

    async def sync(self, snapshot: Snapshot | None = None) -> Plan:
        """Decide on `snapshot` (default: the last one) at the clock's now, write and log it."""
        async with self._lock:
            if snapshot is not None:
                self.snapshot = snapshot
            if self.snapshot is None:
                return Plan()
            now = self.clock.now()
            is_first_run = await self.archive.is_first_run()
            if is_first_run and not self.snapshot.is_complete:
                self.synced.set()  # commands may answer (nothing yet); the banner may say why
                return Plan()  # no folder, no baseline: its posts must not all look new later
            known_refusals = await self.archive.refusals()
            known_site = await self.archive.site()
            links_moved = known_site not in (None, self.site) and self.snapshot.is_complete
            known = await self.archive.records()
            plan = decide(
                known,
                self.snapshot,
                now=now,
                rules=self.rules,
                is_first_run=is_first_run,
                recent_alerts=await self.archive.recent_alerts(now),
                links_moved=links_moved,
            )
            is_new_site = known_site != self.site and self.snapshot.is_complete
            await self.archive.record_scan(
                plan, self.snapshot.refused, now=now, site=self.site if is_new_site else None
            )
            _log(plan)
            notices = list(plan.notices)
            if links_moved:
                relinked = sum(
                    1 for r in plan.records
                    if r.post.key in known and known[r.post.key].post.url != r.post.url
                )  # fmt: skip
                notices.append(_moved(known_site or "", self.site, relinked))
            for error in self.snapshot.refused:
                old = known_refusals.get(error.path)
                if old is None or (old.reason, old.line) != (error.reason, error.line):
                    log.warning("refused %s", error)
                    notices.append(f"refused {error}")
            for notice in notices:
                self.on_notice(notice)
            self.next_due = plan.next_due
            self._rescheduled.set()
            self.synced.set()
            if plan.pushes or plan.cancelled:
                self.on_push()
            return plan

    async def follow(
        self, snapshots: AsyncIterator[Snapshot], stop: asyncio.Event | None = None
    ) -> None:
        """Sync on every snapshot the watcher yields; while storage is away, retry the last
        (until `stop`: the next start reads the folder again)."""
        async for snapshot in snapshots:
            if not await self._recorded(partial(self.sync, snapshot), stop):
                return

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


def _moved(was: str, now: str, moved: int) -> str:
    log.warning("the site's links changed: %s -> %s", was, now)
    return (
        f"the site's links changed ({was} -> {now}): {moved:,} posts now link to the new "
        "address; messages already sent keep their links (no corrections are sent for this)"
    )


def _log(plan: Plan) -> None:
    for decision in plan.decisions:
        detail = f" {decision.detail}" if decision.detail else ""
        log.info("%s post=%s%s", decision.verdict, decision.key, detail)
    for notice in plan.notices:
        log.warning("notice: %s", notice)
