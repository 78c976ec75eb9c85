"""Holds new posts' first alerts until their pages answer: probes the site, lets them go, tells."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock, sleep_or
from bot.config import SiteConfig
from bot.faults import StoreFaults
from bot.liveness import Answer, Probe, Step, Waiting, next_probe_s, page_url, site_image, step
from bot.storage import Outbox, StoreUnavailable

PROBES_IN_FLIGHT = 4  # requests to the site at once, however many posts wait

log = logging.getLogger(__name__)


class Prober(Protocol):
    """What the live check asks of the network."""

    async def probe(self, url: str) -> Probe:
        """Open `url` as a reader's browser or a preview fetcher would, and say what answered."""
        ...


@dataclass
class _Track:
    """A waiting alert's probing, in memory (a restart starts probing it afresh)."""

    probes: int = 0
    next_at: datetime | None = None  # None: at once
    last: str = ""  # what its page answered last


class LiveCheck:
    """Probes the pages of the first alerts that wait for them, with backoff, and lets each go
    when its page answers 200, when the site cannot be reached at all, or when waiting is over
    (`site.live_timeout_minutes`; held instead with `site.on_live_timeout = "hold"`)."""

    def __init__(
        self,
        outbox: Outbox,
        site: SiteConfig,
        clock: Clock,
        *,
        prober: Prober,
        on_live: Callable[[], None] = lambda: None,
        on_notice: Callable[[str], None] = lambda _text: None,
        faults: StoreFaults | None = None,
    ) -> None:
        self.outbox = outbox
        self.site = site
        self.clock = clock
        self.prober = prober
        self.on_live = on_live  # tells delivery there is work
        self.on_notice = on_notice
        self.faults = faults or StoreFaults(clock, on_notice=on_notice)
        self.timeout = timedelta(minutes=site.live_timeout_minutes)
        self.site_down: str | None = None  # why the site cannot be reached, while it cannot
        self.looked = asyncio.Event()  # set once the site's root was probed at start
        self._tracks: dict[int, _Track] = {}
        self._woken = asyncio.Event()
        self._requests = asyncio.Semaphore(PROBES_IN_FLIGHT)

    def wake(self) -> None:
        """New alerts may be waiting: look now."""
        self._woken.set()

    def deployed(self) -> None:
        """The site was just deployed (its host's webhook said so): probe every waiting page now."""
        for track in self._tracks.values():
            track.next_at = None
        self._woken.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Probe waiting pages until `stop`: at once when an alert starts waiting, then with
        backoff; storage away is retried (nothing is released until it is back)."""
        await self._look_at_site()
        while not stop.is_set():
            self._woken.clear()
            try:
                delay = await self.faults.retry(self.round, stop=stop)
            except StoreUnavailable:  # stopping while storage is away: nothing was released
                return
            await sleep_or(self.clock, delay, self._woken, stop)

    async def round(self) -> float | None:
        """Probe the waiting pages that are due; return seconds until the next is (None:
        nothing waits)."""
        waiting = await self.outbox.waiting()
        self._tracks = {w.push_id: self._tracks.get(w.push_id, _Track()) for w in waiting}
        now = self.clock.now()
        due = [w for w in waiting if (at := self._tracks[w.push_id].next_at) is None or at <= now]
        steps = await asyncio.gather(*(self._probe(w) for w in due))
        released = 0
        for waiting_alert, (done, answer) in zip(due, steps, strict=True):
            released += await self._apply(waiting_alert, done, answer)
        if released:
            self.on_live()
        pending = [t.next_at for t in self._tracks.values() if t.next_at is not None]
        if len(pending) < len(self._tracks):
            return 0.0
        return None if not pending else max(0.0, (min(pending) - self.clock.now()).total_seconds())

    async def _look_at_site(self) -> None:
        """Probe the site's root once at start: a site that cannot be reached is said now."""
        try:
            probe = await self._ask(self.site.url + "/")
            if probe.answer is Answer.UNREACHABLE:
                self._went_down(probe.detail, None)
        finally:
            self.looked.set()

    async def _probe(self, waiting: Waiting) -> tuple[Step, Probe]:
        """One round for one alert: its page, then (if the page answers) its site image, or
        (if the page's host cannot be reached) the site's root."""
        page = await self._ask(page_url(waiting.url, self.site.link_params))
        image = root = None
        if page.answer is Answer.LIVE and (url := site_image(waiting.image_url, self.site.url)):
            image = await self._ask(url)
            image = Probe(image.answer, f"{image.detail} for its image {url}")
        if page.answer is Answer.UNREACHABLE:
            root = await self._ask(self.site.url + "/")
        waited = self.clock.now() - waiting.since
        return step(page, image, root, waited=waited, timeout=self.timeout), image or page

    async def _ask(self, url: str) -> Probe:
        async with self._requests:
            probe = await self.prober.probe(url)
        if probe.answer is not Answer.UNREACHABLE and self.site_down is not None:
            self._came_back()
        return probe

    async def _apply(self, waiting: Waiting, done: Step, probe: Probe) -> int:
        """Record one alert's round: released (1) or probed again later (0)."""
        track = self._tracks[waiting.push_id]
        track.probes += 1
        track.last = probe.detail
        waited = self.clock.now() - waiting.since
        if done is Step.RELEASE:
            return await self._release(waiting, f"its page answers, after {_span(waited)}")
        if done is Step.SITE_DOWN:
            self._went_down(probe.detail, waiting)
            return await self._release(waiting, "the site cannot be reached")
        if done is Step.TIMED_OUT and self.site.on_live_timeout == "push":
            self.on_notice(_timed_out(waiting, probe, waited, held=False))
            log.warning("pushing %s without its page: %s", waiting.key, probe.detail)
            return await self._release(waiting, "waiting is over")
        if done is Step.TIMED_OUT and waiting.told != "timeout":
            self.on_notice(_timed_out(waiting, probe, waited, held=True))
            log.warning("holding %s: its page still answers %s", waiting.key, probe.detail)
            await self.outbox.tell(waiting.push_id, "timeout")
        elif track.probes == 1:
            log.info("waiting for the page of %s (%s)", waiting.key, probe.detail)
            if waiting.is_scheduled and waiting.told is None:
                self.on_notice(_rebuild(waiting, probe, self.timeout))
                await self.outbox.tell(waiting.push_id, "rebuild")
        track.next_at = self.clock.now() + timedelta(seconds=next_probe_s(track.probes))
        return 0

    async def _release(self, waiting: Waiting, why: str) -> int:
        track = self._tracks.pop(waiting.push_id)
        if not await self.outbox.release(waiting.push_id):
            return 0  # cancelled meanwhile (deleted, unpublished, reposted)
        log.info("pushing %s: %s (%d probes)", waiting.key, why, track.probes)
        return 1

    def _went_down(self, detail: str, waiting: Waiting | None) -> None:
        if self.site_down is not None:
            return
        self.site_down = detail
        which = "" if waiting is None else f"{waiting.key} is pushed without its page; "
        log.warning("the site %s cannot be reached (%s)", self.site.url, detail)
        self.on_notice(
            f"the site {self.site.url} cannot be reached ({detail}): {which}new posts are "
            "pushed at once, without waiting for their pages, until it answers"
        )

    def _came_back(self) -> None:
        log.info("the site %s answers again (was: %s)", self.site.url, self.site_down)
        self.site_down = None
        self.on_notice(f"the site {self.site.url} answers again: new posts wait for their pages")


def _timed_out(waiting: Waiting, probe: Probe, waited: timedelta, *, held: bool) -> str:
    what = (
        f'held until it answers (site.on_live_timeout = "hold"); /repost {waiting.key} sends it'
        if held
        else "pushed anyway"
    )
    text = f"{waiting.key}: its page {waiting.url} still answers {probe.detail} after "
    text += f"{_span(waited)}: {what}"
    if waiting.is_scheduled:
        text += f". {_JEKYLL_FUTURE}"
    return text


def _rebuild(waiting: Waiting, probe: Probe, timeout: timedelta) -> str:
    return (
        f"{waiting.key} is due, but its page {waiting.url} answers {probe.detail}. "
        f"{_JEKYLL_FUTURE} Waiting up to {_span(timeout)}."
    )


_JEKYLL_FUTURE = (
    "Jekyll leaves out a post dated in the future and does not build again when its date "
    "arrives: the site needs a rebuild (push a commit, or re-run the Pages build)."
)


def _span(waited: timedelta) -> str:
    seconds = int(waited.total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"
