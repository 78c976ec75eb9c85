"""Storage faults while running: retried with backoff, told once when they begin and end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.errands import Errands
from bot.faults import StoreFaults
from bot.storage import StoreUnavailable
from tests.fakes import FakeClock, settle

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LOCKED = StoreUnavailable("sokbo.db: locked by another process (SQLITE_BUSY)")


class Flaky:
    """An operation that fails `times` times, then answers `done`."""

    def __init__(self, times: int) -> None:
        self.left = times
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise LOCKED
        return "done"


async def test_a_fault_met_by_several_operations_is_told_once_each_way() -> None:
    """Two writers fail for a while, a reader goes through meanwhile: one notice that storage
    is away, one that it is back, once the last writer got through."""
    clock, told = FakeClock(T0), list[str]()
    faults = StoreFaults(clock, on_notice=told.append)
    first = asyncio.create_task(faults.retry(Flaky(3)))
    second = asyncio.create_task(faults.retry(Flaky(5)))
    await settle()
    assert await faults.retry(Flaky(0)) == "done"  # never failed: says nothing
    for _ in range(40):
        clock.advance(seconds=1)
        await settle()
    assert (await first, await second) == ("done", "done")
    assert told == [  # the second writer waited 1 + 2 + 4 + 8 + 16 s
        f"storage unavailable: {LOCKED}; retrying, nothing is lost",
        "storage is back after 31 s",
    ]


async def test_retries_back_off_and_a_stop_ends_them() -> None:
    """Waits double from 1 s up to 30 s; a stop during a wait raises the fault, told nothing
    more."""
    clock, told, stop = FakeClock(T0), list[str](), asyncio.Event()
    faults = StoreFaults(clock, on_notice=told.append)
    flaky = Flaky(100)
    retrying = asyncio.create_task(faults.retry(flaky, stop=stop))
    waits = []
    for _ in range(7):
        await settle()
        waits.append((clock.wake_times[0] - clock.now()).total_seconds())
        clock.advance(seconds=waits[-1])
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    stop.set()
    await settle()
    assert retrying.done()
    assert isinstance(retrying.exception(), StoreUnavailable)
    assert len(told) == 1


async def test_a_chat_sides_errand_that_failed_does_not_stop_its_shutdown() -> None:
    """A /repost reply that met a storage fault ended with it; closing the errands still ends."""
    errands = Errands(outbox=None, clock=FakeClock(T0))  # type: ignore[arg-type]  # unused here

    async def failing() -> None:
        raise LOCKED

    errands.spawn(failing())
    errands.spawn(asyncio.sleep(3600))
    await settle()
    await errands.close()  # no StoreUnavailable out of it
