"""One SQLite file in WAL mode: opened, migrated, and written one transaction at a time."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bot.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from bot.storage import StoreError

BUSY_TIMEOUT_MS = 5_000  # a shell command waits this long for the service's write to finish
OLDEST_SQLITE = (3, 35, 0)  # RETURNING, DROP COLUMN (migration 3), UPDATE … FROM


@asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """One write transaction: committed at the end, rolled back on any error or cancellation.

    A statement whose caller is cancelled still runs in aiosqlite's thread: a cancelled BEGIN
    may have begun (so it is undone too), and a cancelled COMMIT may have committed ("cannot
    rollback - no transaction is active"). A failing disk may refuse the rollback as well.
    Either way the error that ended the transaction is the one raised, never the rollback's.
    """
    try:
        await db.execute("BEGIN IMMEDIATE")
        yield
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise


class Database:
    """The shared connection, and the lock that keeps its transactions one at a time."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block as one transaction, after any other write on this connection."""
        async with self._lock, transaction(self.db):
            yield self.db

    async def one(self, query: str, parameters: tuple[object, ...] = ()) -> sqlite3.Row | None:
        """The first row of a read, if any."""
        async with self.db.execute(query, parameters) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
        return row

    async def all(self, query: str, parameters: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Every row of a read."""
        async with self.db.execute(query, parameters) as cursor:
            return list(await cursor.fetchall())


@asynccontextmanager
async def open_database(path: Path) -> AsyncIterator[Database]:
    """Open (creating and migrating) the database at `path`; close it on exit."""
    if sqlite3.sqlite_version_info < OLDEST_SQLITE:
        raise StoreError(
            f"this Python's SQLite is {sqlite3.sqlite_version}; sokbo needs "
            f"{'.'.join(map(str, OLDEST_SQLITE))} or newer"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}") from None
    try:
        try:
            db.row_factory = sqlite3.Row
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = FULL")
            await db.execute("PRAGMA foreign_keys = ON")
            await migrate(db, path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: {exc}") from None
        yield Database(db)
    finally:
        await db.close()


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


def stamp(moment: datetime) -> str:
    """Return `moment` as sortable UTC text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def unstamp(text: str) -> datetime:
    """Read a time written by `stamp` (or any ISO 8601 with an offset)."""
    return datetime.fromisoformat(text)
