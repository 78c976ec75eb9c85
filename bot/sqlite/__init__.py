"""The SQLite backend of storage: one file beside the site, opened once by the service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.instance import single_instance
from bot.sqlite.archive import SqliteArchive
from bot.sqlite.chats import SqliteChats
from bot.sqlite.connection import BUSY_TIMEOUT_MS, make_folder, open_database
from bot.sqlite.keeper import SqliteKeeper
from bot.sqlite.outbox import SqliteOutbox
from bot.sqlite.reports import SqliteReports
from bot.storage import Storage


@asynccontextmanager
async def open_sqlite(
    path: Path, *, exclusive: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> AsyncIterator[Storage]:
    """Open (creating and migrating) the SQLite file at `path` as storage; close it on exit.

    `exclusive` (the service) holds the instance lock first: AlreadyRunning if another does.
    """
    with contextlib.ExitStack() as stack:
        make_folder(path)
        lock = stack.enter_context(single_instance(path)) if exclusive else None
        async with open_database(path, busy_timeout_ms=busy_timeout_ms) as database:
            yield Storage(
                archive=SqliteArchive(database),
                chats=SqliteChats(database),
                outbox=SqliteOutbox(database),
                reports=SqliteReports(database),
                keeper=SqliteKeeper(database, lock),
            )
