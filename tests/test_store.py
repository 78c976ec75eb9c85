"""The SQLite backend on real files: migrations, upgrades, cancellation, crashes, one instance."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from telegram import Bot

from bot.clock import SystemClock
from bot.config import Config, SiteConfig
from bot.delivery import Delivery
from bot.instance import AlreadyRunning, lock_path, single_instance
from bot.lookup import fold
from bot.model import DiscordOptions, NewPush, PostState, PushKind, Record, TelegramOptions
from bot.platforms.telegram.send import TelegramPlatform
from bot.publish import Plan
from bot.sqlite import open_sqlite
from bot.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from bot.storage import StoreError
from tests.conftest import REPO
from tests.fake_telegram import FakeTelegram, Sent
from tests.test_publish import post

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SEOUL = timezone(timedelta(hours=9))


def record(key: str, **changes: object) -> Record:
    """A published, pushed record for post `key`."""
    base = Record(
        post(key, at=T0), PostState.PUBLISHED, first_seen=T0, is_alerted=True, pushed_at=T0
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rows(database: Path, query: str) -> list[tuple[object, ...]]:
    """Run a read query with the standard library, as an outside reader would."""
    with sqlite3.connect(database) as db:
        return db.execute(query).fetchall()


async def test_a_new_file_is_migrated_to_the_latest_schema(tmp_path: Path) -> None:
    """Opening a missing file creates it in WAL mode at the current schema version."""
    database = tmp_path / "sokbo.db"
    async with open_sqlite(database) as storage:
        assert await storage.archive.is_first_run()
        assert await storage.archive.records() == {}
    assert rows(database, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(database, "PRAGMA journal_mode") == [("wal",)]
    tables = {
        name for (name,) in rows(database, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert tables == {
        "meta", "posts", "post_categories", "post_counts", "refused", "files", "pushes", "targets",
        "subscriptions", "outbox",
    }  # fmt: skip


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
async def test_every_older_version_migrates_keeping_its_data(tmp_path: Path, version: int) -> None:
    """A database left at any older version is brought up to date with its posts intact."""
    database = tmp_path / "old.db"
    with sqlite3.connect(database) as db:  # the schema as that version left it, with one post
        db.create_function("sokbo_fold", 1, fold, deterministic=True)  # as sokbo's connection has
        db.executescript("".join(MIGRATIONS[:version]) + f"PRAGMA user_version = {version};")
        db.execute(
            "INSERT INTO posts VALUES (1, 'kept', 'kept.md', 'h', 'Kept', '', '[]', '[]', "
            "'2026-11-22T09:00:00+00:00', '2026-11-22T09:00:00.000000+00:00', 'front_matter', "
            "1, 'https://news.example.com/kept/', NULL, NULL, NULL, '[]', 'published', "
            "'2026-11-22T09:00:00.000000+00:00', 1, NULL, '2026-11-22T09:00:00.000000+00:00')"
        )
    async with open_sqlite(database) as storage:
        assert (await storage.archive.newest(5))[0].post.title == "Kept"
    assert rows(database, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert len(MIGRATIONS) == SCHEMA_VERSION


async def test_a_database_from_a_newer_sokbo_is_refused(tmp_path: Path) -> None:
    """A schema this code does not know stops sokbo instead of being damaged."""
    database = tmp_path / "future.db"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="written by a newer sokbo"):
        async with open_sqlite(database):
            pass


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A non-SQLite file at the database path is a clear error."""
    database = tmp_path / "sokbo.db"
    database.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=r"sokbo\.db: the file is not a database, or is damaged"):
        async with open_sqlite(database):
            pass


async def test_a_failed_apply_writes_nothing(tmp_path: Path) -> None:
    """A plan that fails half way (a row SQLite rejects) leaves no trace of its first half."""
    broken = record("b", post=replace(post("b", at=T0), title=None))  # type: ignore[arg-type]
    async with open_sqlite(tmp_path / "s.db") as storage:
        await storage.archive.record_scan(Plan(records=(record("x"),)), (), now=T0, site=None)
        plan = Plan(renames=(("x", "y"),), records=(record("ok"), broken))
        with pytest.raises(sqlite3.IntegrityError):
            await storage.archive.record_scan(plan, (), now=T0, site=None)
        assert set(await storage.archive.records()) == {"x"}


CRASHER = textwrap.dedent(
    """
    import asyncio, sys
    from dataclasses import replace
    from pathlib import Path
    from bot.model import NewPush, PushKind
    from bot.publish import Plan
    from bot.sqlite import open_sqlite
    from tests.test_store import T0, record
    async def main():
        async with open_sqlite(Path(sys.argv[1])) as storage:
            for n in range(100_000):
                plan = Plan(records=(record(f"p{n}"),), pushes=(NewPush(f"p{n}", PushKind.ALERT),))
                await storage.archive.record_scan(plan, (), now=T0, site=None)
                print(n, flush=True)
    asyncio.run(main())
    """
)


async def test_a_crash_during_writes_loses_nothing_committed(tmp_path: Path) -> None:
    """Killed with SIGKILL while writing: the file opens, and every acknowledged write is there."""
    database = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(database)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert child.stdout is not None
    acknowledged = -1
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 200:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]
    async with open_sqlite(database) as storage:
        known = await storage.archive.records()
    assert all(f"p{n}" in known for n in range(acknowledged + 1))
    pushes = rows(database, "SELECT COUNT(*) FROM pushes")[0][0]
    assert isinstance(pushes, int)
    assert pushes == len(known)  # each post and its push landed together or not at all


def test_one_instance_per_database(tmp_path: Path) -> None:
    """A second holder of the same database is refused at once, naming the first's pid."""
    database = tmp_path / "sokbo.db"
    with single_instance(database):
        with (
            pytest.raises(
                AlreadyRunning,
                match=rf"another sokbo is already running on .*sokbo.db \(pid {os.getpid()}\)",
            ),
            single_instance(database),
        ):
            pass
        with single_instance(tmp_path / "other.db"):
            pass
    with single_instance(database):  # released on exit
        assert lock_path(database).read_text() == str(os.getpid())


def test_one_instance_per_database_file_under_any_name(tmp_path: Path) -> None:
    """A symlink to the database is the same database: its service holds the same lock."""
    database = tmp_path / "sokbo.db"
    database.touch()
    alias = tmp_path / "elsewhere" / "news.db"
    alias.parent.mkdir()
    alias.symlink_to(database)
    with single_instance(database), pytest.raises(AlreadyRunning), single_instance(alias):
        pass
    assert lock_path(alias) == tmp_path.resolve() / "sokbo.db.lock"


async def test_a_write_cancelled_at_any_step_ends_cancelled(tmp_path: Path) -> None:
    """Cancelled anywhere in its transaction, a write raises CancelledError and the store goes on.

    A statement whose caller is cancelled still runs in aiosqlite's thread: a BEGIN left open
    once blocked every later write, and a finished COMMIT made the rollback fail ("cannot
    rollback"), turning a clean stop into a crash. Whatever was committed is whole.
    """
    database = tmp_path / "s.db"
    async with open_sqlite(database) as storage:
        for steps in range(60):
            plan = Plan(records=tuple(record(f"k{steps}-{n}") for n in range(3)))
            task = asyncio.create_task(storage.archive.record_scan(plan, (), now=T0, site=None))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await storage.archive.record_scan(Plan(records=(record("after"),)), (), now=T0, site=None)
    writes = (
        "SELECT COUNT(*) FROM posts WHERE key LIKE 'k%' GROUP BY substr(key, 1, instr(key, '-'))"
    )
    assert all(count == (3,) for count in rows(database, writes))  # each write whole or absent
    assert rows(database, "SELECT key FROM posts WHERE key = 'after'") == [("after",)]


SCHEMA_2 = Path(__file__).parent / "data" / "sokbo-schema-2.sql"
# The messages that version's run left in the fake Bot API: (chat, message id, title, photo).
SENT_BY_SCHEMA_2 = [
    (111, 1, "사진 속보", "https://img.example.com/a.jpg"),
    (-1001234, 2, "사진 속보", "https://img.example.com/a.jpg"),
    (-1001234, 3, "Text news", None),
    (111, 4, "Text news", None),
]


async def test_a_schema_2_database_upgrades_and_its_messages_can_be_corrected(
    tmp_path: Path,
) -> None:
    """A database written before options and message references were typed opens, keeps each
    chat's options, and a correction edits the very messages it sent: captions of photos (the
    image unchanged), texts of text messages."""
    database = tmp_path / "sokbo.db"
    with sqlite3.connect(database) as db:
        db.executescript(SCHEMA_2.read_text(encoding="utf-8"))
    api = FakeTelegram()
    for chat, message_id, title, photo in SENT_BY_SCHEMA_2:
        api.messages[(chat, message_id)] = Sent(chat, message_id, title, photo, {})
    await api.start()
    clock = SystemClock()
    config = Config(site=SiteConfig(url="https://news.example.com"))
    bot = Bot(api.token, base_url=api.url, base_file_url=api.url.replace("/bot", "/file/bot"))
    try:
        async with bot, open_sqlite(database) as storage:
            assert await storage.archive.categories() == [("정치", 2)]  # indexed on upgrade
            assert [r.post.key for r in await storage.archive.newest(5, category="정치")] == [
                "2026-11-30-text", "2026-11-30-photo"
            ]  # fmt: skip
            channel = await storage.chats.target("telegram", "-1001234")
            discord = await storage.chats.target("discord", "998877665544332211")
            assert channel is not None
            assert discord is not None
            assert channel.options == TelegramOptions(7, is_silent=True, link_preview=False)
            assert discord.options == DiscordOptions(123456789012345678, crosspost=True)
            known = await storage.archive.records()
            fixed = tuple(
                replace(r, post=replace(r.post, title=r.post.title + " (수정)"))
                for r in known.values()
            )
            plan = Plan(
                records=fixed, pushes=tuple(NewPush(key, PushKind.CORRECTION) for key in known)
            )
            await storage.archive.record_scan(plan, (), now=clock.now(), site=None)
            platform = TelegramPlatform(bot, config.telegram, clock)
            delivery = Delivery(storage, {"telegram": platform}, config, clock)
            while await delivery.run_once():
                pass
    finally:
        await api.stop()
    edits = sorted(
        (method, int(params["chat_id"]), int(params["message_id"]))
        for method, params in api.requests
        if method.startswith("edit")
    )
    assert edits == [
        ("editMessageCaption", -1001234, 2),
        ("editMessageCaption", 111, 1),
        ("editMessageText", -1001234, 3),
        ("editMessageText", 111, 4),
    ]
    assert all("(수정)" in sent.text for sent in api.messages.values())
    photos = {(chat, message_id): photo for chat, message_id, _, photo in SENT_BY_SCHEMA_2}
    assert {key: sent.photo for key, sent in api.messages.items()} == photos
