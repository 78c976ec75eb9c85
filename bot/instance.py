"""One `sokbo run` per database: an exclusive lock on a file beside it, freed by the kernel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import BotError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; one instance is then on trust
    fcntl = None  # type: ignore[assignment]


class AlreadyRunning(BotError):
    """Another sokbo service holds this database."""


def lock_path(database: Path) -> Path:
    """Return the lock file that guards `database`."""
    return database.with_name(database.name + ".lock")


@contextmanager
def single_instance(database: Path) -> Iterator[None]:
    """Hold the database's instance lock for the block, or raise AlreadyRunning at once.

    The lock dies with the process (even on kill -9), so a crash never leaves it stuck.
    """
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise AlreadyRunning(
                    f"another sokbo is already running on {database} (pid {holder}); "
                    "two would send every alert twice"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
