"""The SQLite backend of storage: one file beside the site, opened once by the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.sqlite.archive import SqliteArchive
from bot.sqlite.chats import SqliteChats
from bot.sqlite.connection import open_database
from bot.sqlite.outbox import SqliteOutbox
from bot.sqlite.reports import SqliteReports
from bot.storage import Storage


@asynccontextmanager
async def open_sqlite(path: Path) -> AsyncIterator[Storage]:
    """Open (creating and migrating) the SQLite file at `path` as storage; close it on exit."""
    async with open_database(path) as database:
        yield Storage(
            archive=SqliteArchive(database),
            chats=SqliteChats(database),
            outbox=SqliteOutbox(database),
            reports=SqliteReports(database),
        )
