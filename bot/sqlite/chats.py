"""The chats on SQLite: targets, their options and subscriptions, static or by command."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.lookup import fold
from bot.model import DiscordOptions, Target, TelegramOptions
from bot.outcome import ERROR_CHARS
from bot.sqlite.connection import Database, stamp
from bot.sqlite.rows import ACTIVE_TARGETS, ANY_TARGET, OPTION_COLUMNS, listed, target_of
from bot.storage import StaticChat

EVERY_POST = ""  # the subscription row that takes every post
_ID = "(SELECT id FROM targets WHERE platform = ? AND address = ?)"


class SqliteChats:
    """Chats in the `targets` and `subscriptions` tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def target(self, platform: str, address: str) -> Target | None:
        """A chat's target, if known (subscribed or not)."""
        query = ANY_TARGET + " WHERE t.platform = ? AND t.address = ? GROUP BY t.id"
        row = await self._database.one(query, (platform, address))
        return None if row is None else target_of(row)

    async def active_targets(self) -> list[Target]:
        """Every active chat with at least one subscription."""
        return [target_of(row) for row in await self._database.all(ACTIVE_TARGETS)]

    async def subscribed(self, platform: str, address: str) -> Target | None:
        """A chat's target if it is active with at least one subscription."""
        query = ACTIVE_TARGETS.replace(
            " GROUP BY", " AND t.platform = ? AND t.address = ? GROUP BY"
        )
        row = await self._database.one(query, (platform, address))
        return None if row is None else target_of(row)

    async def reach(self, categories: Sequence[str]) -> int:
        """How many active chats a post in `categories` reaches."""
        [row] = await self._database.look(
            "SELECT COUNT(DISTINCT s.target_id) FROM subscriptions s "
            "JOIN targets t ON t.id = s.target_id AND t.is_active = 1 "
            "WHERE s.category = '' OR sokbo_fold(s.category) IN (SELECT value FROM json_each(?))",
            (listed(fold(name) for name in categories),),
        )
        return int(row[0])

    async def subscribe(
        self,
        platform: str,
        address: str,
        categories: Sequence[str],
        *,
        now: datetime,
        language: str | None = None,
        kind: str = "",
    ) -> Target:
        """Subscribe a chat to every post (no categories) or to more categories; reactivate it."""
        names = list(dict.fromkeys(categories))
        async with self._database.write() as db:
            await db.execute(
                "INSERT INTO targets (platform, address, language, kind, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, address) DO UPDATE SET "
                "is_active = 1, language = coalesce(excluded.language, language), "
                "kind = coalesce(nullif(excluded.kind, ''), kind)",
                (platform, address, language, kind, stamp(now)),
            )
            if not names:
                await _clear(db, platform, address)
            await _add(db, platform, address, names)
        return await self._known(platform, address)

    async def unsubscribe(self, platform: str, address: str, categories: Sequence[str]) -> None:
        """Remove some categories, or (none given) every subscription of a chat."""
        async with self._database.write() as db:
            if not categories:
                await _clear(db, platform, address)
            for name in categories:
                await db.execute(
                    f"DELETE FROM subscriptions WHERE target_id = {_ID} AND category = ?",
                    (platform, address, name),
                )

    async def ensure_target(self, platform: str, address: str, *, now: datetime) -> Target:
        """A chat's target, recorded (with no subscription) when new."""
        async with self._database.write() as db:
            await db.execute(
                "INSERT OR IGNORE INTO targets (platform, address, created_at) VALUES (?, ?, ?)",
                (platform, address, stamp(now)),
            )
        return await self._known(platform, address)

    async def apply_static(
        self, chats: Sequence[StaticChat], *, platforms: Sequence[str], now: datetime
    ) -> int:
        """Make `chats` exactly the static chats of `platforms`: subscribe them, demote the rest.

        A chat taken out of the config loses its subscriptions (it gets no more pushes) and
        returns to being an ordinary chat; return how many were.
        """
        listed = {(chat.platform, chat.address) for chat in chats}
        async with self._database.write() as db:
            for chat in chats:
                await db.execute(_UPSERT_STATIC, _static_row(chat, now))
                await _clear(db, chat.platform, chat.address)
                await _add(db, chat.platform, chat.address, list(dict.fromkeys(chat.categories)))
            marks = ", ".join("?" * len(platforms))
            query = (
                "SELECT id, platform, address FROM targets "
                f"WHERE is_static = 1 AND platform IN ({marks})"
            )
            async with db.execute(query, tuple(platforms)) as cursor:
                dropped = [row[0] async for row in cursor if (row[1], row[2]) not in listed]
            for target_id in dropped:
                await db.execute("DELETE FROM subscriptions WHERE target_id = ?", (target_id,))
                await db.execute(_DEMOTE, (target_id,))
        return len(dropped)

    async def move(self, platform: str, address: str, new_address: str) -> None:
        """Follow a chat to its new address (a migrated group), keeping its subscriptions."""
        async with self._database.write() as db:
            await move(db, platform, address, new_address)

    async def deactivate(self, platform: str, address: str, *, error: str, now: datetime) -> None:
        """Stop sending to a chat that is gone; its unfinished deliveries are rejected."""
        async with self._database.write() as db:
            await deactivate(db, platform, address, error=error, now=now)

    async def _known(self, platform: str, address: str) -> Target:
        target = await self.target(platform, address)
        assert target is not None  # just written
        return target


async def deactivate(
    db: aiosqlite.Connection, platform: str, address: str, *, error: str, now: datetime
) -> None:
    """Deactivate a chat and reject its unfinished deliveries, in the caller's transaction."""
    await db.execute(
        "UPDATE targets SET is_active = 0 WHERE platform = ? AND address = ?", (platform, address)
    )
    await db.execute(
        "UPDATE outbox SET status = 'rejected', last_error = ?, updated_at = ? "
        f"WHERE status IN ('pending', 'retry', 'sending') AND target_id = {_ID}",
        (error[:ERROR_CHARS], stamp(now), platform, address),
    )


async def move(db: aiosqlite.Connection, platform: str, address: str, new_address: str) -> None:
    """Give a chat its new address, in the caller's transaction.

    When the new address is a chat sokbo knows already (the supergroup subscribed before the
    group's move was seen), the two become one: the old one's subscriptions and waiting
    deliveries go to it (one per push), and the old one is retired.
    """
    query = "SELECT id FROM targets WHERE platform = ? AND address = ?"
    async with db.execute(query, (platform, new_address)) as cursor:
        known = await cursor.fetchone()
    if known is None:
        await db.execute(
            "UPDATE targets SET address = ? WHERE platform = ? AND address = ?",
            (new_address, platform, address),
        )
        return
    await _merge(db, old=(platform, address), new_id=int(known[0]))


async def _merge(db: aiosqlite.Connection, *, old: tuple[str, str], new_id: int) -> None:
    """Fold chat `old` (platform, address) into the known chat `new_id`."""
    old_id = _ID  # its id, by (platform, address)
    await db.execute(
        "INSERT OR IGNORE INTO subscriptions (target_id, category) "
        f"SELECT ?, category FROM subscriptions WHERE target_id = {old_id}",
        (new_id, *old),
    )
    await db.execute(  # the union: if either took every post, the one chat does
        "DELETE FROM subscriptions WHERE target_id = ? AND category != ? AND EXISTS "
        "(SELECT 1 FROM subscriptions WHERE target_id = ? AND category = ?)",
        (new_id, EVERY_POST, new_id, EVERY_POST),
    )
    unfinished = "status IN ('pending', 'retry', 'sending')"
    await db.execute(  # a push the new chat has already stays its own; the old one's goes
        f"UPDATE OR IGNORE outbox SET target_id = ? WHERE target_id = {old_id} AND {unfinished}",
        (new_id, *old),
    )
    await db.execute(
        "UPDATE outbox SET status = 'cancelled', last_error = 'the chat moved to one that has it' "
        f"WHERE target_id = {old_id} AND {unfinished}",
        old,
    )
    await db.execute(f"DELETE FROM subscriptions WHERE target_id = {old_id}", old)
    await db.execute("UPDATE targets SET is_active = 0 WHERE platform = ? AND address = ?", old)
    await db.execute("UPDATE targets SET is_active = 1 WHERE id = ?", (new_id,))


async def _clear(db: aiosqlite.Connection, platform: str, address: str) -> None:
    """Remove every subscription of a chat."""
    await db.execute(f"DELETE FROM subscriptions WHERE target_id = {_ID}", (platform, address))


async def _add(db: aiosqlite.Connection, platform: str, address: str, names: list[str]) -> None:
    """Add subscriptions (none named: every post); a category narrows an every-post one."""
    for name in names or [EVERY_POST]:
        await db.execute(
            f"INSERT OR IGNORE INTO subscriptions (target_id, category) VALUES ({_ID}, ?)",
            (platform, address, name),
        )
    if names:
        await db.execute(
            f"DELETE FROM subscriptions WHERE category = ? AND target_id = {_ID}",
            (EVERY_POST, platform, address),
        )


_UPSERT_STATIC = (
    "INSERT INTO targets (platform, address, language, kind, is_static, created_at, "
    f"{', '.join(OPTION_COLUMNS)}) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (platform, address) DO UPDATE SET is_active = 1, is_static = 1, "
    "language = excluded.language, kind = excluded.kind, "
    + ", ".join(f"{column} = excluded.{column}" for column in OPTION_COLUMNS)
)

_DEMOTE = (  # an ordinary chat again: the config's options go with its place in the config
    "UPDATE targets SET is_static = 0, thread_id = NULL, is_silent = 0, link_preview = 1, "
    "mention_role = NULL, crosspost = 0 WHERE id = ?"
)


def _static_row(chat: StaticChat, now: datetime) -> tuple[object, ...]:
    telegram = chat.options if isinstance(chat.options, TelegramOptions) else TelegramOptions()
    discord = chat.options if isinstance(chat.options, DiscordOptions) else DiscordOptions()
    return (
        chat.platform, chat.address, chat.language, chat.kind, stamp(now),
        telegram.thread_id, int(telegram.is_silent), int(telegram.link_preview),
        discord.mention_role, int(discord.crosspost),
    )  # fmt: skip
