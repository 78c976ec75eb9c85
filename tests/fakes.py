"""Fakes for tests: a clock that jumps instead of waiting."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta


class FakeClock:
    """A Clock whose sleep moves time forward at once (after letting other tasks run)."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        """Return the fake current time."""
        return self.current

    async def sleep(self, seconds: float) -> None:
        """Jump `seconds` ahead."""
        self.slept.append(seconds)
        await asyncio.sleep(0)
        self.current += timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        """Move time forward by a timedelta's keyword arguments."""
        self.current += timedelta(**delta)
