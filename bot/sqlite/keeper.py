"""The keeper: a database file deleted or replaced while open is restored from its connection."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import aiosqlite

from bot.instance import InstanceLock
from bot.sqlite.connection import Database, connect
from bot.storage import StoreUnavailable

Identity = tuple[int, int]  # (device, inode): which file a path names


class SqliteKeeper:
    """Keeps the database file, and the instance lock if this opener holds it, where they were.

    SQLite goes on reading and writing a deleted file through its open descriptors (WAL mode),
    so nothing is lost until the process ends: the keeper copies that file back to its path
    with SQLite's backup API, and the backend goes on with the copy.
    """

    def __init__(self, database: Database, lock: InstanceLock | None) -> None:
        self._database = database
        self._lock = lock
        self._identity = identity(database.real_path)

    async def check(self) -> str | None:
        """Restore the lock and the file if either was deleted or replaced; say what was done.

        Raises AlreadyRunning if another sokbo took the lock meanwhile (the file is then left
        to it), StoreUnavailable if the restore cannot be done yet.
        """
        notices = []
        if self._lock is not None and not self._lock.is_in_place():
            remake_folder(self._database)
            self._lock.take()
            notices.append(f"{self._lock.path.name} was deleted: the instance lock is held again")
        if identity(self._database.real_path) != self._identity:
            remake_folder(self._database)
            notices.append(await self._restore())
        return "; ".join(notices) or None

    async def _restore(self) -> str:
        path, name = self._database.real_path, self._database.path
        copy = path.with_name(path.name + ".restoring")
        try:
            async with self._database.held() as db:
                await backup(db, copy)
                aside = set_aside(path)
                os.replace(copy, path)
                sync_folder(path.parent)
                timeout_ms = self._database.busy_timeout_ms
                self._database.switch(
                    await connect(path, busy_timeout_ms=timeout_ms),
                    await connect(path, busy_timeout_ms=timeout_ms),
                )
        except (OSError, sqlite3.Error) as exc:
            with contextlib.suppress(OSError):
                copy.unlink(missing_ok=True)
            raise StoreUnavailable(f"{name}: cannot be restored yet: {exc}") from None
        self._identity = identity(path)
        kept = "" if aside is None else f" (the file found there is kept as {aside.name})"
        how = "deleted" if aside is None else "replaced"
        return f"{name} was {how} while sokbo ran: restored from the open database{kept}"


def identity(path: Path) -> Identity | None:
    """Which file `path` names now, or None if none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def remake_folder(database: Database) -> None:
    """Make the database's folder again if it went with the file."""
    try:
        database.real_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"{database.path}: cannot make its folder again: {exc}") from None


async def backup(db: aiosqlite.Connection, copy: Path) -> None:
    """Write everything `db` holds into a new file at `copy`, in one step."""
    copy.unlink(missing_ok=True)  # what a failed restore left
    target = sqlite3.connect(copy, check_same_thread=False)  # aiosqlite's thread writes it
    try:
        await db.backup(target)
    finally:
        target.close()


def set_aside(path: Path) -> Path | None:
    """Move a file that replaced the database out of the way; drop the old WAL and index.

    The write-ahead log and its index at the path belong to the old file (or are gone): a new
    connection must not replay them onto the copy.
    """
    for stale in ("-wal", "-shm"):
        path.with_name(path.name + stale).unlink(missing_ok=True)
    if not os.path.lexists(path):
        return None
    aside = path.with_name(path.name + ".replaced")
    os.replace(path, aside)
    return aside


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
