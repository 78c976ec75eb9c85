"""Storage faults while running: told once when they start and when they clear, retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from bot.clock import Clock, sleep_or
from bot.storage import StoreUnavailable

RETRY_FIRST_S = 1.0  # the first wait before trying storage again …
RETRY_LONGEST_S = 30.0  # … doubling up to this

log = logging.getLogger(__name__)

Result = TypeVar("Result")


class StoreFaults:
    """One fault at a time, shared by everything that writes: one log line and one notice
    when storage stops answering, one more when it is back."""

    def __init__(self, clock: Clock, *, on_notice: Callable[[str], None]) -> None:
        self.clock = clock
        self.on_notice = on_notice
        self.since: datetime | None = None  # when the current fault began
        self._failing = 0  # operations waiting for storage now: it is back when none is

    def failed(self, error: StoreUnavailable) -> None:
        """Note a failed operation; the first of a fault is logged and told to admins."""
        if self.since is None:
            self.since = self.clock.now()
            log.warning("storage unavailable: %s; sokbo retries until it is back", error)
            self.on_notice(f"storage unavailable: {error}; retrying, nothing is lost")

    def recovered(self) -> None:
        """Note a successful operation; it ends a fault, if there was one."""
        if self.since is not None:
            seconds = (self.clock.now() - self.since).total_seconds()
            self.since = None
            log.info("storage is back after %.0f s", seconds)
            self.on_notice(f"storage is back after {seconds:.0f} s")

    async def retry(
        self, operation: Callable[[], Awaitable[Result]], *, stop: asyncio.Event | None = None
    ) -> Result:
        """Run `operation` until storage takes it, waiting longer after each fault.

        Storage is told back only when every operation that met the fault has gone through.
        With `stop`, a stop during a wait ends the retrying: the last fault is raised.
        """
        wait, is_failing = RETRY_FIRST_S, False
        try:
            while True:
                try:
                    result = await operation()
                except StoreUnavailable as error:
                    self._failing += 0 if is_failing else 1
                    is_failing = True
                    self.failed(error)
                    await self._wait(wait, stop, error)
                    wait = min(wait * 2, RETRY_LONGEST_S)
                    continue
                if is_failing:
                    is_failing, self._failing = False, self._failing - 1
                    if not self._failing:
                        self.recovered()
                return result
        finally:
            self._failing -= 1 if is_failing else 0  # gave up (stopping) while it failed

    async def _wait(
        self, seconds: float, stop: asyncio.Event | None, error: StoreUnavailable
    ) -> None:
        """Wait before the next try; raise `error` if `stop` comes first."""
        if stop is None:
            await self.clock.sleep(seconds)
            return
        await sleep_or(self.clock, seconds, stop)
        if stop.is_set():
            raise error
