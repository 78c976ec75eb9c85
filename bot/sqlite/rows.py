"""Rows and values: how posts, refusals and chats are laid out in SQLite's tables."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.model import (
    DateSource,
    DiscordOptions,
    Post,
    PostState,
    Record,
    Target,
    TargetOptions,
    TelegramOptions,
)
from bot.sqlite.connection import stamp, unstamp
from bot.storage import Refusal

POST_COLUMNS = (
    "key, path, content_hash, title, excerpt, categories, tags, date, date_utc, date_source, "
    "is_published, url, image_url, image_path, image_file, notes, state, first_seen, "
    "is_alerted, pushed_at, updated_at"
)
UPSERT_POST = (
    f"INSERT INTO posts ({POST_COLUMNS}) VALUES ({', '.join('?' * 21)}) "
    "ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in POST_COLUMNS.split(", ")[1:])
)


_LIST = json.JSONEncoder(ensure_ascii=False).encode  # one encoder for every row, not one each


def listed(values: Iterable[str]) -> str:
    """Many values as one parameter, for `IN (SELECT value FROM json_each(?))`."""
    return _LIST(list(values))


def post_row(record: Record, now: datetime | str) -> tuple[Any, ...]:
    """A record as the values of UPSERT_POST (`now` may come stamped, for many rows)."""
    post = record.post
    return (
        post.key, post.path, post.content_hash, post.title, post.excerpt,
        _LIST(post.categories), _LIST(post.tags),
        post.date.isoformat(), stamp(post.date), post.date_source.value, int(post.is_published),
        post.url, post.image_url, post.image_path, post.image_file,
        _LIST(post.notes), record.state.value, stamp(record.first_seen),
        int(record.is_alerted), None if record.pushed_at is None else stamp(record.pushed_at),
        now if isinstance(now, str) else stamp(now),
    )  # fmt: skip


def record_of(row: sqlite3.Row) -> Record:
    """A `posts` row (its columns by name) as a Record."""
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


def refusal_of(row: sqlite3.Row) -> Refusal:
    """A `refused` row as a Refusal."""
    return Refusal(row["path"], row["reason"], row["line"], unstamp(row["first_seen"]))


OPTION_COLUMNS = ("thread_id", "is_silent", "link_preview", "mention_role", "crosspost")
ANY_TARGET = (
    "SELECT t.id, t.platform, t.address, t.language, t.is_static, t.kind, "
    f"{', '.join('t.' + column for column in OPTION_COLUMNS)}, "
    "group_concat(s.category, char(31)) AS categories FROM targets t "
    "LEFT JOIN subscriptions s ON s.target_id = t.id"
)
ACTIVE_TARGETS = ANY_TARGET.replace("LEFT JOIN", "JOIN") + " WHERE t.is_active = 1 GROUP BY t.id"


def target_of(row: sqlite3.Row) -> Target:
    """A row of ANY_TARGET or ACTIVE_TARGETS as a Target."""
    names = tuple(name for name in str(row["categories"] or "").split("\x1f") if name)
    return Target(
        int(row["id"]),
        str(row["platform"]),
        str(row["address"]),
        None if row["language"] is None else str(row["language"]),
        names,
        bool(row["is_static"]),
        str(row["kind"] or ""),
        _options(row),
    )


def _options(row: sqlite3.Row) -> TargetOptions:
    """The typed options of the platforms that have some; None for the others."""
    if row["platform"] == "telegram":
        return TelegramOptions(row["thread_id"], bool(row["is_silent"]), bool(row["link_preview"]))
    if row["platform"] == "discord":
        return DiscordOptions(row["mention_role"], bool(row["crosspost"]))
    return None
