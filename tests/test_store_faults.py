"""Storage faults lose nothing: a locked, full, damaged or deleted database, as sokbo meets it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.instance import AlreadyRunning, lock_path, single_instance
from bot.model import MessageRef, NewPush, PushKind
from bot.publish import Plan
from bot.service import KEEP_EVERY_S, keep
from bot.sqlite import open_sqlite
from bot.sqlite.archive import SqliteArchive
from bot.sqlite.connection import open_database
from bot.sqlite.faults import fault
from bot.storage import Storage, StoreError, StoreUnavailable
from tests.conftest import fan_out_queued
from tests.fakes import FakeClock, settle
from tests.test_store import T0, record, rows

RESTORE = "restore it from a backup"
DAMAGED = f"the file is damaged (SQLITE_CORRUPT): {RESTORE}"


def news(*keys: str) -> Plan:
    """A scan that records posts `keys` and queues an alert for each."""
    return Plan(
        records=tuple(record(key) for key in keys),
        pushes=tuple(NewPush(key, PushKind.ALERT) for key in keys),
    )


async def deliver(storage: Storage) -> None:
    """Fan every queued push out and record each delivery as sent."""
    await fan_out_queued(storage, now=T0)
    while jobs := await storage.outbox.claim(now=T0, platforms=["console"], limit=10):
        for job in jobs:
            ref = MessageRef("console", job.target.address, job.row_id)
            await storage.outbox.sent(job, ref, now=T0)


def sqlite_error(kind: type[sqlite3.Error], name: str) -> sqlite3.Error:
    """An error as sqlite3 raises it for result code `name`."""
    error = kind("as SQLite says it")
    error.sqlite_errorcode = getattr(sqlite3, name)
    error.sqlite_errorname = name
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            sqlite_error(sqlite3.OperationalError, "SQLITE_BUSY"),
            StoreUnavailable("sokbo.db: locked by another process (SQLITE_BUSY)"),
        ),
        (
            sqlite_error(sqlite3.OperationalError, "SQLITE_FULL"),
            StoreUnavailable("sokbo.db: the disk is full (SQLITE_FULL)"),
        ),
        (
            sqlite_error(sqlite3.OperationalError, "SQLITE_IOERR_FSYNC"),
            StoreUnavailable("sokbo.db: the disk cannot be read or written (SQLITE_IOERR_FSYNC)"),
        ),
        (
            sqlite_error(sqlite3.OperationalError, "SQLITE_READONLY_DBMOVED"),
            StoreUnavailable(
                "sokbo.db: the file was deleted or replaced while open (SQLITE_READONLY_DBMOVED)"
            ),
        ),
        (
            sqlite_error(sqlite3.OperationalError, "SQLITE_CANTOPEN"),
            StoreUnavailable(
                "sokbo.db: the file or its write-ahead log cannot be opened (SQLITE_CANTOPEN)"
            ),
        ),
        (sqlite_error(sqlite3.DatabaseError, "SQLITE_CORRUPT"), StoreError(f"sokbo.db: {DAMAGED}")),
        (
            sqlite_error(sqlite3.DatabaseError, "SQLITE_NOTADB"),
            StoreError(
                f"sokbo.db: the file is not a database, or is damaged (SQLITE_NOTADB): {RESTORE}"
            ),
        ),
        (sqlite_error(sqlite3.OperationalError, "SQLITE_ERROR"), None),  # no such table: a bug
        (sqlite_error(sqlite3.IntegrityError, "SQLITE_CONSTRAINT_NOTNULL"), None),
        (sqlite3.ProgrammingError("Cannot operate on a closed database."), None),
    ],
)
def test_faults_of_the_file_are_told_apart_from_mistakes(
    error: sqlite3.Error, expected: StoreError | None
) -> None:
    """A fault of the file or disk becomes one line naming the database and the cause (damage
    is no passing fault: restore it); a mistake in sokbo stays the error SQLite raised."""
    translated = fault(error, "sokbo.db")
    if expected is None:
        assert translated is None
    else:
        assert (type(translated), str(translated)) == (type(expected), str(expected))


async def test_a_write_while_another_process_holds_the_database_waits_then_is_unavailable(
    tmp_path: Path,
) -> None:
    """Past the busy timeout a write is StoreUnavailable and writes nothing; reads go on, and
    once the other process lets go the same write succeeds on the same connection."""
    database = tmp_path / "sokbo.db"
    async with open_sqlite(database, busy_timeout_ms=50) as storage:
        await storage.archive.record_scan(news("a"), (), now=T0, site=None)
        with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            locked = re.escape(f"{database}: locked by another process")
            with pytest.raises(StoreUnavailable, match=locked):
                await storage.archive.record_scan(news("b"), (), now=T0, site=None)
            with pytest.raises(StoreUnavailable, match=locked):
                await storage.outbox.queue("a", PushKind.REPOST, now=T0)
            assert set(await storage.archive.records()) == {"a"}
            other.execute("ROLLBACK")
        await storage.archive.record_scan(news("b"), (), now=T0, site=None)
    assert rows(database, "SELECT key FROM posts ORDER BY key") == [("a",), ("b",)]
    assert rows(database, "SELECT COUNT(*) FROM pushes") == [(2,)]


async def test_a_full_disk_fails_a_write_whole_and_the_next_one_succeeds(tmp_path: Path) -> None:
    """SQLITE_FULL half way through a scan is StoreUnavailable, no row of it is written, and
    with room again the same scan is written whole."""
    database = tmp_path / "sokbo.db"
    many = news(*(f"p{n}" for n in range(200)))
    async with open_database(database) as opened:
        archive = SqliteArchive(opened)
        await archive.record_scan(news("a"), (), now=T0, site=None)
        pages = await opened.one("PRAGMA page_count")
        assert pages is not None
        await opened.one(f"PRAGMA max_page_count = {pages[0]}")  # a real SQLITE_FULL
        with pytest.raises(StoreUnavailable) as raised:
            await archive.record_scan(many, (), now=T0, site=None)
        assert str(raised.value) == f"{database}: the disk is full (SQLITE_FULL)"
        assert set(await archive.records()) == {"a"}
        await opened.one("PRAGMA max_page_count = 1000000")
        await archive.record_scan(many, (), now=T0, site=None)
    assert rows(database, "SELECT COUNT(*) FROM posts") == [(201,)]
    assert rows(database, "SELECT COUNT(*) FROM pushes") == [(201,)]


async def test_a_transaction_a_failed_rollback_left_open_does_not_block_writes(
    tmp_path: Path,
) -> None:
    """If a failing disk refused a rollback, the next write first ends what was left open."""
    database = tmp_path / "sokbo.db"
    async with open_database(database) as opened:
        await opened.one("BEGIN IMMEDIATE")  # as a refused ROLLBACK leaves the connection
        await SqliteArchive(opened).record_scan(news("a"), (), now=T0, site=None)
        assert rows(database, "SELECT key FROM posts") == [("a",)]  # committed: others see it


def damage(database: Path, *, from_page: int) -> None:
    """Overwrite every page of `database` from `from_page` on with bytes that mean nothing."""
    size = database.stat().st_size
    with database.open("r+b") as file:
        file.seek(4096 * from_page)
        file.write(os.urandom(size - 4096 * from_page))


async def test_a_file_damaged_while_open_stops_reads_saying_restore_it(tmp_path: Path) -> None:
    """A read of a damaged page is a StoreError saying to restore a backup, not a retry."""
    database = tmp_path / "sokbo.db"
    async with open_database(database) as opened:
        archive = SqliteArchive(opened)
        await archive.record_scan(news(*(f"p{n}" for n in range(300))), (), now=T0, site=None)
        await opened.one("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file …
        await opened.one("PRAGMA shrink_memory")  # … and none left in the cache
        damage(database, from_page=4)
        with pytest.raises(StoreError) as raised:
            await archive.records()
        assert not isinstance(raised.value, StoreUnavailable)
        assert str(raised.value) == f"{database}: {DAMAGED}"


# Faults at start: one line, exit status 2, whichever command meets them.


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site folder with a config, one post and a database from an earlier run."""
    (tmp_path / "sokbo.toml").write_text(
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\n[bot]\n'
        'database = "data/sokbo.db"\n'
    )
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "a.md").write_text("---\ntitle: A\n---\nBody.\n")
    (tmp_path / "data").mkdir()
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "seed.db")) as seed:
        seed.executescript("CREATE TABLE filler (x); INSERT INTO filler VALUES (zeroblob(40000));")
    return tmp_path


def sokbo(
    site: Path, command: str, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    """Run sokbo in-process on `site`'s config; its exit status and the lines on stderr."""
    status = main([command, "--config", str(site / "sokbo.toml"), *args])
    return status, capsys.readouterr().err.splitlines()


def garbage(database: Path) -> str:
    """Random bytes at the database's path; what sokbo says of them (a pattern)."""
    database.write_bytes(os.urandom(8192))
    return re.escape("the file is not a database, or is damaged (SQLITE_NOTADB): " + RESTORE)


def garbage_pages(database: Path) -> str:
    """A valid header, then pages of garbage; what sokbo says of them."""
    shutil.copy(database.with_name("seed.db"), database)
    damage(database, from_page=1)
    return r"the file is damaged \(.*Page \d+.*\): " + RESTORE


def a_folder(database: Path) -> str:
    """A folder at the database's path; what sokbo says of it."""
    database.mkdir()
    return "is a folder, not a database file"


@pytest.mark.parametrize("command", [("run",), ("status",), ("repost", "a")])
@pytest.mark.parametrize("make_fault", [garbage, garbage_pages, a_folder])
def test_a_database_sokbo_cannot_use_is_one_line_and_exit_2(
    site: Path,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
    make_fault: Callable[[Path], str],
) -> None:
    """Random bytes, garbage pages after a valid header, or a folder at the database's path:
    every command says so in one line and exits 2, with no traceback."""
    database = (site / "data" / "sokbo.db").resolve()
    said = make_fault(database)
    status, lines = sokbo(site, *command, capsys=capsys)
    assert status == 2
    assert len(lines) == 1, lines
    assert re.fullmatch(f"sokbo: {re.escape(str(database))}: {said}", lines[0]), lines[0]


def test_a_database_folder_that_cannot_be_made_stops_run_in_one_line(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file where the database's folder should be: `sokbo run` says so and exits 2."""
    shutil.rmtree(site / "data")
    (site / "data").write_text("a file, not a folder")
    status, lines = sokbo(site, "run", capsys=capsys)
    database = (site / "data" / "sokbo.db").resolve()
    said = f"{database}: cannot make its folder: {database.parent} is a file"
    assert (status, lines) == (2, [f"sokbo: {said}"])


def writes_to_read_only_folders(folder: Path) -> bool:
    """Whether this user writes through a folder's permissions anyway (root, as in CI)."""
    probe = folder / "probe"
    probe.mkdir(mode=0o555)
    try:
        (probe / "file").touch()
    except PermissionError:
        return False
    finally:
        probe.chmod(0o755)
        shutil.rmtree(probe)
    return True


@pytest.mark.parametrize(
    ("mode", "command", "said"),
    [
        (0o555, "run", "sokbo.db.lock: cannot make the lock file: Permission denied"),
        (
            0o555,
            "status",
            "sokbo.db: its folder cannot be written (read-only) (SQLITE_READONLY_DIRECTORY)",
        ),
        (0o000, "run", "sokbo.db: cannot make or reach its folder: Permission denied"),
        (0o000, "status", "sokbo.db: cannot be reached: Permission denied"),
    ],
)
def test_a_database_folder_without_permission_is_one_line_and_exit_2(
    site: Path, capsys: pytest.CaptureFixture[str], mode: int, command: str, said: str
) -> None:
    """A read-only folder (no lock file, write-ahead log or index can be made there) or one
    that cannot be searched: the service and a shell command alike say so in one line, exit 2."""
    if writes_to_read_only_folders(site):
        pytest.skip("this user (root) writes to read-only folders anyway")
    shutil.copy(site / "data" / "seed.db", site / "data" / "sokbo.db")  # status needs a file
    (site / "data").chmod(mode)
    try:
        status, lines = sokbo(site, command, capsys=capsys)
    finally:
        (site / "data").chmod(0o755)
    assert (status, lines) == (2, [f"sokbo: {(site / 'data').resolve()}/{said}"])


# The keeper: the database deleted or replaced under the running service.


def remove(database: Path) -> None:
    """Delete the database, its write-ahead log, index and lock file, as `rm sokbo.db*` would."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)


async def test_a_database_deleted_while_running_is_restored_with_everything(
    tmp_path: Path,
) -> None:
    """Every post and delivery, even one written after the files went, is in the restored file;
    the service holds its lock again, so a second service is refused; the admins are told."""
    database = tmp_path / "sokbo.db"
    async with open_sqlite(database, exclusive=True) as storage:
        await storage.chats.subscribe("console", "stdout", (), now=T0)
        await storage.archive.record_scan(news("a", "b"), (), now=T0, site=None)
        await deliver(storage)
        remove(database)
        await storage.archive.record_scan(news("c"), (), now=T0, site=None)  # still lands
        notice = await storage.keeper.check()
        assert notice == (
            f"sokbo.db.lock was deleted: the instance lock is held again; "
            f"{database} was deleted while sokbo ran: restored from the open database"
        )
        assert rows(database, "SELECT key FROM posts ORDER BY key") == [("a",), ("b",), ("c",)]
        assert rows(database, "SELECT status, COUNT(*) FROM outbox GROUP BY status") == [
            ("sent", 2)
        ]
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            async with open_sqlite(database, exclusive=True):
                pass
        await deliver(storage)  # goes on with the restored file
        assert await storage.keeper.check() is None
    assert rows(database, "SELECT status, COUNT(*) FROM outbox GROUP BY status") == [("sent", 3)]
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]


async def test_a_check_of_an_untouched_database_says_nothing(tmp_path: Path) -> None:
    """Nothing deleted, nothing done, for the service's storage and a shell command's alike."""
    database = tmp_path / "sokbo.db"
    async with open_sqlite(database, exclusive=True) as storage:
        await storage.archive.record_scan(news("a"), (), now=T0, site=None)
        assert await storage.keeper.check() is None
        async with open_sqlite(database) as shell:
            assert await shell.keeper.check() is None


async def test_a_replaced_database_is_restored_and_the_other_file_kept(tmp_path: Path) -> None:
    """A file moved over the database is set aside, not lost, and the service's data restored."""
    database = tmp_path / "sokbo.db"
    async with open_sqlite(database, exclusive=True) as storage:
        await storage.archive.record_scan(news("a"), (), now=T0, site=None)
        stranger = tmp_path / "stranger.db"
        stranger.write_bytes(b"someone else's file")
        os.replace(stranger, database)
        notice = await storage.keeper.check()
        assert notice == (
            f"{database} was replaced while sokbo ran: restored from the open database "
            "(the file found there is kept as sokbo.db.replaced)"
        )
        await storage.archive.record_scan(news("b"), (), now=T0, site=None)
        assert rows(database, "SELECT key FROM posts ORDER BY key") == [("a",), ("b",)]
    assert (tmp_path / "sokbo.db.replaced").read_bytes() == b"someone else's file"


async def test_a_lost_lock_is_taken_again_unless_another_service_took_it(tmp_path: Path) -> None:
    """The lock file deleted: the keeper takes it again; if a second service started on it
    meanwhile, the check raises AlreadyRunning, so one of the two stops."""
    database = tmp_path / "sokbo.db"
    async with open_sqlite(database, exclusive=True) as storage:
        lock_path(database).unlink()
        assert await storage.keeper.check() == (
            "sokbo.db.lock was deleted: the instance lock is held again"
        )
        with pytest.raises(AlreadyRunning), single_instance(database):
            pass
        lock_path(database).unlink()
        with (
            single_instance(database),  # a second service, which the lost lock let in
            pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"),
        ):
            await storage.keeper.check()


async def test_a_restore_that_cannot_be_done_yet_is_done_by_a_later_check(tmp_path: Path) -> None:
    """Its folder replaced by a file, the database cannot be put back: StoreUnavailable, and
    nothing is lost; once the folder can be made again, the next check restores it."""
    folder = tmp_path / "data"
    database = folder / "sokbo.db"
    async with open_sqlite(database, exclusive=True) as storage:
        await storage.archive.record_scan(news("a"), (), now=T0, site=None)
        shutil.rmtree(folder)
        folder.write_text("in the way")
        with pytest.raises(StoreUnavailable, match=re.escape(f"{database}: cannot make")):
            await storage.keeper.check()
        folder.unlink()
        assert "restored" in (await storage.keeper.check() or "")
        assert rows(database, "SELECT key FROM posts") == [("a",)]


# The watchdog: the service's task that has the keeper check, on the service's clock.


class ScriptedKeeper:
    """A Keeper whose checks answer from a script: a notice, None, or an error to raise."""

    def __init__(self, *answers: str | StoreUnavailable | None) -> None:
        self.answers = list(answers)
        self.checks = 0

    async def check(self) -> str | None:
        """The next scripted answer."""
        self.checks += 1
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, StoreUnavailable):
            raise answer
        return answer


async def test_the_watchdog_tells_admins_what_was_mended_and_logs_a_failure_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each KEEP_EVERY_S the keeper checks; a notice is logged and told to the admins; the same
    failure twice in a row is logged once; the stop event ends the task at once."""
    full = StoreUnavailable("sokbo.db: cannot be restored yet: disk full")
    keeper = ScriptedKeeper(None, full, full, "sokbo.db was deleted while sokbo ran: restored")
    clock, stop, told = FakeClock(T0), asyncio.Event(), list[str]()
    caplog.set_level(logging.WARNING, logger="bot.service")
    task = asyncio.create_task(keep(keeper, clock, stop, notify=told.append))
    await settle()
    assert keeper.checks == 0  # the first check comes KEEP_EVERY_S after the start
    for _ in range(4):
        clock.advance(seconds=KEEP_EVERY_S)
        await settle()
    assert keeper.checks == 4
    assert told == ["sokbo.db was deleted while sokbo ran: restored"]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.service"] == [
        f"storage check failed (again every {KEEP_EVERY_S} s): {full}",
        "storage mended: sokbo.db was deleted while sokbo ran: restored",
    ]
    clock.advance(seconds=KEEP_EVERY_S - 1)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert keeper.checks == 4
