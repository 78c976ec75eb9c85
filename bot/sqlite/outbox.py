"""The outbox on SQLite: pushes fanned out to one row per chat, claimed, and their outcomes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import aiosqlite

from bot.fanout import FIRST_SENDS, QueuedPush
from bot.liveness import Waiting
from bot.model import DeliveryStatus, MessageRef, PushKind, Target
from bot.outcome import Outcome
from bot.publish import BURST_WINDOW
from bot.sqlite.chats import deactivate, move
from bot.sqlite.connection import Database, get_meta, set_meta, stamp, unstamp
from bot.sqlite.rows import ANY_TARGET, record_of, target_of
from bot.storage import Delivered, Job, Progress

PAUSED = "paused"  # meta: "1" while pushes (but retractions) are held
KEEP_FAILED = timedelta(days=30)  # dead and rejected deliveries stay in status this long


async def cancel_unsent(db: aiosqlite.Connection, key: str, *, now: datetime) -> None:
    """Cancel post `key`'s pushes and rows not yet sent (not its retractions), in a transaction."""
    unsent = "post_id IN (SELECT id FROM posts WHERE key = ?) AND kind != 'retraction'"
    await db.execute(
        "UPDATE outbox SET status = 'cancelled', updated_at = ? WHERE status IN "
        f"('pending', 'retry') AND push_id IN (SELECT id FROM pushes WHERE {unsent})",
        (stamp(now), key),
    )
    await db.execute(
        "UPDATE pushes SET status = 'cancelled' "
        f"WHERE status IN ('pending', 'waiting') AND {unsent}",
        (key,),
    )


class SqliteOutbox:
    """Pushes and deliveries in the `pushes` and `outbox` tables; each method one transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def queue(
        self, key: str, kind: PushKind, *, now: datetime, only: Target | None = None
    ) -> int | None:
        """Queue a push of post `key` (to chat `only`, if given); its id, or None if unknown.

        A repost to every chat goes now, in place of a first alert still waiting for its page
        (which would reach the same chats again later).
        """
        async with self._database.write() as db:
            if kind is PushKind.REPOST and only is None:
                await db.execute(
                    "UPDATE pushes SET status = 'cancelled' WHERE status = 'waiting' "
                    "AND post_id = (SELECT id FROM posts WHERE key = ?)",
                    (key,),
                )
            cursor = await db.execute(
                "INSERT INTO pushes (post_id, kind, status, only_target, created_at) "
                "SELECT id, ?, 'pending', ?, ? FROM posts WHERE key = ? RETURNING id",
                (kind.value, None if only is None else only.id, stamp(now), key),
            )
            row = await cursor.fetchone()
            await cursor.close()
        return None if row is None else int(row[0])

    async def cancel_unsent(self, key: str, *, now: datetime) -> None:
        """Cancel post `key`'s pushes not yet sent (not its retractions)."""
        async with self._database.write() as db:
            await cancel_unsent(db, key, now=now)

    async def waiting(self) -> list[Waiting]:
        """The first alerts waiting for their pages, oldest first, with their posts' links."""
        query = (
            "SELECT p.id, posts.key, posts.url, posts.image_url, posts.image_file, p.created_at, "
            "posts.date_utc, posts.first_seen, p.told FROM pushes p "
            "JOIN posts ON posts.id = p.post_id WHERE p.status = 'waiting' ORDER BY p.id"
        )
        return [
            Waiting(
                push_id=int(row[0]),
                key=str(row[1]),
                url=str(row[2]),
                image_url=None if row[4] is not None else row[3],  # a file is uploaded instead
                since=unstamp(row[5]),
                is_scheduled=unstamp(row[6]) > unstamp(row[7]),
                told=row[8],
            )
            for row in await self._database.all(query)
        ]

    async def release(self, push_id: int) -> bool:
        """Let a waiting alert go; False if it no longer waits."""
        async with self._database.write() as db:
            cursor = await db.execute(
                "UPDATE pushes SET status = 'pending' WHERE id = ? AND status = 'waiting'",
                (push_id,),
            )
        return cursor.rowcount == 1

    async def tell(self, push_id: int, told: str) -> None:
        """Note what admins were told of a waiting alert."""
        async with self._database.write() as db:
            await db.execute("UPDATE pushes SET told = ? WHERE id = ?", (told, push_id))

    async def queued(self) -> list[QueuedPush]:
        """The pushes not yet fanned out, oldest first."""
        query = (
            "SELECT p.id, p.kind, posts.key, posts.categories, p.only_target, p.post_id "
            "FROM pushes p JOIN posts ON posts.id = p.post_id WHERE p.status = 'pending' "
            "ORDER BY p.id"
        )
        pushes = []
        for push_id, kind, key, categories, only, post_id in await self._database.all(query):
            reached = () if kind in FIRST_SENDS else await self._reached(post_id)
            pushes.append(
                QueuedPush(
                    push_id, PushKind(kind), key, tuple(json.loads(categories)), only, reached
                )
            )
        return pushes

    async def _reached(self, post_id: int) -> tuple[int, ...]:
        """Active chats holding a sent message of this post (subscribed or not)."""
        query = (
            "SELECT DISTINCT o.target_id FROM outbox o JOIN pushes p ON p.id = o.push_id "
            "JOIN targets t ON t.id = o.target_id WHERE p.post_id = ? AND p.kind IN "
            "('alert', 'repost') AND o.status = 'sent' AND o.ref_id IS NOT NULL "
            "AND t.is_active = 1 ORDER BY o.target_id"
        )
        return tuple(int(row[0]) for row in await self._database.all(query, (post_id,)))

    async def fan_out(self, chats: Mapping[int, Sequence[int]], *, now: datetime) -> int:
        """Write each queued push's deliveries, one per chat id given; return how many are new.

        A push cancelled since it was read (its post retracted or hidden) gets none.
        """
        added = 0
        async with self._database.write() as db:
            for push_id, targets in chats.items():
                cursor = await db.execute(
                    "UPDATE pushes SET status = 'fanned', fanned_at = ? "
                    "WHERE id = ? AND status = 'pending'",
                    (stamp(now), push_id),
                )
                if cursor.rowcount != 1:
                    continue
                before = db.total_changes
                await db.executemany(
                    "INSERT OR IGNORE INTO outbox (push_id, target_id, status, next_attempt_at, "
                    "created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?)",
                    [(push_id, target, stamp(now), stamp(now), stamp(now)) for target in targets],
                )
                added += db.total_changes - before
        return added

    async def claim(self, *, now: datetime, platforms: Sequence[str], limit: int) -> list[Job]:
        """Claim due deliveries, oldest first, one per chat at a time (only its oldest
        unfinished); none but retractions while paused."""
        if not platforms or limit <= 0:
            return []
        due = "SELECT 1 FROM outbox WHERE status IN ('pending', 'retry') AND next_attempt_at <= ?"
        if not await self._database.look(due + " LIMIT 1", (stamp(now),)):
            return []  # idle: a read beside the writer, not a write transaction
        marks = ", ".join("?" * len(platforms))
        async with self._database.write() as db:
            paused = " AND p.kind = 'retraction'" if await get_meta(db, PAUSED) == "1" else ""
            query = (
                "SELECT o.id AS row_id, o.attempts, p.kind, o.target_id, posts.* FROM outbox o "
                "JOIN pushes p ON p.id = o.push_id JOIN posts ON posts.id = p.post_id "
                "JOIN targets t ON t.id = o.target_id "
                "WHERE o.status IN ('pending', 'retry') AND o.next_attempt_at <= ? "
                f"AND t.is_active = 1 AND t.platform IN ({marks}){paused} "
                "AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.target_id = o.target_id "
                "AND e.id < o.id AND e.status IN ('pending', 'retry', 'sending')) "
                "ORDER BY o.id LIMIT ?"
            )
            async with db.execute(query, (stamp(now), *platforms, limit)) as cursor:
                rows = list(await cursor.fetchall())
            await db.executemany(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?",
                [(stamp(now), row["row_id"]) for row in rows],
            )
            # Read in the same transaction: a fault here undoes the claim, never strands it.
            return await self._jobs(rows) if rows else []

    async def _jobs(self, rows: list[sqlite3.Row]) -> list[Job]:
        """The claimed rows as jobs: each with its chat and the messages an edit changes."""
        targets = await self._targets({int(row["target_id"]) for row in rows})
        jobs = []
        for row in rows:
            kind, target = PushKind(row["kind"]), targets[int(row["target_id"])]
            edits = () if kind in FIRST_SENDS else await self._refs(row["id"], target.id)
            attempt = int(row["attempts"]) + 1
            jobs.append(Job(int(row["row_id"]), kind, record_of(row), target, attempt, edits))
        return jobs

    async def _targets(self, ids: set[int]) -> dict[int, Target]:
        marks = ", ".join("?" * len(ids))
        query = ANY_TARGET + f" WHERE t.id IN ({marks}) GROUP BY t.id"
        return {row["id"]: target_of(row) for row in await self._database.all(query, tuple(ids))}

    async def _refs(self, post_id: int, target_id: int) -> tuple[MessageRef, ...]:
        """The messages this chat holds of this post, oldest first: what an edit changes."""
        query = (
            "SELECT t.platform, o.ref_address, o.ref_id, o.ref_photo FROM outbox o "
            "JOIN pushes p ON p.id = o.push_id JOIN targets t ON t.id = o.target_id "
            "WHERE p.post_id = ? AND o.target_id = ? AND p.kind IN ('alert', 'repost') "
            "AND o.status = 'sent' AND o.ref_id IS NOT NULL ORDER BY o.id"
        )
        rows = await self._database.all(query, (post_id, target_id))
        return tuple(MessageRef(row[0], row[1], row[2], row[3]) for row in rows)

    async def sent(self, job: Job, ref: MessageRef | None, *, now: datetime) -> None:
        """Record a delivered job (with the message it made, for later edits)."""
        async with self._database.write() as db:
            made = (None, None, None) if ref is None else (ref.address, ref.message_id, ref.photo)
            await db.execute(
                "UPDATE outbox SET status = 'sent', ref_address = ?, ref_id = ?, ref_photo = ?, "
                "sent_at = ?, updated_at = ?, last_error = NULL WHERE id = ?",
                (*made, stamp(now), stamp(now), job.row_id),
            )
            if job.kind is PushKind.RETRACTION:  # those messages are gone: nothing left to edit
                await db.execute(
                    "UPDATE outbox SET ref_address = NULL, ref_id = NULL, ref_photo = NULL "
                    "WHERE target_id = ? AND push_id IN (SELECT id FROM pushes WHERE post_id = "
                    "(SELECT post_id FROM pushes WHERE id = "
                    "(SELECT push_id FROM outbox WHERE id = ?)))",
                    (job.target.id, job.row_id),
                )

    async def failed(self, job: Job, outcome: Outcome, *, now: datetime) -> None:
        """Record a failed attempt as judged, with what it does to its chat (gone, moved)."""
        target = job.target
        async with self._database.write() as db:
            if outcome.is_gone:  # this delivery and every other one the chat had waiting
                await deactivate(db, target.platform, target.address, error=outcome.error, now=now)
                return
            if outcome.moved_to is not None:
                await move(db, target.platform, target.address, outcome.moved_to)
            await db.execute(
                "UPDATE outbox SET status = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                "last_error = ?, attempts = ?, updated_at = ? WHERE id = ? AND status = 'sending'",
                (
                    outcome.status.value,
                    None if outcome.retry_at is None else stamp(outcome.retry_at),
                    outcome.error, outcome.attempts, stamp(now), job.row_id,
                ),
            )  # fmt: skip

    async def reset_in_flight(self, *, now: datetime) -> int:
        """At start: deliveries a crash left in flight go again (they may arrive twice)."""
        async with self._database.write() as db:
            cursor = await db.execute(
                "UPDATE outbox SET status = 'retry', updated_at = ? WHERE status = 'sending'",
                (stamp(now),),
            )
        return cursor.rowcount

    async def prune(self, *, now: datetime, window: timedelta) -> int:
        """Forget finished deliveries older than the edit window (they can no longer be edited),
        failed ones after KEEP_FAILED (shown by status until then), and the pushes left with
        no delivery; return how many deliveries went."""
        async with self._database.write() as db:
            cursor = await db.execute(
                "DELETE FROM outbox WHERE (status IN ('sent', 'cancelled') AND updated_at < ?) "
                "OR (status IN ('dead', 'rejected') AND updated_at < ?)",
                (stamp(now - window), stamp(now - max(window, KEEP_FAILED))),
            )
            await db.execute(
                "DELETE FROM pushes WHERE status NOT IN ('pending', 'waiting') AND created_at < ? "
                "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.push_id = pushes.id)",
                (stamp(now - max(window, BURST_WINDOW)),),
            )
        return cursor.rowcount

    async def progress(self, push_id: int) -> Progress | None:
        """How far a push has come, or None while it is not fanned out yet."""
        row = await self._database.one("SELECT status FROM pushes WHERE id = ?", (push_id,))
        if row is None or row[0] == "pending":
            return None
        query = "SELECT status, COUNT(*) FROM outbox WHERE push_id = ? GROUP BY status"
        counts = {str(status): int(n) for status, n in await self._database.all(query, (push_id,))}
        failed = sum(counts.get(s, 0) for s in ("dead", "rejected", "cancelled"))
        return Progress(counts.get("sent", 0), failed, sum(counts.values()))

    async def deliveries(self, *, key: str | None = None) -> list[Delivered]:
        """Every delivery (of post `key`), oldest first."""
        query = (
            "SELECT o.push_id, p.kind, posts.key, t.platform, t.address, o.status, o.attempts, "
            "o.next_attempt_at, o.last_error, o.ref_address, o.ref_id, o.ref_photo FROM outbox o "
            "JOIN pushes p ON p.id = o.push_id JOIN posts ON posts.id = p.post_id "
            "JOIN targets t ON t.id = o.target_id"
            + ("" if key is None else " WHERE posts.key = ?")
            + " ORDER BY o.id"
        )
        rows = await self._database.all(query, () if key is None else (key,))
        return [_delivered(row) for row in rows]

    async def set_paused(self, is_paused: bool) -> None:
        """Hold every push but retractions, or let them go again."""
        async with self._database.write() as db:
            await set_meta(db, PAUSED, "1" if is_paused else "0")


def _delivered(row: sqlite3.Row) -> Delivered:
    platform, address, ref_id = row["platform"], row["ref_address"], row["ref_id"]
    return Delivered(
        push_id=int(row["push_id"]),
        kind=PushKind(row["kind"]),
        key=str(row["key"]),
        platform=str(platform),
        address=str(row["address"]),
        status=DeliveryStatus(row["status"]),
        attempts=int(row["attempts"]),
        next_attempt_at=unstamp(row["next_attempt_at"]),
        last_error=row["last_error"],
        ref=None if ref_id is None else MessageRef(platform, address, ref_id, row["ref_photo"]),
    )
