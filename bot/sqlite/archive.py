"""The archive on SQLite: posts as last read, refused files, and each scan written whole."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import aiosqlite

from bot.errors import PostError
from bot.lookup import fold
from bot.model import Record
from bot.publish import BURST_WINDOW, Plan
from bot.sqlite.connection import Database, get_meta, set_meta, stamp
from bot.sqlite.outbox import cancel_unsent
from bot.sqlite.rows import UPSERT_POST, post_row, record_of, refusal_of
from bot.storage import Refusal

SITE = "site"  # meta: the site identity the stored links were made with
BASELINE_AT = "baseline_at"  # meta: the first scan, which recorded the archive without alerts
LAST_SCAN = "last_scan"  # meta: when the folder was last read


class SqliteArchive:
    """Posts, refusals and scan bookkeeping in the `posts`, `refused` and `meta` tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def records(self) -> dict[str, Record]:
        """Every known post, by key."""
        async with self._database.read("SELECT * FROM posts") as cursor:
            return {row["key"]: record_of(row) async for row in cursor}

    async def record(self, key: str) -> Record | None:
        """Post `key`, if known."""
        row = await self._database.one("SELECT * FROM posts WHERE key = ?", (key,))
        return None if row is None else record_of(row)

    async def newest(self, count: int, *, category: str | None = None) -> list[Record]:
        """Up to `count` published posts, newest first, optionally in one (folded) category."""
        query = (
            "SELECT * FROM posts WHERE state = 'published' "
            "ORDER BY date_utc DESC, first_seen DESC, key DESC"
        )
        found: list[Record] = []
        async with self._database.read(query) as cursor:
            async for row in cursor:
                if len(found) >= count:
                    break
                if category is None or category in {
                    fold(name) for name in json.loads(row["categories"])
                }:
                    found.append(record_of(row))
        return found

    async def refusals(self) -> dict[str, Refusal]:
        """The refused files, by path."""
        async with self._database.read("SELECT * FROM refused ORDER BY path") as cursor:
            return {row["path"]: refusal_of(row) async for row in cursor}

    async def is_first_run(self) -> bool:
        """Whether no scan was ever recorded (the archive is not yet baselined)."""
        return await self._database.meta(BASELINE_AT) is None

    async def recent_alerts(self, now: datetime) -> int:
        """First alerts created within the burst window before `now`."""
        query = "SELECT COUNT(*) FROM pushes WHERE kind = 'alert' AND created_at > ?"
        row = await self._database.one(query, (stamp(now - BURST_WINDOW),))
        return int(row[0]) if row else 0

    async def site(self) -> str | None:
        """The site identity the stored links were made with, once recorded."""
        return await self._database.meta(SITE)

    async def record_scan(
        self, plan: Plan, refused: Iterable[PostError], *, now: datetime, site: str | None
    ) -> None:
        """Write a scan's decisions, its refusals and (if given) the site, all or nothing."""
        async with self._database.write() as db:
            for old, new in plan.renames:
                await db.execute("UPDATE posts SET key = ? WHERE key = ?", (new, old))
            for record in plan.records:
                await db.execute(UPSERT_POST, post_row(record, now))
            for push in plan.pushes:
                await db.execute(
                    "INSERT INTO pushes (post_id, kind, status, created_at) "
                    "SELECT id, ?, 'pending', ? FROM posts WHERE key = ?",
                    (push.kind.value, stamp(now), push.key),
                )
            for key in plan.cancelled:
                await cancel_unsent(db, key, now=now)
            await self._replace_refusals(db, refused, now)
            await set_meta(db, LAST_SCAN, stamp(now))
            if await get_meta(db, BASELINE_AT) is None:
                await set_meta(db, BASELINE_AT, stamp(now))
            if site is not None:
                await set_meta(db, SITE, site)

    async def _replace_refusals(
        self, db: aiosqlite.Connection, refused: Iterable[PostError], now: datetime
    ) -> None:
        current = {error.path: error for error in refused}
        stored = await self.refusals()
        for path in stored.keys() - current.keys():
            await db.execute("DELETE FROM refused WHERE path = ?", (path,))
        for path, error in current.items():
            old = stored.get(path)
            if old is None or (old.reason, old.line) != (error.reason, error.line):
                await db.execute(
                    "INSERT INTO refused (path, reason, line, first_seen) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, "
                    "line = excluded.line, first_seen = excluded.first_seen, is_notified = 0",
                    (path, error.reason, error.line, stamp(now)),
                )
