"""Fakes for tests: a clock whose time moves only when the test moves it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta


class FakeClock:
    """A Clock for tests: `sleep` waits until the test advances time past its wake-up."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        """Return the fake current time."""
        return self.current

    async def sleep(self, seconds: float) -> None:
        """Wait until time has been advanced by `seconds`."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (
            self.current + timedelta(seconds=seconds),
            asyncio.get_running_loop().create_future(),
        )
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    @property
    def wake_times(self) -> list[datetime]:
        """When the tasks sleeping now will wake, earliest first."""
        return sorted(wake for wake, _ in self._sleepers)

    def advance(self, **delta: float) -> None:
        """Move time forward (timedelta keywords) and wake every sleeper that is due."""
        self.current += timedelta(**delta)
        for wake, future in self._sleepers:
            if wake <= self.current and not future.done():
                future.set_result(None)


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until the loop is idle (bounded)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    """Wait for `condition` (work done in threads, like SQLite's), failing after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not true after {timeout_s} s: {condition}")
        await asyncio.sleep(0.01)
