"""The pacer on a fake clock: even slots, one key at a time, replies first, 429s held."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from bot.ratelimit import Pacer
from tests.fakes import FakeClock, settle

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class Sends:
    """Tasks waiting on a pacer, and when each got its slot."""

    def __init__(self, pacer: Pacer, clock: FakeClock) -> None:
        self.pacer = pacer
        self.clock = clock
        self.granted: list[tuple[str, float]] = []  # (name, seconds after T0)
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def wait(self, name: str, key: str, *, is_urgent: bool = False) -> None:
        """Start a waiter called `name` for `key`."""

        async def one() -> None:
            await self.pacer.wait(key, is_urgent=is_urgent)
            self.granted.append((name, (self.clock.now() - T0).total_seconds()))

        self.tasks[name] = asyncio.create_task(one())

    async def run_for(self, seconds: float, *, step: float = 0.05) -> None:
        """Move the clock on in small steps, letting every waiter run."""
        await settle()
        for _ in range(round(seconds / step)):
            self.clock.advance(seconds=step)
            await settle()


def pacer(clock: FakeClock) -> Pacer:
    """2 slots a second overall, one a second per key."""
    return Pacer(clock, per_second=2, interval=timedelta(seconds=1))


async def test_slots_are_even_and_in_order() -> None:
    """Four sends to four chats go 0.5 s apart, first come first served."""
    clock = FakeClock(T0)
    sends = Sends(pacer(clock), clock)
    for name in "abcd":
        sends.wait(name, name)
    await sends.run_for(2)
    assert sends.granted == [("a", 0.0), ("b", 0.5), ("c", 1.0), ("d", 1.5)]


async def test_replies_go_ahead_of_waiting_pushes() -> None:
    """A reply that arrives behind queued pushes gets the next slot."""
    clock = FakeClock(T0)
    sends = Sends(pacer(clock), clock)
    for number in range(4):
        sends.wait(f"push{number}", f"chat{number}")
    await settle()
    sends.wait("reply", "reader", is_urgent=True)
    await sends.run_for(2.5)
    assert [name for name, _ in sends.granted] == ["push0", "reply", "push1", "push2", "push3"]


async def test_a_busy_chat_does_not_hold_up_the_others() -> None:
    """A second send to a chat waits its interval; sends to other chats pass it meanwhile."""
    clock = FakeClock(T0)
    sends = Sends(pacer(clock), clock)
    sends.wait("a1", "a")
    sends.wait("a2", "a")
    sends.wait("b1", "b")
    await sends.run_for(2)
    assert sends.granted == [("a1", 0.0), ("b1", 0.5), ("a2", 1.0)]


async def test_a_held_chat_waits_and_others_go_on() -> None:
    """After a 429 for one chat, it gets nothing until the hold ends; others go on."""
    clock = FakeClock(T0)
    pace = pacer(clock)
    pace.hold("a", T0 + timedelta(seconds=3))
    sends = Sends(pace, clock)
    sends.wait("a1", "a", is_urgent=True)
    sends.wait("b1", "b")
    sends.wait("c1", "c")
    await sends.run_for(4)
    assert sends.granted == [("b1", 0.0), ("c1", 0.5), ("a1", 3.0)]


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    """A waiter cancelled in the queue takes no slot; the next one has it."""
    clock = FakeClock(T0)
    sends = Sends(pacer(clock), clock)
    for name in "abc":
        sends.wait(name, name)
    await settle()
    sends.tasks["b"].cancel()
    await sends.run_for(2)
    assert sends.granted == [("a", 0.0), ("c", 0.5)]


async def test_a_burst_never_exceeds_the_rate() -> None:
    """Forty sends to twenty chats: no two closer than the spacing, no chat twice within 1 s."""
    clock = FakeClock(T0)
    sends = Sends(pacer(clock), clock)
    for number in range(40):
        sends.wait(f"s{number}", f"chat{number % 20}", is_urgent=number % 3 == 0)
    await sends.run_for(21)
    assert len(sends.granted) == 40
    times = [at for _, at in sends.granted]
    assert all(later - earlier >= 0.5 - 1e-9 for earlier, later in itertools.pairwise(times))
    by_chat: dict[str, list[float]] = {}
    for name, at in sends.granted:
        by_chat.setdefault(f"chat{int(name[1:]) % 20}", []).append(at)
    assert all(b - a >= 1 for at in by_chat.values() for a, b in itertools.pairwise(at))
