"""The status summary on SQLite: what the posts, the outbox and the chats add up to."""

from __future__ import annotations

import sqlite3

from bot.sqlite.archive import LAST_SCAN
from bot.sqlite.connection import Database, unstamp
from bot.sqlite.outbox import PAUSED
from bot.sqlite.rows import refusal_of
from bot.storage import Decided, Summary

RECENT_SHOWN = 10  # decisions `sokbo status` explains
_ALERT_ROWS = (
    "FROM outbox o JOIN pushes a ON a.id = o.push_id WHERE a.post_id = p.id AND a.kind = 'alert'"
)
RECENT = (
    "SELECT p.key, p.verdict, p.reason, p.decided_at, "
    "(SELECT status FROM pushes WHERE post_id = p.id AND kind = 'alert' ORDER BY id DESC "
    f"LIMIT 1), (SELECT COUNT(*) {_ALERT_ROWS}), "
    f"(SELECT COUNT(*) {_ALERT_ROWS} AND o.status = 'sent') "
    "FROM posts p WHERE p.decided_at IS NOT NULL ORDER BY p.decided_at DESC, p.id DESC "
    f"LIMIT {RECENT_SHOWN}"
)


class SqliteReports:
    """Counts over every table, for `sokbo status` and `/status`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def summary(self) -> Summary:
        """Gather what `sokbo status` and `/status` show."""
        every = self._database.look

        async def one(query: str) -> sqlite3.Row | None:
            rows = await every(query)
            return rows[0] if rows else None

        by_state = {
            row[0]: int(row[1])
            for row in await every("SELECT state, n FROM post_counts WHERE n > 0")
        }
        query = "SELECT key, date FROM posts WHERE state = 'scheduled' ORDER BY date_utc, key"
        scheduled = tuple((row[0], unstamp(row[1])) for row in await every(query))
        pending = await one("SELECT COUNT(*) FROM pushes WHERE status = 'pending'")
        query = (
            "SELECT posts.key, p.created_at FROM pushes p JOIN posts ON posts.id = p.post_id "
            "WHERE p.status = 'waiting' ORDER BY p.id"
        )
        waiting = tuple((str(row[0]), unstamp(row[1])) for row in await every(query))
        recent = tuple(_decided(row) for row in await every(RECENT))
        rows = await every("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        targets = await one(  # as Chats.active_targets has them, counted in SQL
            "SELECT COUNT(*) FROM targets WHERE is_active = 1 AND subscribed > 0"
        )
        meta = {str(row[0]): str(row[1]) for row in await every("SELECT name, value FROM meta")}
        last_scan = meta.get(LAST_SCAN)
        return Summary(
            posts_by_state=by_state,
            scheduled=scheduled,
            refused=tuple(
                refusal_of(row) for row in await every("SELECT * FROM refused ORDER BY path")
            ),
            pushes_pending=int(pending[0]) if pending else 0,
            deliveries={str(row[0]): int(row[1]) for row in rows},
            targets=int(targets[0]) if targets else 0,
            is_paused=meta.get(PAUSED) == "1",
            last_scan=None if last_scan is None else unstamp(last_scan),
            waiting=waiting,
            recent=recent,
        )


def _decided(row: sqlite3.Row) -> Decided:
    return Decided(
        key=str(row[0]), verdict=str(row[1]), reason=row[2], at=unstamp(row[3]),
        alert=row[4], chats=int(row[5]), sent=int(row[6]),
    )  # fmt: skip
