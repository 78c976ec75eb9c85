"""The clock: the only place sokbo reads the wall clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol


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


async def sleep_or(
    clock: Clock,
    seconds: float | None,
    *events: asyncio.Event,
    tasks: Iterable[asyncio.Future[Any]] = (),
) -> None:
    """Wait `seconds` on `clock` (None: no limit), or until an event is set or a task ends."""
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait()) for event in events]
    if seconds is not None:
        waits.append(asyncio.ensure_future(clock.sleep(seconds)))
    try:
        await asyncio.wait([*waits, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
