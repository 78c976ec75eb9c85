"""One SQLite file in WAL mode: opened and checked, migrated, written one transaction at a time."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import aiosqlite

from bot.lookup import fold
from bot.sqlite.faults import RESTORE, translated
from bot.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from bot.storage import StoreError

BUSY_TIMEOUT_MS = 5_000  # a shell command waits this long for the service's write to finish
OLDEST_SQLITE = (3, 35, 0)  # RETURNING, DROP COLUMN (migration 3), UPDATE … FROM


@asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """One write transaction: committed at the end, rolled back on any error or cancellation.

    A statement whose caller is cancelled still runs in aiosqlite's thread: a cancelled BEGIN
    may have begun (so it is undone too), and a cancelled COMMIT may have committed ("cannot
    rollback - no transaction is active"). A failing disk may refuse the rollback as well:
    then the error that ended the transaction is the one raised, never the rollback's, and the
    transaction it left open is rolled back before the next one begins.
    """
    if db.in_transaction:
        await db.execute("ROLLBACK")
    try:
        await db.execute("BEGIN IMMEDIATE")
        yield
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise


class Database:
    """The shared connection, and the lock that keeps its transactions one at a time.

    Every part of the backend reaches the connection through here, so the keeper can switch
    it to a restored file; a connection switched out stays open (for reads begun on it) until
    the database closes. A fault of the file or disk is raised as StoreUnavailable (damage as
    StoreError), never as sqlite3's error.
    """

    def __init__(self, db: aiosqlite.Connection, *, path: Path, busy_timeout_ms: int) -> None:
        self.db = db
        self.reader: aiosqlite.Connection | None = None  # for `look`: reads beside the writer
        self.path = path  # as configured: what messages name
        self.real_path = path.resolve()  # where the file is, through any symlink
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = asyncio.Lock()
        self._retired: list[aiosqlite.Connection] = []

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block as one transaction, after any other write on this connection."""
        with translated(str(self.path)):
            async with self._lock, transaction(self.db):
                yield self.db

    @asynccontextmanager
    async def read(
        self, query: str, parameters: tuple[object, ...] = ()
    ) -> AsyncIterator[aiosqlite.Cursor]:
        """A cursor over a read, for the block."""
        with translated(str(self.path)):
            async with self.db.execute(query, parameters) as cursor:
                yield cursor

    async def one(self, query: str, parameters: tuple[object, ...] = ()) -> sqlite3.Row | None:
        """The first row of a read, if any."""
        async with self.read(query, parameters) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
        return row

    async def all(self, query: str, parameters: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Every row of a read."""
        async with self.read(query, parameters) as cursor:
            return list(await cursor.fetchall())

    async def look(self, query: str, parameters: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Every row of a read on the reading connection: WAL lets it run beside a write, so
        what commands ask never waits behind delivery's queue of statements."""
        with translated(str(self.path)):
            async with (self.reader or self.db).execute(query, parameters) as cursor:
                return list(await cursor.fetchall())

    async def meta(self, name: str) -> str | None:
        """A stored setting (the site, paused, the last scan …)."""
        with translated(str(self.path)):
            return await get_meta(self.db, name)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold every write off for the block (while the keeper restores the file)."""
        async with self._lock:
            yield self.db

    def switch(self, db: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        """Use `db` (and `reader`) from now on, keeping the old connections open until the
        database closes."""
        self._retired += [self.db] if self.reader is None else [self.db, self.reader]
        self.db, self.reader = db, reader

    async def close(self) -> None:
        """Close the connection, and any switched out."""
        for db in (*self._retired, self.db, *([] if self.reader is None else [self.reader])):
            await db.close()


async def connect(path: Path, *, busy_timeout_ms: int) -> aiosqlite.Connection:
    """A connection to the file at `path` in WAL mode, with sokbo's settings."""
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        await db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute("PRAGMA foreign_keys = ON")
        await db.create_function("sokbo_fold", 1, _fold, deterministic=True)
    except BaseException:
        await db.close()
        raise
    return db


def _fold(value: object) -> object:
    """`sokbo_fold(text)` in SQL: a category or key as commands match it (see lookup.fold)."""
    return fold(value) if isinstance(value, str) else value


@asynccontextmanager
async def open_database(
    path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> AsyncIterator[Database]:
    """Open (creating, checking and migrating) the database at `path`; close it on exit."""
    if sqlite3.sqlite_version_info < OLDEST_SQLITE:
        raise StoreError(
            f"this Python's SQLite is {sqlite3.sqlite_version}; sokbo needs "
            f"{'.'.join(map(str, OLDEST_SQLITE))} or newer"
        )
    make_folder(path)
    try:
        with translated(str(path)):
            db = await connect(path, busy_timeout_ms=busy_timeout_ms)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}") from None
    database = Database(db, path=path, busy_timeout_ms=busy_timeout_ms)
    try:
        await prepare(db, path)
        with translated(str(path)):
            database.reader = await connect(path, busy_timeout_ms=busy_timeout_ms)
        yield database
    finally:
        await database.close()


def make_folder(path: Path) -> None:
    """Make the folder of the database at `path` if it is missing, or raise StoreError; refuse
    a folder where the file should be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        is_folder = path.is_dir()
    except FileExistsError as exc:  # exist_ok forgives folders only
        raise StoreError(f"{path}: cannot make its folder: {exc.filename} is a file") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot make or reach its folder: {exc.strerror}") from None
    if is_folder:
        raise StoreError(f"{path}: is a folder, not a database file")


async def prepare(db: aiosqlite.Connection, path: Path) -> None:
    """Check that the file is whole and bring its schema up to date, or raise StoreError."""
    try:
        with translated(str(path)):
            await check_whole(db, path)
            await migrate(db, path)
    except sqlite3.DatabaseError as exc:  # no fault of the disk, yet not a file sokbo can use
        raise StoreError(f"{path}: {exc}") from None


async def check_whole(db: aiosqlite.Connection, path: Path) -> None:
    """Refuse a damaged file at once, rather than fail on its bad pages while running."""
    async with db.execute("PRAGMA quick_check(1)") as cursor:
        row = await cursor.fetchone()
    if row is None or row[0] != "ok":
        problem = "no answer" if row is None else " ".join(str(row[0]).split())
        raise StoreError(f"{path}: the file is damaged ({problem}): {RESTORE}")


async def migrate(db: aiosqlite.Connection, path: Path) -> int:
    """Bring the schema to SCHEMA_VERSION, one migration per transaction; return the version."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by a newer sokbo (schema {version}; this one knows {SCHEMA_VERSION})"
        )
    for number in range(version, SCHEMA_VERSION):
        await db.executescript(
            f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\nPRAGMA user_version = {number + 1};\nCOMMIT;"
        )
    return SCHEMA_VERSION


async def get_meta(db: aiosqlite.Connection, name: str) -> str | None:
    """A stored setting (the site, paused, the last scan …)."""
    async with db.execute("SELECT value FROM meta WHERE name = ?", (name,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def set_meta(db: aiosqlite.Connection, name: str, value: str) -> None:
    """Store a setting, within the caller's transaction."""
    await db.execute(
        "INSERT INTO meta (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


@lru_cache(maxsize=1024)  # a scan stamps thousands of rows with the same few times
def stamp(moment: datetime) -> str:
    """Return `moment` as sortable UTC text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def unstamp(text: str) -> datetime:
    """Read a time written by `stamp` (or any ISO 8601 with an offset)."""
    return datetime.fromisoformat(text)
