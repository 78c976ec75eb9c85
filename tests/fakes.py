"""Fakes for tests: a clock whose time moves only when the test moves it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.model import Message, MessageRef, Target
from bot.ratelimit import Pacer

if TYPE_CHECKING:
    from bot.delivery import Delivery


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


@dataclass(frozen=True)
class Call:
    """One call a FakePlatform received."""

    method: str  # send, edit, delete
    address: str
    key: str
    title: str


class FakePlatform:
    """A Platform that records calls and fails as scripted, per target address."""

    def __init__(self, name: str = "fake", *, pacer: Pacer | None = None) -> None:
        self.name = name
        self.pacer = pacer
        self.calls: list[Call] = []
        self.script: dict[str, list[Exception]] = {}  # address → errors to raise, in order
        self.down: Exception | None = None  # while set, the whole platform fails with it
        self.probes: list[bool] = []  # each probe, and whether the platform answered
        self._ids = 0

    def fail(self, address: str, *errors: Exception) -> None:
        """Make the next calls for `address` raise these errors, one per call."""
        self.script.setdefault(address, []).extend(errors)

    def _maybe_fail(self, address: str) -> None:
        if self.down is not None:
            raise self.down
        queued = self.script.get(address)
        if queued:
            raise queued.pop(0)

    async def ready(self, target: Target) -> None:
        """Wait for the pacer's slot, when there is one."""
        if self.pacer is not None:
            await self.pacer.wait(target.address)

    async def send(self, target: Target, message: Message) -> MessageRef:
        """Record a send; return a new message id."""
        self._maybe_fail(target.address)
        self.calls.append(Call("send", target.address, message.key, message.title))
        self._ids += 1
        return MessageRef(self.name, target.address, self._ids)

    async def edit(self, ref: MessageRef, message: Message) -> None:
        """Record an edit."""
        self._maybe_fail(ref.address)
        self.calls.append(Call("edit", ref.address, message.key, message.title))

    async def delete(self, ref: MessageRef, message: Message) -> None:
        """Record a delete."""
        self._maybe_fail(ref.address)
        self.calls.append(Call("delete", ref.address, message.key, message.title))

    async def probe(self) -> None:
        """Answer, unless the whole platform is down."""
        self.probes.append(self.down is None)
        if self.down is not None:
            raise self.down

    def sent_to(self, address: str) -> list[tuple[str, str]]:
        """(method, key) of the calls for one address, in order."""
        return [(call.method, call.key) for call in self.calls if call.address == address]


@contextmanager
def served_in_thread(
    start: Callable[[], Coroutine[Any, Any, None]], stop: Callable[[], Coroutine[Any, Any, None]]
) -> Iterator[None]:
    """Run a fake server on an event loop of its own thread, so a test may block while sokbo runs."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def deliver_until_done(delivery: Delivery, database: Path, *, timeout_s: float = 60) -> None:
    """Run the delivery engine until no push is waiting and no row is unfinished."""
    unfinished = "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'retry', 'sending')"
    waiting = "SELECT COUNT(*) FROM pushes WHERE status = 'pending'"

    def count(query: str) -> int:
        with sqlite3.connect(database) as db:
            return int(db.execute(query).fetchone()[0])

    stop = asyncio.Event()
    engine = asyncio.create_task(delivery.run(stop))
    try:
        await until(lambda: count(unfinished) == 0 and count(waiting) == 0, timeout_s=timeout_s)
    finally:
        stop.set()
        await engine
