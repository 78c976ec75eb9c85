"""SQLite queries of delivery: targets and subscriptions, fan-out, claims, outcomes, pruning."""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.model import DeliveryStatus, MessageRef, PushKind, Target
from bot.store import Store, stamp, transaction

UNFINISHED = ("pending", "retry", "sending")


def fold(name: str) -> str:
    """A category name as matched: NFC, case-folded."""
    return unicodedata.normalize("NFC", name).casefold().strip()


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed outbox row, with what its worker needs."""

    row_id: int
    kind: PushKind
    key: str
    target: Target
    attempts: int
    refs: tuple[MessageRef, ...]  # the messages a correction edits or a retraction deletes


class Outbox:
    """Delivery's tables, on the store's connection; each method is one transaction."""

    def __init__(self, store: Store) -> None:
        self._db = store.db
        self._lock = store.lock

    async def _write(self, statements: Iterable[tuple[str, Sequence[object]]]) -> None:
        async with self._lock, transaction(self._db):
            for sql, parameters in statements:
                await self._db.execute(sql, parameters)

    async def target(self, platform: str, address: str) -> Target | None:
        """Return the target for a chat, if it is known (subscribed or not)."""
        query = _TARGETS_ANY + " WHERE t.platform = ? AND t.address = ? GROUP BY t.id"
        async with self._db.execute(query, (platform, address)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _target(row)

    async def subscribe(
        self,
        platform: str,
        address: str,
        categories: Sequence[str],
        *,
        now: datetime,
        language: str | None = None,
        is_static: bool = False,
        kind: str = "",
        options: Mapping[str, object] | None = None,
    ) -> Target:
        """Subscribe a chat to every post (no categories) or to more categories; reactivate it."""
        names = list(dict.fromkeys(categories)) or [""]
        statements: list[tuple[str, Sequence[object]]] = [
            (
                "INSERT INTO targets (platform, address, language, is_static, kind, options, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, address) DO "
                "UPDATE SET is_active = 1, language = coalesce(excluded.language, language), "
                "is_static = max(is_static, excluded.is_static), "
                "kind = coalesce(nullif(excluded.kind, ''), kind), "
                "options = CASE WHEN excluded.is_static THEN excluded.options ELSE options END",
                (
                    platform,
                    address,
                    language,
                    int(is_static),
                    kind,
                    json.dumps(dict(options or {})),
                    stamp(now),
                ),
            )
        ]
        target_id = "(SELECT id FROM targets WHERE platform = ? AND address = ?)"
        if names == [""] or is_static:
            statements.append(
                (f"DELETE FROM subscriptions WHERE target_id = {target_id}", (platform, address))
            )
        for name in names:
            statements.append(
                (
                    "INSERT OR IGNORE INTO subscriptions (target_id, category) "
                    f"VALUES ({target_id}, ?)",
                    (platform, address, name),
                )
            )
        if names != [""]:  # categories narrow an all-posts subscription
            statements.append(
                (
                    f"DELETE FROM subscriptions WHERE category = '' AND target_id = {target_id}",
                    (platform, address),
                )
            )
        await self._write(statements)
        target = await self.target(platform, address)
        assert target is not None  # just written
        return target

    async def ensure_target(self, platform: str, address: str, *, now: datetime) -> Target:
        """Return a chat's target, recording it (with no subscription) when new."""
        await self._write(
            [
                (
                    "INSERT OR IGNORE INTO targets (platform, address, created_at) "
                    "VALUES (?, ?, ?)",
                    (platform, address, stamp(now)),
                )
            ]
        )
        target = await self.target(platform, address)
        assert target is not None  # just written
        return target

    async def move_target(self, target: Target, address: str) -> None:
        """Follow a chat to its new address (a migrated group), keeping its subscriptions."""
        await self._write([("UPDATE targets SET address = ? WHERE id = ?", (address, target.id))])

    async def deactivate(self, platform: str, address: str, *, error: str, now: datetime) -> None:
        """Stop sending to a chat that removed the bot; its unsent rows are rejected."""
        await self._write(
            [
                (
                    "UPDATE targets SET is_active = 0 WHERE platform = ? AND address = ?",
                    (platform, address),
                ),
                (
                    "UPDATE outbox SET status = 'rejected', last_error = ?, updated_at = ? "
                    "WHERE status IN ('pending', 'retry') AND target_id = "
                    "(SELECT id FROM targets WHERE platform = ? AND address = ?)",
                    (error[:500], stamp(now), platform, address),
                ),
            ]
        )

    async def unsubscribe(self, platform: str, address: str, categories: Sequence[str]) -> None:
        """Remove some categories, or (none given) every subscription of a chat."""
        target_id = "(SELECT id FROM targets WHERE platform = ? AND address = ?)"
        if not categories:
            await self._write(
                [(f"DELETE FROM subscriptions WHERE target_id = {target_id}", (platform, address))]
            )
            return
        await self._write(
            (
                f"DELETE FROM subscriptions WHERE target_id = {target_id} AND category = ?",
                (platform, address, name),
            )
            for name in categories
        )

    async def active_targets(self) -> list[Target]:
        """Every active target with at least one subscription."""
        async with self._db.execute(_TARGETS + " WHERE t.is_active = 1 GROUP BY t.id") as cursor:
            return [_target(row) async for row in cursor]

    async def queue(
        self, key: str, kind: PushKind, *, now: datetime, only_target: int | None = None
    ) -> int | None:
        """Queue a push of post `key` (a repost or retraction); its id, or None if unknown."""
        async with (
            self._lock,
            self._db.execute(
                "INSERT INTO pushes (post_id, kind, status, only_target, created_at) "
                "SELECT id, ?, 'pending', ?, ? FROM posts WHERE key = ? RETURNING id",
                (kind.value, only_target, stamp(now), key),
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def progress(self, push_id: int) -> tuple[int, int, int] | None:
        """(sent, failed, total) of a push's rows, or None while it is not fanned out yet."""
        async with self._db.execute("SELECT status FROM pushes WHERE id = ?", (push_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None or row[0] == "pending":
            return None
        query = "SELECT status, COUNT(*) FROM outbox WHERE push_id = ? GROUP BY status"
        async with self._db.execute(query, (push_id,)) as cursor:
            counts = {str(status): int(n) async for status, n in cursor}
        failed = sum(counts.get(s, 0) for s in ("dead", "rejected", "cancelled"))
        return counts.get("sent", 0), failed, sum(counts.values())

    async def cancel_unsent(self, key: str, *, now: datetime) -> None:
        """Cancel post `key`'s pushes not yet sent (not its retractions)."""
        unsent = "post_id IN (SELECT id FROM posts WHERE key = ?) AND kind != 'retraction'"
        await self._write(
            [
                (
                    "UPDATE outbox SET status = 'cancelled', updated_at = ? WHERE status IN "
                    f"('pending', 'retry') AND push_id IN (SELECT id FROM pushes WHERE {unsent})",
                    (stamp(now), key),
                ),
                (
                    f"UPDATE pushes SET status = 'cancelled' WHERE status = 'pending' AND {unsent}",
                    (key,),
                ),
            ]
        )

    async def fan_out(self, *, now: datetime) -> int:
        """Turn every pending push into one outbox row per matching target; return rows added."""
        query = (
            "SELECT p.id, p.kind, p.only_target, p.post_id, posts.categories FROM pushes p "
            "JOIN posts ON posts.id = p.post_id WHERE p.status = 'pending' ORDER BY p.id"
        )
        async with self._db.execute(query) as cursor:
            pushes = [tuple(row) async for row in cursor]
        if not pushes:
            return 0
        targets = await self.active_targets()
        statements: list[tuple[str, Sequence[object]]] = []
        added = 0
        for push_id, kind, only_target, post_id, categories in pushes:
            if only_target is not None:  # `/repost KEY here`: that chat, subscribed or not
                chosen = [only_target]
            elif kind in (PushKind.ALERT, PushKind.REPOST):
                wanted = json.loads(categories)
                chosen = [t.id for t in targets if reaches(t.categories, wanted)]
            else:
                chosen = await self._reached(post_id)
            for target_id in chosen:
                statements.append(
                    (
                        "INSERT OR IGNORE INTO outbox (push_id, target_id, status, "
                        "next_attempt_at, "
                        "created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?)",
                        (push_id, target_id, stamp(now), stamp(now), stamp(now)),
                    )
                )
            added += len(chosen)
            statements.append(
                (
                    "UPDATE pushes SET status = 'fanned', fanned_at = ? WHERE id = ?",
                    (stamp(now), push_id),
                )
            )
        await self._write(statements)
        return added

    async def _reached(self, post_id: int) -> list[int]:
        """Targets holding a sent message of this post (a correction never reaches new ones)."""
        query = (
            "SELECT DISTINCT o.target_id FROM outbox o JOIN pushes p ON p.id = o.push_id "
            "JOIN targets t ON t.id = o.target_id WHERE p.post_id = ? AND p.kind IN "
            "('alert', 'repost') AND o.status = 'sent' AND o.message_ref IS NOT NULL "
            "AND t.is_active = 1"
        )
        async with self._db.execute(query, (post_id,)) as cursor:
            return [int(row[0]) async for row in cursor]

    async def claim(
        self, *, now: datetime, platforms: Sequence[str], limit: int, is_paused: bool
    ) -> list[Job]:
        """Claim due rows, oldest first, at most one per target and only its oldest unfinished."""
        if not platforms or limit <= 0:
            return []
        marks = ", ".join("?" * len(platforms))
        paused = " AND p.kind = 'retraction'" if is_paused else ""
        query = (
            "SELECT o.id, o.attempts, p.kind, p.post_id, posts.key, o.target_id FROM outbox o "
            "JOIN pushes p ON p.id = o.push_id JOIN posts ON posts.id = p.post_id "
            "JOIN targets t ON t.id = o.target_id "
            "WHERE o.status IN ('pending', 'retry') AND o.next_attempt_at <= ? "
            "AND t.is_active = 1 "
            f"AND t.platform IN ({marks}){paused} AND NOT EXISTS (SELECT 1 FROM outbox e "
            "WHERE e.target_id = o.target_id AND e.id < o.id "
            "AND e.status IN ('pending', 'retry', 'sending')) "
            "ORDER BY o.id LIMIT ?"
        )
        async with self._db.execute(query, (stamp(now), *platforms, limit)) as cursor:
            rows = [tuple(row) async for row in cursor]
        if not rows:
            return []
        await self._write(
            (
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?",
                (stamp(now), row[0]),
            )
            for row in rows
        )
        targets = {t.id: t for t in await self._targets_by_id({int(row[5]) for row in rows})}
        jobs = []
        for row_id, attempts, kind, post_id, key, target_id in rows:
            refs = (
                ()
                if kind in (PushKind.ALERT, PushKind.REPOST)
                else await self._refs(post_id, target_id)
            )
            jobs.append(
                Job(
                    int(row_id),
                    PushKind(kind),
                    str(key),
                    targets[int(target_id)],
                    int(attempts) + 1,
                    refs,
                )
            )
        return jobs

    async def _targets_by_id(self, ids: set[int]) -> list[Target]:
        marks = ", ".join("?" * len(ids))
        query = _TARGETS_ANY + f" WHERE t.id IN ({marks}) GROUP BY t.id"
        async with self._db.execute(query, tuple(ids)) as cursor:
            return [_target(row) async for row in cursor]

    async def _refs(self, post_id: int, target_id: int) -> tuple[MessageRef, ...]:
        query = (
            "SELECT o.message_ref FROM outbox o JOIN pushes p ON p.id = o.push_id "
            "WHERE p.post_id = ? "
            "AND o.target_id = ? AND p.kind IN ('alert', 'repost') AND o.status = 'sent' "
            "AND o.message_ref IS NOT NULL ORDER BY o.id"
        )
        async with self._db.execute(query, (post_id, target_id)) as cursor:
            return tuple([MessageRef(**json.loads(row[0])) async for row in cursor])

    async def sent(self, job: Job, ref: MessageRef | None, *, now: datetime) -> None:
        """Record a delivered row (with the message it made, for later edits)."""
        value = (
            None
            if ref is None
            else json.dumps(
                {"platform": ref.platform, "address": ref.address, "message_id": ref.message_id}
            )
        )
        statements: list[tuple[str, Sequence[object]]] = [
            (
                "UPDATE outbox SET status = 'sent', message_ref = ?, sent_at = ?, updated_at = ?, "
                "last_error = NULL WHERE id = ?",
                (value, stamp(now), stamp(now), job.row_id),
            )
        ]
        if job.kind is PushKind.RETRACTION:  # those messages are gone: nothing left to edit
            statements.append(
                (
                    "UPDATE outbox SET message_ref = NULL WHERE target_id = ? "
                    "AND push_id IN (SELECT id FROM "
                    "pushes WHERE post_id = (SELECT post_id FROM pushes WHERE id = "
                    "(SELECT push_id FROM outbox WHERE id = ?)))",
                    (job.target.id, job.row_id),
                )
            )
        await self._write(statements)

    async def failed(
        self,
        job: Job,
        *,
        status: DeliveryStatus,
        error: str,
        now: datetime,
        retry_at: datetime | None = None,
        counts: bool = True,
    ) -> None:
        """Record a failed attempt: retry later, dead, or rejected. A rate limit does not count."""
        await self._write(
            [
                (
                    "UPDATE outbox SET status = ?, "
                    "next_attempt_at = coalesce(?, next_attempt_at), last_error = ?, "
                    "attempts = attempts - ?, updated_at = ? WHERE id = ?",
                    (
                        status.value,
                        None if retry_at is None else stamp(retry_at),
                        error[:500],
                        0 if counts else 1,
                        stamp(now),
                        job.row_id,
                    ),
                )
            ]
        )

    async def target_gone(self, job: Job, *, error: str, now: datetime) -> None:
        """Deactivate a target that is gone; its unsent rows are rejected, not retried."""
        await self._write(
            [
                ("UPDATE targets SET is_active = 0 WHERE id = ?", (job.target.id,)),
                (
                    "UPDATE outbox SET status = 'rejected', last_error = ?, updated_at = ? "
                    "WHERE target_id = ? "
                    "AND status IN ('pending', 'retry', 'sending')",
                    (error[:500], stamp(now), job.target.id),
                ),
            ]
        )

    async def reset_in_flight(self, *, now: datetime) -> int:
        """At start: rows a crash left in flight go again (they may arrive twice)."""
        before = self._db.total_changes
        await self._write(
            [
                (
                    "UPDATE outbox SET status = 'retry', updated_at = ? WHERE status = 'sending'",
                    (stamp(now),),
                )
            ]
        )
        return self._db.total_changes - before

    async def prune(self, *, now: datetime, window: timedelta) -> int:
        """Delete finished rows older than the edit window; they can no longer be edited."""
        before = self._db.total_changes
        await self._write(
            [
                (
                    "DELETE FROM outbox WHERE status IN ('sent', 'cancelled') AND updated_at < ?",
                    (stamp(now - window),),
                )
            ]
        )
        return self._db.total_changes - before

    async def counts(self) -> dict[str, int]:
        """Rows by status."""
        async with self._db.execute(
            "SELECT status, COUNT(*) FROM outbox GROUP BY status"
        ) as cursor:
            return {str(row[0]): int(row[1]) async for row in cursor}

    async def next_due(self) -> datetime | None:
        """When the earliest waiting row is due."""
        query = "SELECT min(next_attempt_at) FROM outbox WHERE status IN ('pending', 'retry')"
        async with self._db.execute(query) as cursor:
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])


_TARGETS_ANY = (
    "SELECT t.id, t.platform, t.address, t.language, t.is_static, t.kind, t.options, "
    "group_concat(s.category, char(31)) AS categories FROM targets t "
    "LEFT JOIN subscriptions s ON s.target_id = t.id"
)
_TARGETS = _TARGETS_ANY.replace("LEFT JOIN", "JOIN")


def _target(row: sqlite3.Row | tuple[object, ...]) -> Target:
    target_id, platform, address, language, is_static, kind, options, categories = tuple(row)
    names = tuple(name for name in str(categories or "").split("\x1f") if name)
    return Target(
        int(str(target_id)),
        str(platform),
        str(address),
        None if language is None else str(language),
        names,
        bool(is_static),
        str(kind or ""),
        str(options or "{}"),
    )


def reaches(subscribed: Sequence[str], categories: Sequence[str]) -> bool:
    """Whether a subscription to `subscribed` (none: everything) takes a post in `categories`."""
    if not subscribed:
        return True
    wanted = {fold(name) for name in subscribed}
    return any(fold(name) in wanted for name in categories)
