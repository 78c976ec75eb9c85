"""The store on real SQLite files: migrations, round trips, cancellation, crashes, one instance."""

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

from bot.errors import PostError
from bot.instance import AlreadyRunning, lock_path, single_instance
from bot.model import NewPush, PostState, PushKind, Record
from bot.publish import Plan
from bot.schema import MIGRATIONS, SCHEMA_VERSION
from bot.store import Store, StoreError
from tests.conftest import REPO
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
    async with Store.open(database) as store:
        assert await store.is_first_run()
        assert await store.records() == {}
    assert rows(database, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(database, "PRAGMA journal_mode") == [("wal",)]
    tables = {
        name for (name,) in rows(database, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert tables == {"meta", "posts", "refused", "pushes", "targets", "subscriptions", "outbox"}


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
async def test_every_older_version_migrates_keeping_its_data(tmp_path: Path, version: int) -> None:
    """A database left at any older version is brought up to date with its posts intact."""
    database = tmp_path / "old.db"
    async with Store.open(database) as store:
        await store.apply(Plan(records=(record("kept"),)), (), now=T0)
    with sqlite3.connect(database) as db:  # rebuild it as that version wrote it
        db.executescript(
            "".join(
                f"DROP TABLE IF EXISTS {t};"
                for t in ("outbox", "subscriptions", "targets", "pushes")
            )
        )
        db.execute(f"PRAGMA user_version = {version}")
    async with Store.open(database) as store:
        assert set(await store.records()) == {"kept"}
    assert rows(database, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert len(MIGRATIONS) == SCHEMA_VERSION


async def test_a_database_from_a_newer_sokbo_is_refused(tmp_path: Path) -> None:
    """A schema this code does not know stops sokbo instead of being damaged."""
    database = tmp_path / "future.db"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="written by a newer sokbo"):
        async with Store.open(database):
            pass


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A non-SQLite file at the database path is a clear error."""
    database = tmp_path / "sokbo.db"
    database.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=r"sokbo\.db: file is not a database"):
        async with Store.open(database):
            pass


async def test_records_round_trip(tmp_path: Path) -> None:
    """Every field of a record, offsets and tuples included, reads back as written."""
    original = record("a", post=replace(post("a", at=T0), date=datetime(2024, 7, 13, 9, 30, tzinfo=SEOUL),
                                         categories=("정치", "경제"), notes=("note",), image_url="https://x.org/a.jpg"))  # fmt: skip
    scheduled = record("b", state=PostState.SCHEDULED, is_alerted=False, pushed_at=None)
    async with Store.open(tmp_path / "s.db") as store:
        await store.apply(Plan(records=(original, scheduled)), (), now=T0)
        known = await store.records()
    assert known == {"a": original, "b": scheduled}
    assert known["a"].post.date.utcoffset() == timedelta(hours=9)


async def test_pushes_are_created_and_cancelled_with_their_outbox_rows(tmp_path: Path) -> None:
    """Cancelling a post's pushes marks pending pushes and unsent outbox rows, not sent ones."""
    database = tmp_path / "s.db"
    async with Store.open(database) as store:
        await store.apply(
            Plan(records=(record("a"),), pushes=(NewPush("a", PushKind.ALERT),)), (), now=T0
        )
        assert await store.recent_alerts(T0 + timedelta(seconds=59)) == 1
        assert await store.recent_alerts(T0 + timedelta(seconds=61)) == 0
        await store.apply(Plan(pushes=(NewPush("a", PushKind.CORRECTION),)), (), now=T0)
    with sqlite3.connect(database) as db:  # the outbox as delivery fills it: one row a target
        for target, status in enumerate(("sent", "pending", "retry"), start=1):
            db.execute(
                "INSERT INTO targets (platform, address, created_at) VALUES ('console', ?, 'x')",
                (str(target),),
            )
            db.execute("INSERT INTO outbox (push_id, target_id, status, next_attempt_at, created_at, updated_at) "
                       "VALUES (1, ?, ?, 'x', 'x', 'x')", (target, status))  # fmt: skip
    async with Store.open(database) as store:
        await store.apply(Plan(cancelled=("a",)), (), now=T0 + timedelta(minutes=1))
        summary = await store.summary()
    assert rows(database, "SELECT kind, status FROM pushes ORDER BY id") == [
        ("alert", "cancelled"),
        ("correction", "cancelled"),
    ]
    assert rows(database, "SELECT status FROM outbox ORDER BY id") == [
        ("sent",),
        ("cancelled",),
        ("cancelled",),
    ]
    assert summary.pushes_pending == 0


async def test_a_rename_keeps_the_post_and_its_pushes(tmp_path: Path) -> None:
    """A renamed key is the same row: its pushes follow it."""
    database = tmp_path / "s.db"
    async with Store.open(database) as store:
        await store.apply(
            Plan(records=(record("old"),), pushes=(NewPush("old", PushKind.ALERT),)), (), now=T0
        )
        moved = record("new", post=replace(post("old", at=T0), key="new"))
        await store.apply(Plan(records=(moved,), renames=(("old", "new"),)), (), now=T0)
        assert set(await store.records()) == {"new"}
    assert rows(database, "SELECT p.key FROM pushes JOIN posts p ON p.id = pushes.post_id") == [
        ("new",)
    ]


async def test_refusals_are_replaced_and_keep_their_first_sighting(tmp_path: Path) -> None:
    """The refused table mirrors the folder; an unchanged refusal keeps its first time."""
    broken = PostError("a.md", "invalid YAML", line=3)
    async with Store.open(tmp_path / "s.db") as store:
        await store.apply(Plan(), (broken,), now=T0)
        await store.apply(
            Plan(), (broken, PostError("b.md", "empty file")), now=T0 + timedelta(minutes=1)
        )
        refusals = await store.refusals()
        assert refusals["a.md"].first_seen == T0
        assert (refusals["a.md"].reason, refusals["a.md"].line) == ("invalid YAML", 3)
        await store.apply(Plan(), (PostError("b.md", "empty file"),), now=T0 + timedelta(minutes=2))
        assert set(await store.refusals()) == {"b.md"}
        summary = await store.summary()
    assert summary.last_scan == T0 + timedelta(minutes=2)
    assert [r.path for r in summary.refused] == ["b.md"]


async def test_a_failed_apply_writes_nothing(tmp_path: Path) -> None:
    """A plan that fails half way (a row SQLite rejects) leaves no trace of its first half."""
    broken = record("b", post=replace(post("b", at=T0), title=None))  # type: ignore[arg-type]
    async with Store.open(tmp_path / "s.db") as store:
        await store.apply(Plan(records=(record("x"),)), (), now=T0)
        with pytest.raises(sqlite3.IntegrityError):
            await store.apply(
                Plan(renames=(("x", "y"),), records=(record("ok"), broken)), (), now=T0
            )
        assert set(await store.records()) == {"x"}


CRASHER = textwrap.dedent(
    """
    import asyncio, sys
    from dataclasses import replace
    from pathlib import Path
    from bot.model import NewPush, PushKind
    from bot.publish import Plan
    from bot.store import Store
    from tests.test_store import T0, record
    async def main():
        async with Store.open(Path(sys.argv[1])) as store:
            for n in range(100_000):
                plan = Plan(records=(record(f"p{n}"),), pushes=(NewPush(f"p{n}", PushKind.ALERT),))
                await store.apply(plan, (), now=T0)
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
    async with Store.open(database) as store:
        known = await store.records()
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


async def test_a_write_cancelled_at_any_step_ends_cancelled(tmp_path: Path) -> None:
    """Cancelled anywhere in its transaction, a write raises CancelledError and the store goes on.

    A statement whose caller is cancelled still runs in aiosqlite's thread: a BEGIN left open
    once blocked every later write, and a finished COMMIT made the rollback fail ("cannot
    rollback"), turning a clean stop into a crash. Whatever was committed is whole.
    """
    database = tmp_path / "s.db"
    async with Store.open(database) as store:
        for steps in range(60):
            plan = Plan(records=tuple(record(f"k{steps}-{n}") for n in range(3)))
            task = asyncio.create_task(store.apply(plan, (), now=T0))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.apply(Plan(records=(record("after"),)), (), now=T0)
    writes = (
        "SELECT COUNT(*) FROM posts WHERE key LIKE 'k%' GROUP BY substr(key, 1, instr(key, '-'))"
    )
    assert all(count == (3,) for count in rows(database, writes))  # each write whole or absent
    assert rows(database, "SELECT key FROM posts WHERE key = 'after'") == [("after",)]
