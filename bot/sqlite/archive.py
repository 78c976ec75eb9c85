"""The archive on SQLite: posts as last read, refused files, the files read, each scan whole."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime

import aiosqlite

from bot.errors import PostError
from bot.lookup import fold
from bot.model import KnownFile, PushKind, Record
from bot.publish import BURST_WINDOW, Plan, Verdict
from bot.sqlite.connection import Database, get_meta, set_meta, stamp, unstamp
from bot.sqlite.outbox import cancel_unsent
from bot.sqlite.rows import UPSERT_POST, listed, post_row, record_of, refusal_of
from bot.storage import Refusal

SITE = "site"  # meta: the site identity the stored links were made with
READING = "reading"  # meta: how every file was read when they were last all read
BASELINE_AT = "baseline_at"  # meta: the first scan, which recorded the archive without alerts
LAST_SCAN = "last_scan"  # meta: when the folder was last read
NEWEST_FIRST = "ORDER BY p.date_utc DESC, p.first_seen DESC, p.key DESC"
LIVE = "p.state != 'gone'"


class SqliteArchive:
    """Posts, refusals, files and scan bookkeeping in `posts`, `post_categories`, `refused`,
    `files` and `meta`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._categories: list[tuple[str, int]] | None = None  # until the next scan is recorded

    async def records(self) -> dict[str, Record]:
        """Every known post, by key (a full scan's comparison; nothing else loads them all)."""
        async with self._database.read("SELECT * FROM posts") as cursor:
            return {row["key"]: record_of(row) async for row in cursor}

    async def involved(self, keys: Iterable[str], paths: Iterable[str]) -> dict[str, Record]:
        """The known posts with one of `keys`, or whose file is at one of `paths`, by key."""
        query = (
            "SELECT * FROM posts WHERE key IN (SELECT value FROM json_each(?)) UNION "
            "SELECT * FROM posts WHERE path IN (SELECT value FROM json_each(?))"
        )
        rows = await self._database.all(query, (listed(keys), listed(paths)))
        return {row["key"]: record_of(row) for row in rows}

    async def due(self, now: datetime) -> list[Record]:
        """Scheduled posts whose date has arrived by `now` (their files not refused now)."""
        query = (
            "SELECT * FROM posts WHERE state = 'scheduled' AND date_utc <= ? "
            "AND path NOT IN (SELECT path FROM refused) ORDER BY date_utc, key"
        )
        return [record_of(row) for row in await self._database.all(query, (stamp(now),))]

    async def next_due(self, now: datetime) -> datetime | None:
        """The earliest date of a scheduled post still ahead of `now`."""
        query = "SELECT min(date_utc) FROM posts WHERE state = 'scheduled' AND date_utc > ?"
        row = await self._database.one(query, (stamp(now),))
        return None if row is None or row[0] is None else unstamp(row[0])

    async def record(self, key: str) -> Record | None:
        """Post `key`, if known."""
        row = await self._database.one("SELECT * FROM posts WHERE key = ?", (key,))
        return None if row is None else record_of(row)

    async def newest(
        self, count: int, *, category: str | None = None, skip: int = 0
    ) -> list[Record]:
        """Up to `count` published posts, newest first (after the `skip` newest), optionally
        in one (folded) category."""
        if category is None:
            query = f"SELECT p.* FROM posts p WHERE p.state = 'published' {NEWEST_FIRST}"
            parameters: tuple[object, ...] = (count, skip)
        else:
            query = (
                "SELECT p.* FROM post_categories c JOIN posts p ON p.id = c.post_id "
                f"WHERE c.folded = ? AND p.state = 'published' {NEWEST_FIRST}"
            )
            parameters = (category, count, skip)
        rows = await self._database.look(query + " LIMIT ? OFFSET ?", parameters)
        return [record_of(row) for row in rows]

    async def categories(self) -> list[tuple[str, int]]:
        """Each category of the published posts with its count, most posts first; a name as
        its newest post writes it."""
        if self._categories is None:
            rows = await self._database.look(
                "SELECT c.name, max(p.date_utc), COUNT(*) FROM post_categories c "
                "JOIN posts p ON p.id = c.post_id WHERE p.state = 'published' GROUP BY c.folded"
            )
            counts = [(str(row[0]), int(row[2])) for row in rows]
            self._categories = sorted(counts, key=lambda item: (-item[1], item[0]))
        return list(self._categories)

    async def find(self, query: str) -> list[Record]:
        """Posts not gone by key, file path or URL (an exact match wins), else keys holding it."""
        query = unicodedata.normalize("NFC", query.strip())
        bare = query.split("?", 1)[0].rstrip("/")
        url = (
            "rtrim(CASE WHEN instr(p.url, '?') THEN substr(p.url, 1, instr(p.url, '?') - 1) "
            "ELSE p.url END, '/')"
        )
        for condition, parameters in (
            ("p.key = ?", (query,)),
            ("(p.path = ? OR substr(?, -length(p.path) - 1) = '/' || p.path)", (query, query)),
            (f"{url} = ?", (bare,)),
            ("instr(sokbo_fold(p.key), ?) > 0", (query.casefold(),)),
        ):
            if not query:
                break
            sql = f"SELECT p.* FROM posts p WHERE {LIVE} AND {condition} {NEWEST_FIRST}"
            if rows := await self._database.look(sql, parameters):
                return [record_of(row) for row in rows]
        return []

    async def matching(self, typed: str, *, most: int) -> list[Record]:
        """Posts not gone whose key or title holds `typed` (folded), newest first."""
        wanted = fold(typed)
        query = (
            f"SELECT p.* FROM posts p WHERE {LIVE} AND (instr(sokbo_fold(p.key), ?) > 0 "
            f"OR instr(sokbo_fold(p.title), ?) > 0) {NEWEST_FIRST} LIMIT ?"
        )
        rows = await self._database.look(query, (wanted, wanted, most))
        return [record_of(row) for row in rows]

    async def files(self) -> list[KnownFile]:
        """The files as last read."""
        rows = await self._database.all("SELECT path, size, mtime_ns, inode, key FROM files")
        return [KnownFile(row[0], (row[1], row[2], row[3]), row[4]) for row in rows]

    async def refusals(self, paths: Iterable[str] | None = None) -> dict[str, Refusal]:
        """The refused files (at `paths`, if given), by path."""
        if paths is None:
            rows = await self._database.all("SELECT * FROM refused ORDER BY path")
        else:
            query = "SELECT * FROM refused WHERE path IN (SELECT value FROM json_each(?))"
            rows = await self._database.all(query, (listed(paths),))
        return {row["path"]: refusal_of(row) for row in rows}

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

    async def reading(self) -> str | None:
        """How the files were read (settings and reader) when they were last all read."""
        return await self._database.meta(READING)

    async def record_scan(
        self,
        plan: Plan,
        refused: Iterable[PostError],
        *,
        now: datetime,
        site: str | None,
        scope: Iterable[str] | None = None,
        files: Sequence[KnownFile] | None = None,
        reading: str | None = None,
        hold_alerts: bool = False,
    ) -> list[PostError]:
        """Write a scan's decisions, its refusals, the files it read and (if given) the site,
        all or nothing; every batch of rows in one statement. Return the refusals that are new
        or changed."""
        paths = None if scope is None else list(scope)
        async with self._database.write() as db:
            await db.executemany(
                "UPDATE posts SET key = ? WHERE key = ?", [(new, old) for old, new in plan.renames]
            )
            now_text = stamp(now)
            # Rows made as SQLite takes them, not all at once: a first run writes 100,000.
            await db.executemany(UPSERT_POST, (post_row(r, now_text) for r in plan.records))
            await _write_categories(db, plan)
            await db.executemany(
                "INSERT INTO pushes (post_id, kind, status, created_at) "
                "SELECT id, ?, ?, ? FROM posts WHERE key = ?",
                [
                    (push.kind.value, _status(push.kind, hold_alerts), stamp(now), push.key)
                    for push in plan.pushes
                ],
            )
            await db.executemany(
                "UPDATE posts SET verdict = ?, reason = ?, decided_at = ? WHERE key = ?",
                (
                    (decision.verdict.value, decision.detail or None, now_text, decision.key)
                    for decision in plan.decisions
                    if decision.verdict not in UNTOLD
                ),
            )
            for key in plan.cancelled:
                await cancel_unsent(db, key, now=now)
            fresh = await self._replace_refusals(db, refused, paths, now)
            if files is not None:
                await _replace_files(db, files, paths)
            await set_meta(db, LAST_SCAN, stamp(now))
            if await get_meta(db, BASELINE_AT) is None:
                await set_meta(db, BASELINE_AT, stamp(now))
            if site is not None:
                await set_meta(db, SITE, site)
            if reading is not None:
                await set_meta(db, READING, reading)
        if plan.records or plan.renames:
            self._categories = None
        return fresh

    async def _replace_refusals(
        self,
        db: aiosqlite.Connection,
        refused: Iterable[PostError],
        paths: Sequence[str] | None,
        now: datetime,
    ) -> list[PostError]:
        current = {error.path: error for error in refused}
        stored = await self.refusals(paths)
        await db.executemany(
            "DELETE FROM refused WHERE path = ?", [(path,) for path in stored.keys() - current]
        )
        fresh = [
            error
            for path, error in current.items()
            if (old := stored.get(path)) is None
            or (old.reason, old.line) != (error.reason, error.line)
        ]
        await db.executemany(
            "INSERT INTO refused (path, reason, line, first_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, "
            "line = excluded.line, first_seen = excluded.first_seen, is_notified = 0",
            [(error.path, error.reason, error.line, stamp(now)) for error in fresh],
        )
        return fresh


# Decisions `sokbo status` does not list: the first run's archive (one log line says it for
# all) and edits or renames that change nothing about pushing (a body read again is one).
UNTOLD = frozenset({Verdict.ARCHIVED, Verdict.UPDATED, Verdict.RENAMED})


def _status(kind: PushKind, hold_alerts: bool) -> str:
    """A new push's status: a first alert may wait for its page; corrections never do (they
    edit messages of a post already live)."""
    return "waiting" if hold_alerts and kind is PushKind.ALERT else "pending"


async def _write_categories(db: aiosqlite.Connection, plan: Plan) -> None:
    """Each written post's categories, folded, as its rows of `post_categories`."""
    keys = [(record.post.key,) for record in plan.records]
    await db.executemany(
        "DELETE FROM post_categories WHERE post_id = (SELECT id FROM posts WHERE key = ?)", keys
    )
    await db.executemany(
        "INSERT OR IGNORE INTO post_categories (post_id, folded, name) "
        "SELECT id, ?, ? FROM posts WHERE key = ?",
        (
            (fold(name), name, record.post.key)
            for record in plan.records
            for name in record.post.categories
        ),
    )


async def _replace_files(
    db: aiosqlite.Connection, files: Sequence[KnownFile], paths: Sequence[str] | None
) -> None:
    """Make the files at `paths` (None: every file) what `files` says they now hold."""
    if paths is None:
        await db.execute("DELETE FROM files")
    else:
        await db.executemany("DELETE FROM files WHERE path = ?", [(path,) for path in paths])
    await db.executemany(
        "INSERT OR REPLACE INTO files (path, size, mtime_ns, inode, key) VALUES (?, ?, ?, ?, ?)",
        [(file.path, *file.fingerprint, file.key) for file in files],
    )
