"""The live check on a real SQLite file, a real HTTP client and a local site, with a fake clock:
a new post's alert goes when its page answers, never before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import BotSettings, SiteConfig
from bot.live import LiveCheck
from bot.model import Post, PushKind
from bot.probe import HttpProber
from bot.publish import Snapshot
from bot.sqlite import open_sqlite
from bot.storage import Storage
from bot.tracker import Tracker
from tests.fake_site import FakeSite, closed_port
from tests.fakes import FakeClock, settle, until
from tests.test_publish import post
from tests.test_store import rows

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PAGE = "/2026/11/22/news/"


@pytest.fixture
async def fake_site() -> AsyncIterator[FakeSite]:
    """The site, answering 404 for every page until the test deploys it."""
    served = FakeSite()
    await served.start()
    yield served
    await served.stop()


@dataclass
class Newsroom:
    """A tracker that holds first alerts, and the live check that lets them go."""

    storage: Storage
    database: Path
    clock: FakeClock
    site: SiteConfig
    live: LiveCheck
    tracker: Tracker
    notices: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def statuses(self) -> list[tuple[str, str]]:
        """Each push's kind and status, as the database has them."""
        query = "SELECT kind, status FROM pushes"
        return [(str(kind), str(status)) for kind, status in rows(self.database, query)]

    def start(self) -> None:
        """Run the live check."""
        self.task = asyncio.create_task(self.live.run(self.stop))

    async def advance(self, **delta: float) -> None:
        """Move the clock on once the live check is asleep (its round is over)."""
        await until(lambda: bool(self.clock.wake_times))
        self.clock.advance(**delta)

    async def publish(self, *posts: Post) -> None:
        """A scan that finds `posts` (the whole folder)."""
        await self.tracker.sync(Snapshot(posts))


@asynccontextmanager
async def newsroom(
    tmp_path: Path, url: str, *, clock: FakeClock | None = None, **site: Any
) -> AsyncIterator[Newsroom]:
    """A baselined archive whose site is `url`, with the live check running."""
    clock = clock or FakeClock(T0)
    config = SiteConfig(posts_dir=tmp_path, url=url, link_params=(("utm_source", "sokbo"),), **site)
    database = tmp_path / "sokbo.db"
    notices: list[str] = []
    async with open_sqlite(database) as storage, HttpProber() as prober:
        tracker = Tracker(storage.archive, BotSettings(), clock, hold_alerts=True)
        await tracker.sync(Snapshot(()))  # the first run: an empty archive
        live = LiveCheck(storage.outbox, config, clock, prober=prober, on_notice=notices.append)
        room = Newsroom(storage, database, clock, config, live, tracker, notices)
        try:
            yield room
        finally:
            room.stop.set()
            if room.task is not None:
                await room.task


def news(url: str, *, key: str = "news", at: datetime = T0, **changes: object) -> Post:
    """A post made a minute before `at`, linking to PAGE on the site at `url`."""
    link = f"{url}{PAGE}?utm_source=sokbo"
    return post(key, at=at, age=timedelta(minutes=1), url=link, **changes)


async def probed(site: FakeSite, path: str, times: int) -> None:
    """Wait until `path` was asked for `times` times (a real request on the local site)."""
    await until(lambda: site.hits(path) >= times)
    await settle()


async def test_an_alert_waits_for_its_page_and_goes_within_one_probe_of_the_deploy(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """404 until deployed: probed at once, then after 3, 5, 10 s …; pushed at the first probe
    after the deploy, never before; the probe asks for the link without tracking parameters."""
    async with newsroom(tmp_path, fake_site.url) as room:
        await room.publish(news(fake_site.url))
        assert room.statuses() == [("alert", "waiting")]
        room.start()
        await probed(fake_site, PAGE, 1)
        assert PAGE in fake_site.requests  # no ?utm_source: the page readers open
        for probes, seconds in ((2, 3), (3, 5), (4, 10)):
            await room.advance(seconds=seconds)
            await probed(fake_site, PAGE, probes)
            assert room.statuses() == [("alert", "waiting")]
        fake_site.deploy(PAGE)
        assert room.clock.wake_times[0] == T0 + timedelta(seconds=3 + 5 + 10 + 20)
        await room.advance(seconds=19)
        await settle()
        assert fake_site.hits(PAGE) == 4
        assert room.statuses() == [("alert", "waiting")]
        await room.advance(seconds=1)
        await until(lambda: room.statuses() == [("alert", "pending")])
        assert fake_site.hits(PAGE) == 5
        assert room.notices == []


async def test_a_page_live_at_the_first_probe_costs_one_request(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """The page is up already: one request for it, and the alert goes."""
    fake_site.deploy(PAGE)
    async with newsroom(tmp_path, fake_site.url) as room:
        await room.publish(news(fake_site.url))
        room.start()
        await until(lambda: room.statuses() == [("alert", "pending")])
        assert fake_site.hits(PAGE) == 1
        assert fake_site.requests == ["/", PAGE]  # the root once at start, then the page


async def test_a_redirect_to_the_canonical_address_counts_as_live(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """The link answers 301 to where the page is; the page there answers 200: live."""
    fake_site.redirect(PAGE, "/canonical/news/")
    fake_site.deploy("/canonical/news/")
    async with newsroom(tmp_path, fake_site.url) as room:
        await room.publish(news(fake_site.url))
        room.start()
        await until(lambda: room.statuses() == [("alert", "pending")])
        assert fake_site.hits("/canonical/news/") == 1


async def test_a_site_image_sent_by_url_must_answer_too(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """The page is up but the image it would send by URL is not yet: the alert waits for it.
    Another host's image is never probed."""
    image = f"{fake_site.url}/assets/img/news.png"
    fake_site.deploy(PAGE)
    async with newsroom(tmp_path, fake_site.url) as room:
        await room.publish(
            news(fake_site.url, image_url=image),
            news(fake_site.url, key="other", image_url="https://cdn.example.net/a.png"),
        )
        room.start()
        await until(lambda: fake_site.hits("/assets/img/news.png") == 1)
        await until(lambda: sorted(room.statuses()) == [("alert", "pending"), ("alert", "waiting")])
        fake_site.deploy("/assets/img/news.png")
        await room.advance(seconds=3)
        await until(lambda: room.statuses() == [("alert", "pending")] * 2)


async def test_past_the_timeout_it_is_pushed_anyway_and_admins_are_told(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """A page that never answers: pushed after live_timeout_minutes, with one notice."""
    async with newsroom(tmp_path, fake_site.url, live_timeout_minutes=1) as room:
        await room.publish(news(fake_site.url))
        room.start()
        await probed(fake_site, PAGE, 1)
        await _advance_until(room, lambda: room.statuses() == [("alert", "pending")], fake_site)
        assert room.clock.now() - T0 >= timedelta(minutes=1)
        assert room.clock.now() - T0 < timedelta(minutes=1, seconds=31)
        [notice] = room.notices
        assert "news: its page" in notice
        assert "HTTP 404" in notice
        assert "pushed anyway" in notice


async def test_with_hold_it_keeps_waiting_past_the_timeout_and_goes_when_live(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """on_live_timeout = "hold": told once at the timeout, held, pushed once the page answers."""
    async with newsroom(
        tmp_path, fake_site.url, live_timeout_minutes=1, on_live_timeout="hold"
    ) as room:
        await room.publish(news(fake_site.url))
        room.start()
        await probed(fake_site, PAGE, 1)
        await _advance_until(room, lambda: bool(room.notices), fake_site)
        assert "held until it answers" in room.notices[0]
        for _ in range(4):  # minutes more of probing: still held, told only once
            await room.advance(seconds=30)
            await probed(fake_site, PAGE, fake_site.hits(PAGE) + 1)
        assert room.statuses() == [("alert", "waiting")]
        assert len(room.notices) == 1
        assert rows(room.database, "SELECT told FROM pushes") == [("timeout",)]
        fake_site.deploy(PAGE)
        await room.advance(seconds=30)
        await until(lambda: room.statuses() == [("alert", "pending")])


async def test_a_site_that_refuses_connections_is_said_and_posts_go_at_once(
    tmp_path: Path,
) -> None:
    """Nothing listens at the site's address: not "not built yet". Admins are told once, and
    the alert goes without waiting."""
    url = f"http://127.0.0.1:{closed_port()}"
    async with newsroom(tmp_path, url) as room:
        room.start()
        await until(room.live.looked.is_set)
        assert room.live.site_down == "connection refused"
        await room.publish(news(url))
        room.live.wake()
        await until(lambda: room.statuses() == [("alert", "pending")])
        [notice] = room.notices
        assert f"the site {url} cannot be reached (connection refused)" in notice


async def test_a_scheduled_post_whose_date_arrives_waits_and_admins_hear_of_the_rebuild(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """Jekyll does not build a post before its date: when the date arrives the page is missing
    until the next build. The alert waits, and admins are told the site needs a rebuild."""
    async with newsroom(tmp_path, fake_site.url) as room:
        later = news(fake_site.url, at=T0 + timedelta(hours=1, minutes=1))
        await room.publish(later)
        assert room.statuses() == []
        room.clock.advance(hours=1)
        await room.tracker.sync()
        assert room.statuses() == [("alert", "waiting")]
        room.start()
        await until(lambda: bool(room.notices))
        assert "news is due, but its page" in room.notices[0]
        assert "the site needs a rebuild" in room.notices[0]
        assert rows(room.database, "SELECT told FROM pushes") == [("rebuild",)]


async def test_a_post_deleted_while_waiting_is_never_pushed(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """Deleted before its page answered: its alert is cancelled, not sent when the page (still
    cached somewhere) answers."""
    async with newsroom(tmp_path, fake_site.url) as room:
        await room.publish(news(fake_site.url))
        room.start()
        await probed(fake_site, PAGE, 1)
        await room.publish()  # the file is gone
        assert room.statuses() == [("alert", "cancelled")]
        fake_site.deploy(PAGE)
        await room.advance(seconds=3)
        await settle()
        assert room.statuses() == [("alert", "cancelled")]
        assert rows(room.database, "SELECT COUNT(*) FROM outbox") == [(0,)]


async def test_a_deploy_event_probes_every_waiting_page_at_once(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """The git host says the site was deployed: waiting pages are probed now, not at their
    next backoff."""
    async with newsroom(tmp_path, fake_site.url) as room:
        await room.publish(news(fake_site.url))
        room.start()
        await probed(fake_site, PAGE, 1)
        fake_site.deploy(PAGE)
        room.live.deployed()
        await until(lambda: room.statuses() == [("alert", "pending")])
        assert room.clock.now() == T0


async def test_waiting_survives_a_restart_and_shows_in_status(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """Stopped while an alert waits: the next start still waits for the page, status says
    since when, and the alert goes once the page answers."""
    clock = FakeClock(T0)
    async with newsroom(tmp_path, fake_site.url, clock=clock) as room:
        await room.publish(news(fake_site.url))
        room.start()
        await probed(fake_site, PAGE, 1)
    clock.advance(minutes=2)
    async with open_sqlite(tmp_path / "sokbo.db") as storage, HttpProber() as prober:
        summary = await storage.reports.summary()
        assert summary.waiting == (("news", T0),)
        fake_site.deploy(PAGE)
        site = SiteConfig(posts_dir=tmp_path, url=fake_site.url)
        live = LiveCheck(storage.outbox, site, clock, prober=prober)
        stop = asyncio.Event()
        task = asyncio.create_task(live.run(stop))
        await until(
            lambda: rows(tmp_path / "sokbo.db", "SELECT status FROM pushes") == [("pending",)]
        )
        assert (await storage.reports.summary()).waiting == ()
        stop.set()
        await task


async def test_a_repost_goes_now_in_place_of_the_waiting_alert(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """/repost of a post whose alert waits: the repost needs no check and goes now; the
    waiting alert is cancelled, so nobody gets the post twice."""
    async with newsroom(tmp_path, fake_site.url) as room:
        await room.publish(news(fake_site.url))
        await room.storage.outbox.queue("news", PushKind.REPOST, now=T0)
        assert room.statuses() == [("alert", "cancelled"), ("repost", "pending")]


async def test_a_correction_of_a_live_post_needs_no_check(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """The page answered once: an edit's correction goes at once, with no probe."""
    fake_site.deploy(PAGE)
    async with newsroom(tmp_path, fake_site.url) as room:
        first = news(fake_site.url)
        await room.publish(first)
        room.start()
        await until(lambda: room.statuses() == [("alert", "pending")])
        asked = len(fake_site.requests)
        await room.publish(replace(first, title="Corrected", content_hash="hash-2"))
        assert room.statuses() == [("alert", "pending"), ("correction", "pending")]
        await settle()
        assert len(fake_site.requests) == asked


async def _advance_until(room: Newsroom, done: Callable[[], bool], site: FakeSite) -> None:
    """Advance the clock probe by probe (each a real request) until `done`."""
    for _ in range(100):
        if done():
            return
        before = site.hits(PAGE)
        await room.advance(seconds=30)
        await until(lambda before=before: site.hits(PAGE) > before or done())  # type: ignore[misc]
        await settle()
    raise AssertionError("never happened")
