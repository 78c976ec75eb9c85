"""Pacing on the Clock: sends spread evenly under a platform's limits, replies ahead of pushes."""

from __future__ import annotations

import asyncio
import bisect
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import Clock, sleep_or

FORGET_AFTER = 2_000  # keys remembered before those whose interval has passed are forgotten


@dataclass(order=True)
class _Waiter:
    rank: tuple[int, int]  # (0 urgent | 1 not, arrival): the order slots are handed out in
    key: str = field(compare=False)
    interval: timedelta = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


class Pacer:
    """Hands out send slots: at most `per_second` overall, one per `interval` per key.

    Slots are handed out evenly rather than in bursts, so a sliding-window limit on the
    platform's side never sees more than it allows. A slot goes to the first waiter, urgent
    ones (replies to readers) before the rest (pushes), whose key is free; a waiter whose
    chat had a message a moment ago does not hold up the others.
    """

    def __init__(self, clock: Clock, *, per_second: float, interval: timedelta) -> None:
        self.clock = clock
        self.spacing = timedelta(seconds=1 / per_second)
        self.interval = interval
        self._next: datetime | None = None  # the next slot overall
        self._free_at: dict[str, datetime] = {}  # the next slot for each key
        self._queue: list[_Waiter] = []  # kept in rank order
        self._arrivals = itertools.count()
        self._changed = asyncio.Event()
        self._handing_out: asyncio.Task[None] | None = None

    async def wait(
        self, key: str, *, interval: timedelta | None = None, is_urgent: bool = False
    ) -> None:
        """Wait for a slot for `key` (spaced by `interval` from its last, if given)."""
        rank = (0 if is_urgent else 1, next(self._arrivals))
        granted = asyncio.get_running_loop().create_future()
        waiter = _Waiter(rank, key, self.interval if interval is None else interval, granted)
        bisect.insort(self._queue, waiter)
        self._changed.set()
        if self._handing_out is None or self._handing_out.done():
            self._handing_out = asyncio.create_task(self._hand_out())
        try:
            await granted
        finally:
            if waiter in self._queue:  # cancelled while waiting: give up its place
                self._queue.remove(waiter)
                self._changed.set()

    def hold(self, key: str, until: datetime) -> None:
        """Give `key` no slot before `until` (the platform asked to wait: a 429)."""
        self._free_at[key] = max(until, self._free_at.get(key, until))
        self._changed.set()

    async def _hand_out(self) -> None:
        """Grant slots while anyone waits; sleep until the next one could be granted."""
        while self._queue:
            self._changed.clear()
            wait_s = self._grant(self.clock.now())
            if wait_s is not None:
                await sleep_or(self.clock, wait_s, self._changed)

    def _grant(self, now: datetime) -> float | None:
        """Grant the next slot if it has come; else the seconds until one might."""
        if self._next is not None and self._next > now:
            return (self._next - now).total_seconds()
        for waiter in self._queue:
            free = self._free_at.get(waiter.key)
            if free is None or free <= now:
                self._queue.remove(waiter)
                # A slot taken a little late keeps the average; after a pause, slots start anew.
                is_late = self._next is not None and now - self._next < self.spacing
                self._next = (self._next if is_late and self._next else now) + self.spacing
                self._free_at[waiter.key] = now + waiter.interval
                if not waiter.granted.done():
                    waiter.granted.set_result(None)
                self._forget(now)
                return None
        soonest = min(self._free_at[waiter.key] for waiter in self._queue)
        return (soonest - now).total_seconds()

    def _forget(self, now: datetime) -> None:
        if len(self._free_at) > FORGET_AFTER:
            self._free_at = {key: at for key, at in self._free_at.items() if at > now}
