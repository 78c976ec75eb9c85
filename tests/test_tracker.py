"""The tracker on a real SQLite file and a fake clock: decisions written, scheduled posts woken on time."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import BotSettings
from bot.errors import PostError
from bot.model import PostState, PushKind
from bot.publish import Snapshot, Verdict
from bot.sqlite import open_sqlite
from bot.tracker import Tracker
from tests.fakes import FakeClock, settle, until
from tests.test_publish import post
from tests.test_store import rows

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


async def test_a_scheduled_post_is_pushed_by_the_timer_not_a_rescan(tmp_path: Path) -> None:
    """With no new snapshot at all, the timer wakes at the post's date and pushes it."""
    clock = FakeClock(T0)
    database = tmp_path / "s.db"
    async with open_sqlite(database) as storage:
        store = storage.archive
        tracker = Tracker(store, BotSettings(), clock)
        await tracker.sync(Snapshot(()))
        await tracker.sync(Snapshot((post("later", age=-timedelta(hours=2), at=T0),)))
        stop = asyncio.Event()
        timer = asyncio.create_task(tracker.keep_time(stop))
        await settle()
        assert clock.wake_times == [T0 + timedelta(hours=2)]
        clock.advance(hours=1, minutes=59)
        await settle()
        assert rows(database, "SELECT COUNT(*) FROM pushes") == [(0,)]
        clock.advance(minutes=1)
        await until(lambda: rows(database, "SELECT COUNT(*) FROM pushes") == [(1,)])
        assert rows(database, "SELECT kind, status, created_at FROM pushes") == [
            ("alert", "pending", (T0 + timedelta(hours=2)).isoformat(timespec="microseconds"))
        ]
        assert (await store.records())["later"].state is PostState.PUBLISHED
        stop.set()
        await timer


async def test_an_earlier_schedule_wakes_the_timer_early(tmp_path: Path) -> None:
    """A post scheduled sooner than the one the timer waits for is pushed first, on its time."""
    clock = FakeClock(T0)
    database = tmp_path / "s.db"
    async with open_sqlite(database) as storage:
        store = storage.archive
        tracker = Tracker(store, BotSettings(), clock)
        await tracker.sync(Snapshot(()))
        late = post("late", age=-timedelta(hours=5), at=T0)
        await tracker.sync(Snapshot((late,)))
        stop = asyncio.Event()
        timer = asyncio.create_task(tracker.keep_time(stop))
        await settle()
        assert clock.wake_times == [T0 + timedelta(hours=5)]
        await tracker.sync(Snapshot((late, post("soon", age=-timedelta(minutes=10), at=T0))))
        await settle()
        assert clock.wake_times == [T0 + timedelta(minutes=10)]
        clock.advance(minutes=10)
        await until(lambda: clock.wake_times == [T0 + timedelta(hours=5)])
        clock.advance(hours=4, minutes=50)
        await until(lambda: rows(database, "SELECT COUNT(*) FROM pushes") == [(2,)])
        stop.set()
        await timer
    pushed = rows(
        database,
        "SELECT p.key, pushes.created_at FROM pushes JOIN posts p ON p.id = post_id ORDER BY pushes.id",
    )
    assert pushed == [("soon", (T0 + timedelta(minutes=10)).isoformat(timespec="microseconds")),
                      ("late", (T0 + timedelta(hours=5)).isoformat(timespec="microseconds"))]  # fmt: skip


async def test_every_decision_and_refusal_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each decision is one INFO line with the key; a refusal is logged once, not every scan."""
    caplog.set_level(logging.INFO, logger="bot.tracker")
    clock = FakeClock(T0)
    broken = PostError("broken.md", "invalid YAML: could not find expected ':'", line=3)
    async with open_sqlite(tmp_path / "s.db") as storage:
        store = storage.archive
        told: list[str] = []
        tracker = Tracker(store, BotSettings(), clock, on_notice=told.append)
        await tracker.sync(Snapshot((post("a", at=T0),), (broken,)))
        clock.advance(minutes=1)
        await tracker.sync(Snapshot((post("a", at=T0), post("b", at=T0)), (broken,)))
        await tracker.sync(Snapshot((post("a", at=T0), post("b", at=T0)), (broken,)))
    messages = [record.getMessage() for record in caplog.records]
    assert told == ["refused broken.md:3: invalid YAML: could not find expected ':'"]
    assert messages == [
        "archived post=a",
        "refused broken.md:3: invalid YAML: could not find expected ':'",
        "new post=b",
    ]


async def test_no_baseline_is_taken_while_the_folder_is_missing(tmp_path: Path) -> None:
    """A first start before the folder exists records nothing; the folder's arrival is the baseline."""
    clock = FakeClock(T0)
    async with open_sqlite(tmp_path / "s.db") as storage:
        store = storage.archive
        tracker = Tracker(store, BotSettings(), clock)
        assert (await tracker.sync(Snapshot((), is_complete=False))).is_empty
        assert await store.is_first_run()
        plan = await tracker.sync(Snapshot((post("a", at=T0), post("b", at=T0))))
    assert plan.pushes == ()
    assert {d.verdict for d in plan.decisions} == {Verdict.ARCHIVED}


async def test_a_new_site_address_updates_links_without_corrections(tmp_path: Path) -> None:
    """Run with another site URL: links are updated, no sent message is edited, admins told once."""
    clock = FakeClock(T0)
    old_site, new_site = (
        '["https://news.example.com", "date", []]',
        '["http://localhost:4000", "date", []]',
    )
    async with open_sqlite(tmp_path / "s.db") as storage:
        store = storage.archive
        await Tracker(store, BotSettings(), clock, site=old_site).sync(Snapshot(()))
        pushed = await Tracker(store, BotSettings(), clock, site=old_site).sync(
            Snapshot((post("a", at=T0, url="https://news.example.com/a/"),))
        )
        assert [push.kind for push in pushed.pushes] == [PushKind.ALERT]
        told: list[str] = []
        moved = Tracker(store, BotSettings(), clock, site=new_site, on_notice=told.append)
        plan = await moved.sync(Snapshot((post("a", at=T0, url="http://localhost:4000/a/"),)))
        assert plan.pushes == ()
        assert (await store.record("a")).post.url == "http://localhost:4000/a/"  # type: ignore[union-attr]
        assert told == [
            f"the site's links changed ({old_site} -> {new_site}): the links of 1 post now "
            "point to the new address; messages already sent keep their links (no corrections "
            "are sent for this)"
        ]
        edited = await moved.sync(
            Snapshot(
                (
                    post(
                        "a", at=T0, url="http://localhost:4000/a/", title="Fixed", content_hash="h2"
                    ),
                )
            )
        )
        assert [push.kind for push in edited.pushes] == [PushKind.CORRECTION]
        assert len(told) == 1


async def test_a_scan_waits_out_a_locked_database_and_loses_nothing(tmp_path: Path) -> None:
    """Another process holds the database: the scan is retried with backoff (told once), and
    recorded whole when the lock goes; the service never stops."""
    clock = FakeClock(T0)
    database = tmp_path / "s.db"
    told: list[str] = []
    async with open_sqlite(database, busy_timeout_ms=20) as storage:
        tracker = Tracker(storage.archive, BotSettings(), clock, on_notice=told.append)
        await tracker.sync(Snapshot(()))  # the baseline
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")

        async def one_snapshot() -> AsyncIterator[Snapshot]:
            yield Snapshot((post("fresh", at=T0),))

        follow = asyncio.create_task(tracker.follow(one_snapshot()))
        await until(lambda: len(told) == 1)
        assert told[0].startswith("storage unavailable: ")
        assert "locked" in told[0]
        clock.advance(seconds=10)  # more tries while it is held: still one notice
        await settle()
        holder.execute("ROLLBACK")
        holder.close()
        for _ in range(6):
            clock.advance(seconds=30)
            await settle()
        await follow
        assert told[1:] == [told[1]]
        assert told[1].startswith("storage is back after")
        assert (await storage.archive.records())["fresh"].state is PostState.PUBLISHED
    assert rows(database, "SELECT kind FROM pushes") == [("alert",)]


async def test_a_stop_while_the_database_is_locked_ends_the_tracker(tmp_path: Path) -> None:
    """SIGTERM during a storage fault: the tracker stops retrying at once; nothing is half
    written (the next start reads the folder again)."""
    clock, stop = FakeClock(T0), asyncio.Event()
    database = tmp_path / "s.db"
    async with open_sqlite(database, busy_timeout_ms=20) as storage:
        tracker = Tracker(storage.archive, BotSettings(), clock)
        await tracker.sync(Snapshot(()))
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")

        async def one_snapshot() -> AsyncIterator[Snapshot]:
            yield Snapshot((post("fresh", at=T0),))

        follow = asyncio.create_task(tracker.follow(one_snapshot(), stop))
        await until(lambda: bool(clock.wake_times))  # waiting to try again
        stop.set()
        await asyncio.wait_for(follow, timeout=5)
        holder.execute("ROLLBACK")
        holder.close()
        assert "fresh" not in await storage.archive.records()


async def test_the_first_run_logs_the_archive_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A site's archive is one log line on the first run, not a line a post."""
    caplog.set_level(logging.INFO, logger="bot.tracker")
    async with open_sqlite(tmp_path / "s.db") as storage:
        tracker = Tracker(storage.archive, BotSettings(), FakeClock(T0))
        posts = tuple(post(f"2026-{n:03}", at=T0, age=timedelta(days=n + 1)) for n in range(30))
        await tracker.sync(Snapshot((*posts, post("fresh", at=T0))))
    archived = [r.getMessage() for r in caplog.records if r.getMessage().startswith("archived")]
    assert archived == ["archived 31 posts (2026-029 … fresh)"]
