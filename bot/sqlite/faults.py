"""SQLite's errors as storage errors: which are faults of the file or disk, and what each says."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from bot.storage import StoreError, StoreUnavailable

# What each result code (https://sqlite.org/rescode.html) says went wrong; an extended code is
# looked up before its primary one. Codes not listed (SQLITE_ERROR, SQLITE_CONSTRAINT,
# SQLITE_MISUSE …) are mistakes in sokbo, not faults of the file, and stay raised as they are.
CAUSES = {
    sqlite3.SQLITE_BUSY: "locked by another process",
    sqlite3.SQLITE_LOCKED: "locked by another connection",
    sqlite3.SQLITE_PROTOCOL: "locked by another process",
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "the disk cannot be read or written",
    sqlite3.SQLITE_READONLY: "the file cannot be written (read-only)",
    sqlite3.SQLITE_READONLY_DBMOVED: "the file was deleted or replaced while open",
    sqlite3.SQLITE_READONLY_DIRECTORY: "its folder cannot be written (read-only)",
    sqlite3.SQLITE_CANTOPEN: "the file or its write-ahead log cannot be opened",
    sqlite3.SQLITE_PERM: "access to the file is denied",
}
# A damaged file stays damaged: it needs a person, not a retry.
DAMAGED = {
    sqlite3.SQLITE_CORRUPT: "the file is damaged",
    sqlite3.SQLITE_NOTADB: "the file is not a database, or is damaged",
}
RESTORE = "restore it from a backup"


def fault(error: sqlite3.Error, name: str) -> StoreError | None:
    """The storage error `error` is a fault of database `name`, or None if it is a mistake."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    code_name = getattr(error, "sqlite_errorname", code)
    if (damage := DAMAGED.get(code & 0xFF)) is not None:
        return StoreError(f"{name}: {damage} ({code_name}): {RESTORE}")
    cause = CAUSES.get(code, CAUSES.get(code & 0xFF))
    return None if cause is None else StoreUnavailable(f"{name}: {cause} ({code_name})")


@contextmanager
def translated(name: str) -> Iterator[None]:
    """Raise each fault of database `name` in the block as StoreUnavailable (or StoreError)."""
    try:
        yield
    except sqlite3.Error as error:
        if (store_error := fault(error, name)) is None:
            raise
        raise store_error from error
