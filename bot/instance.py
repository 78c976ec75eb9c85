"""One `sokbo run` per database: an exclusive lock on a file beside it, freed by the kernel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import BotError
from bot.storage import StoreUnavailable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; one instance is then on trust
    fcntl = None  # type: ignore[assignment]


class AlreadyRunning(BotError):
    """Another sokbo service holds this database."""


def lock_path(database: Path) -> Path:
    """Return the lock file that guards `database`: beside the real file, through symlinks."""
    real = database.resolve()
    return real.with_name(real.name + ".lock")


class InstanceLock:
    """The held lock of one database, which can be taken again if its file is deleted.

    The lock dies with the process (even on kill -9), so a crash never leaves it stuck.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = lock_path(database)
        self._fd: int | None = None

    def take(self) -> None:
        """Hold the lock on the file now at its path, or raise AlreadyRunning at once.

        Taken again (its file deleted), the old file is let go once the new one is held.
        StoreUnavailable if the lock file cannot be made (a read-only folder, say).
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                self._lock(fd)
            except BaseException:
                os.close(fd)
                raise
        except OSError as exc:
            reason = exc.strerror or exc
            raise StoreUnavailable(f"{self.path}: cannot make the lock file: {reason}") from None
        self.release()
        self._fd = fd

    def _lock(self, fd: int) -> None:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise AlreadyRunning(
                    f"another sokbo is already running on {self.database} (pid {holder}); "
                    "two would send every alert twice"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)

    def is_in_place(self) -> bool:
        """Whether the file held is still the one at the lock's path (not deleted, replaced)."""
        if self._fd is None:
            return False
        held = os.fstat(self._fd)
        try:
            there = os.stat(self.path)
        except OSError:
            return False
        return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)

    def release(self) -> None:
        """Let the lock go, if held."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextmanager
def single_instance(database: Path) -> Iterator[InstanceLock]:
    """Hold the database's instance lock for the block, or raise AlreadyRunning at once."""
    lock = InstanceLock(database)
    lock.take()
    try:
        yield lock
    finally:
        lock.release()
