"""The clock: the only place sokbo reads the wall clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What waits or stamps time takes one of these."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on the event loop."""
        await asyncio.sleep(seconds)
