"""Pacing on the Clock: sends spread evenly under a platform's overall and per-chat limits."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import Clock


class Pacer:
    """Reserves each send a slot: at most `per_second` overall, one per `interval` per key.

    Slots are handed out evenly rather than in bursts, so a sliding-window limit on the
    platform's side never sees more than it allows.
    """

    def __init__(self, clock: Clock, *, per_second: float, interval: timedelta) -> None:
        self.clock = clock
        self.spacing = timedelta(seconds=1 / per_second)
        self.interval = interval
        self._next: datetime | None = None
        self._next_by_key: dict[str, datetime] = {}

    def reserve(self, key: str, *, interval: timedelta | None = None) -> datetime:
        """Take the earliest free slot for `key` (spaced by `interval`, if given) and return it."""
        now = self.clock.now()
        slot = max(now, self._next or now, self._next_by_key.get(key, now))
        self._next = slot + self.spacing
        self._next_by_key[key] = slot + (self.interval if interval is None else interval)
        return slot

    async def wait(self, key: str, *, interval: timedelta | None = None) -> None:
        """Wait for this send's slot."""
        delay = (self.reserve(key, interval=interval) - self.clock.now()).total_seconds()
        if delay > 0:
            await self.clock.sleep(delay)
