"""SQLite persistence for posts, targets and the delivery outbox, migrated at open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import BotError, PostError
from bot.model import DateSource, Post, PostState, Record
from bot.publish import BURST_WINDOW, Plan
from bot.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5_000  # a shell command waits this long for the service's write to finish


class StoreError(BotError):
    """The database cannot be opened or is not one sokbo can use."""


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


def stamp(moment: datetime) -> str:
    """Return `moment` as sortable UTC text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def unstamp(text: str) -> datetime:
    """Read a time written by `stamp` (or any ISO 8601 with an offset)."""
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused file as stored: shown by status, told to admins once."""

    path: str
    reason: str
    line: int | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class Summary:
    """What `sokbo status` shows from the store."""

    posts_by_state: Mapping[str, int]
    scheduled: tuple[tuple[str, datetime], ...]
    refused: tuple[Refusal, ...]
    pushes_pending: int
    last_scan: datetime | None


class Store:
    """One SQLite file in WAL mode; every method is one transaction or one read."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.lock = asyncio.Lock()  # one transaction at a time on the shared connection

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[Store]:
        """Open (creating and migrating) the database at `path`; close it on exit."""
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
            yield cls(db)
        finally:
            await db.close()

    async def records(self) -> dict[str, Record]:
        """Return every known post, by key."""
        async with self._db.execute("SELECT * FROM posts") as cursor:
            return {row["key"]: _record(row) async for row in cursor}

    async def is_first_run(self) -> bool:
        """Whether no scan has ever been recorded (the archive is not yet baselined)."""
        return await self._meta("baseline_at") is None

    async def recent_alerts(self, now: datetime) -> int:
        """Count first alerts created within the burst window before `now`."""
        query = "SELECT COUNT(*) FROM pushes WHERE kind = 'alert' AND created_at > ?"
        async with self._db.execute(query, (stamp(now - BURST_WINDOW),)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def refusals(self) -> dict[str, Refusal]:
        """Return the refused files, by path."""
        async with self._db.execute("SELECT * FROM refused ORDER BY path") as cursor:
            return {row["path"]: _refusal(row) async for row in cursor}

    async def apply(self, plan: Plan, refused: Iterable[PostError], *, now: datetime) -> None:
        """Write a plan and the current refusals in one transaction."""
        async with self.lock:
            await self._apply(plan, refused, now=now)

    async def _apply(self, plan: Plan, refused: Iterable[PostError], *, now: datetime) -> None:
        async with transaction(self._db):
            for old, new in plan.renames:
                await self._db.execute("UPDATE posts SET key = ? WHERE key = ?", (new, old))
            for record in plan.records:
                await self._db.execute(_UPSERT_POST, _post_row(record, now))
            for push in plan.pushes:
                await self._db.execute(
                    "INSERT INTO pushes (post_id, kind, status, created_at) "
                    "SELECT id, ?, 'pending', ? FROM posts WHERE key = ?",
                    (push.kind.value, stamp(now), push.key),
                )
            for key in plan.cancelled:
                await self._cancel_unsent(key, now)
            await self._replace_refusals(refused, now)
            await self._set_meta("last_scan", stamp(now))
            if await self._meta("baseline_at") is None:
                await self._set_meta("baseline_at", stamp(now))

    async def _cancel_unsent(self, key: str, now: datetime) -> None:
        post_ids = "SELECT id FROM posts WHERE key = ?"
        unsent = f"post_id IN ({post_ids}) AND kind != 'retraction'"
        await self._db.execute(
            "UPDATE outbox SET status = 'cancelled', updated_at = ? WHERE status IN "
            f"('pending', 'retry') AND push_id IN (SELECT id FROM pushes WHERE {unsent})",
            (stamp(now), key),
        )
        await self._db.execute(
            f"UPDATE pushes SET status = 'cancelled' WHERE status = 'pending' AND {unsent}", (key,)
        )

    async def _replace_refusals(self, refused: Iterable[PostError], now: datetime) -> None:
        current = {error.path: error for error in refused}
        stored = await self.refusals()
        for path in stored.keys() - current.keys():
            await self._db.execute("DELETE FROM refused WHERE path = ?", (path,))
        for path, error in current.items():
            old = stored.get(path)
            if old is None or (old.reason, old.line) != (error.reason, error.line):
                await self._db.execute(
                    "INSERT INTO refused (path, reason, line, first_seen) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, "
                    "line = excluded.line, first_seen = excluded.first_seen, is_notified = 0",
                    (path, error.reason, error.line, stamp(now)),
                )

    async def summary(self) -> Summary:
        """Gather what `sokbo status` shows."""
        async with self._db.execute("SELECT state, COUNT(*) FROM posts GROUP BY state") as cur:
            by_state = {row[0]: int(row[1]) async for row in cur}
        query = "SELECT key, date FROM posts WHERE state = 'scheduled' ORDER BY date_utc, key"
        async with self._db.execute(query) as cur:
            scheduled = tuple([(row[0], unstamp(row[1])) async for row in cur])
        async with self._db.execute("SELECT COUNT(*) FROM pushes WHERE status = 'pending'") as cur:
            row = await cur.fetchone()
        last_scan = await self._meta("last_scan")
        return Summary(
            posts_by_state=by_state,
            scheduled=scheduled,
            refused=tuple((await self.refusals()).values()),
            pushes_pending=int(row[0]) if row else 0,
            last_scan=None if last_scan is None else unstamp(last_scan),
        )

    @property
    def db(self) -> aiosqlite.Connection:
        """The connection, for the outbox's queries on the same file."""
        return self._db

    async def record(self, key: str) -> Record | None:
        """Return the record of post `key`, if known."""
        async with self._db.execute("SELECT * FROM posts WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _record(row)

    async def meta(self, name: str) -> str | None:
        """Return a stored setting (paused, last scan …)."""
        return await self._meta(name)

    async def set_meta(self, name: str, value: str) -> None:
        """Store a setting, in its own transaction."""
        async with self.lock:
            await self._set_meta(name, value)

    async def _meta(self, name: str) -> str | None:
        async with self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def _set_meta(self, name: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


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


_POST_COLUMNS = (
    "key, path, content_hash, title, excerpt, categories, tags, date, date_utc, date_source, "
    "is_published, url, image_url, image_path, image_file, notes, state, first_seen, "
    "is_alerted, pushed_at, updated_at"
)
_UPSERT_POST = (
    f"INSERT INTO posts ({_POST_COLUMNS}) VALUES ({', '.join('?' * 21)}) "
    "ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _POST_COLUMNS.split(", ")[1:])
)


def _post_row(record: Record, now: datetime) -> tuple[Any, ...]:
    post = record.post
    return (
        post.key, post.path, post.content_hash, post.title, post.excerpt,
        json.dumps(post.categories, ensure_ascii=False), json.dumps(post.tags, ensure_ascii=False),
        post.date.isoformat(), stamp(post.date), post.date_source.value, int(post.is_published),
        post.url, post.image_url, post.image_path, post.image_file,
        json.dumps(post.notes, ensure_ascii=False), record.state.value, stamp(record.first_seen),
        int(record.is_alerted), None if record.pushed_at is None else stamp(record.pushed_at),
        stamp(now),
    )  # fmt: skip


def _record(row: sqlite3.Row) -> Record:
    post = Post(
        key=row["key"],
        path=row["path"],
        title=row["title"],
        excerpt=row["excerpt"],
        categories=tuple(json.loads(row["categories"])),
        tags=tuple(json.loads(row["tags"])),
        date=unstamp(row["date"]),
        date_source=DateSource(row["date_source"]),
        is_published=bool(row["is_published"]),
        url=row["url"],
        image_url=row["image_url"],
        image_path=row["image_path"],
        image_file=row["image_file"],
        content_hash=row["content_hash"],
        notes=tuple(json.loads(row["notes"])),
    )
    pushed_at = row["pushed_at"]
    return Record(
        post=post,
        state=PostState(row["state"]),
        first_seen=unstamp(row["first_seen"]),
        is_alerted=bool(row["is_alerted"]),
        pushed_at=None if pushed_at is None else unstamp(pushed_at),
    )


def _refusal(row: sqlite3.Row) -> Refusal:
    return Refusal(row["path"], row["reason"], row["line"], unstamp(row["first_seen"]))
