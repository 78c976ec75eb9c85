"""The archive on SQLite: posts as last read, refused files, and each scan written whole."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import aiosqlite

from bot.errors import PostError
from bot.lookup import fold
from bot.model import DateSource, Post, PostState, Record
from bot.publish import BURST_WINDOW, Plan
from bot.sqlite.connection import Database, get_meta, set_meta, stamp, unstamp
from bot.sqlite.outbox import cancel_unsent
from bot.storage import Refusal

SITE = "site"  # meta: the site identity the stored links were made with
BASELINE_AT = "baseline_at"  # meta: the first scan, which recorded the archive without alerts
LAST_SCAN = "last_scan"  # meta: when the folder was last read


class SqliteArchive:
    """Posts, refusals and scan bookkeeping in the `posts`, `refused` and `meta` tables."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._db = database.db

    async def records(self) -> dict[str, Record]:
        """Every known post, by key."""
        async with self._db.execute("SELECT * FROM posts") as cursor:
            return {row["key"]: _record(row) async for row in cursor}

    async def record(self, key: str) -> Record | None:
        """Post `key`, if known."""
        row = await self._database.one("SELECT * FROM posts WHERE key = ?", (key,))
        return None if row is None else _record(row)

    async def newest(self, count: int, *, category: str | None = None) -> list[Record]:
        """Up to `count` published posts, newest first, optionally in one (folded) category."""
        query = (
            "SELECT * FROM posts WHERE state = 'published' "
            "ORDER BY date_utc DESC, first_seen DESC, key DESC"
        )
        found: list[Record] = []
        async with self._db.execute(query) as cursor:
            async for row in cursor:
                if len(found) >= count:
                    break
                if category is None or category in {
                    fold(name) for name in json.loads(row["categories"])
                }:
                    found.append(_record(row))
        return found

    async def refusals(self) -> dict[str, Refusal]:
        """The refused files, by path."""
        async with self._db.execute("SELECT * FROM refused ORDER BY path") as cursor:
            return {row["path"]: _refusal(row) async for row in cursor}

    async def is_first_run(self) -> bool:
        """Whether no scan was ever recorded (the archive is not yet baselined)."""
        return await get_meta(self._db, BASELINE_AT) is None

    async def recent_alerts(self, now: datetime) -> int:
        """First alerts created within the burst window before `now`."""
        query = "SELECT COUNT(*) FROM pushes WHERE kind = 'alert' AND created_at > ?"
        row = await self._database.one(query, (stamp(now - BURST_WINDOW),))
        return int(row[0]) if row else 0

    async def site(self) -> str | None:
        """The site identity the stored links were made with, once recorded."""
        return await get_meta(self._db, SITE)

    async def record_scan(
        self, plan: Plan, refused: Iterable[PostError], *, now: datetime, site: str | None
    ) -> None:
        """Write a scan's decisions, its refusals and (if given) the site, all or nothing."""
        async with self._database.write() as db:
            for old, new in plan.renames:
                await db.execute("UPDATE posts SET key = ? WHERE key = ?", (new, old))
            for record in plan.records:
                await db.execute(_UPSERT_POST, _post_row(record, now))
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
