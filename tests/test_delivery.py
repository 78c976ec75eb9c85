"""The outbox engine with a scripted fake platform and a fake clock, on each storage backend."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import BotSettings, Config, SiteConfig
from bot.delivery import Delivery
from bot.errors import MessageGone, RateLimited, Rejected, Scope, TargetGone, Transient, Unknown
from bot.model import (
    DeliveryStatus,
    Message,
    MessageRef,
    NewPush,
    PostState,
    PushKind,
    Record,
    Target,
)
from bot.publish import Plan
from bot.ratelimit import Pacer
from bot.sqlite import open_sqlite
from bot.storage import Outbox, Storage
from tests.conftest import Opener
from tests.fakes import FakeClock, FakePlatform, settle, until
from tests.test_publish import post

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ALERT = PushKind.ALERT


@dataclass
class Desk:
    """Storage, a fake platform and the engine, on a fake clock."""

    storage: Storage
    outbox: Outbox
    platform: FakePlatform
    delivery: Delivery
    clock: FakeClock
    notices: list[str]

    async def publish(self, key: str, *, kind: PushKind = ALERT, **changes: object) -> None:
        """Record post `key` as published and queue a push of it."""
        record = Record(replace(post(key, at=self.clock.now()), **changes), PostState.PUBLISHED,  # type: ignore[arg-type]
                        first_seen=self.clock.now(), is_alerted=True, pushed_at=self.clock.now())  # fmt: skip
        plan = Plan(records=(record,), pushes=(NewPush(key, kind),))
        await self.storage.archive.record_scan(plan, (), now=self.clock.now(), site=None)

    async def chats(self, *addresses: str, categories: tuple[str, ...] = ()) -> None:
        """Subscribe chats on the fake platform."""
        for address in addresses:
            await self.storage.chats.subscribe("fake", address, categories, now=self.clock.now())

    async def statuses(self) -> list[tuple[str, str, int]]:
        """(address, status, attempts) of every delivery, in order."""
        return [(d.address, d.status, d.attempts) for d in await self.outbox.deliveries()]

    async def hide(self, key: str, state: PostState, **changes: object) -> None:
        """Record post `key` anew, as a scan would after an edit of its file."""
        record = Record(replace(post(key, at=T0), **changes), state, first_seen=T0, is_alerted=True)  # type: ignore[arg-type]
        await self.storage.archive.record_scan(Plan(records=(record,)), (), now=T0, site=None)

    async def active(self) -> list[str]:
        """The addresses that get pushes."""
        return [target.address for target in await self.storage.chats.active_targets()]


@asynccontextmanager
async def desk(open_storage: Opener, **bot: object) -> AsyncIterator[Desk]:
    """A delivery desk on a fresh database."""
    config = Config(
        site=SiteConfig(url="https://news.example.com"), bot=BotSettings.model_validate(bot)
    )
    clock = FakeClock(T0)
    platform = FakePlatform()
    notices: list[str] = []
    async with open_storage() as storage:
        delivery = Delivery(
            storage, {"fake": platform}, config, clock,
            rng=random.Random(7), on_notice=notices.append,
        )  # fmt: skip
        yield Desk(storage, storage.outbox, platform, delivery, clock, notices)


async def test_a_push_fans_out_to_matching_targets_only(open_storage: Opener) -> None:
    """Rows exist for every matching target before any send; categories match case-insensitively."""
    async with desk(open_storage) as d:
        await d.chats("all")
        await d.chats("sport", categories=("sport",))
        await d.chats("news", categories=("NEWS",))
        await d.chats("정치", categories=("정치",))
        await d.publish("a", categories=("News", "정치"))
        assert await d.delivery.fan_out() == 3
        assert await d.statuses() == [
            ("all", "pending", 0),
            ("news", "pending", 0),
            ("정치", "pending", 0),
        ]
        await d.delivery.run_once()
        assert sorted(call.address for call in d.platform.calls) == ["all", "news", "정치"]
        assert {status for _, status, _ in await d.statuses()} == {"sent"}


async def test_each_target_gets_pushes_in_order_and_a_retry_holds_only_its_own(
    open_storage: Opener,
) -> None:
    """A row waiting to retry holds back later rows of its target, not other targets'."""
    async with desk(open_storage) as d:
        await d.chats("slow", "fast")
        d.platform.fail("slow", Transient("502"))
        await d.publish("first")
        await d.publish("second")
        while await d.delivery.run_once():
            pass
        assert d.platform.sent_to("fast") == [("send", "first"), ("send", "second")]
        assert d.platform.sent_to("slow") == []
        d.clock.advance(minutes=1)
        while await d.delivery.run_once():
            pass
        assert d.platform.sent_to("slow") == [("send", "first"), ("send", "second")]


async def test_a_rate_limit_waits_as_told_and_is_not_a_failed_attempt(open_storage: Opener) -> None:
    """429 for one chat: that chat waits retry_after; its attempt is not counted."""
    async with desk(open_storage, max_attempts=1) as d:
        await d.chats("busy", "calm")
        d.platform.fail("busy", RateLimited(timedelta(seconds=30)))
        await d.publish("a")
        await d.delivery.run_once()
        assert await d.statuses() == [("busy", "retry", 0), ("calm", "sent", 1)]
        d.clock.advance(seconds=29)
        assert await d.delivery.run_once() == 0
        d.clock.advance(seconds=1)
        await d.delivery.run_once()
        assert await d.statuses() == [("busy", "sent", 1), ("calm", "sent", 1)]


async def test_a_global_rate_limit_holds_the_whole_platform(open_storage: Opener) -> None:
    """A platform-wide 429 stops every send on that platform until it has passed."""
    async with desk(open_storage) as d:
        await d.chats("one")
        d.platform.fail("one", RateLimited(timedelta(seconds=10), Scope.PLATFORM))
        await d.publish("a")
        await d.delivery.run_once()
        await d.chats("two")
        await d.publish("b")
        d.clock.advance(seconds=5)
        assert await d.delivery.run_once() == 0
        d.clock.advance(seconds=5)
        while await d.delivery.run_once():
            pass
        assert d.platform.sent_to("one") == [("send", "a"), ("send", "b")]
        assert d.platform.sent_to("two") == [("send", "b")]


async def test_a_gone_target_is_deactivated_and_gets_nothing_more(open_storage: Opener) -> None:
    """A blocked or deleted chat is deactivated; its rows are rejected; new pushes skip it."""
    async with desk(open_storage) as d:
        await d.chats("gone", "here")
        d.platform.fail("gone", TargetGone("403: bot was blocked by the user"))
        await d.publish("a")
        await d.delivery.run_once()
        await d.publish("b")
        while await d.delivery.run_once():
            pass
        assert await d.statuses() == [
            ("gone", "rejected", 1),
            ("here", "sent", 1),
            ("here", "sent", 1),
        ]
        assert await d.active() == ["here"]


async def test_a_rejected_message_releases_its_target(open_storage: Opener) -> None:
    """A message the platform refuses is rejected, and the target's next push goes out."""
    async with desk(open_storage) as d:
        await d.chats("chat")
        d.platform.fail("chat", Rejected("400: can't parse entities"))
        await d.publish("bad")
        await d.publish("good")
        while await d.delivery.run_once():
            pass
        assert await d.statuses() == [("chat", "rejected", 1), ("chat", "sent", 1)]
        assert d.platform.sent_to("chat") == [("send", "good")]


@pytest.mark.parametrize(
    "error", [Transient("503"), Unknown("timed out")], ids=["transient", "timeout"]
)
async def test_retries_back_off_and_end_dead_after_max_attempts(
    open_storage: Opener, error: Exception
) -> None:
    """Timeouts and 5xx are retried with growing, jittered waits, then the row is dead."""
    async with desk(open_storage, max_attempts=3) as d:
        await d.chats("chat")
        d.platform.fail("chat", error, error, error)
        await d.publish("a")
        waits = []
        for _ in range(3):
            await d.delivery.run_once()
            waiting = [row for row in await d.outbox.deliveries() if row.status == "retry"]
            if not waiting:
                break
            due = waiting[0].next_attempt_at
            waits.append((due - d.clock.now()).total_seconds())
            d.clock.current = due
        assert await d.statuses() == [("chat", "dead", 3)]
        assert len(waits) == 2
        assert 0 <= waits[0] <= 2
        assert 0 <= waits[1] <= 4
        assert d.platform.calls == []


async def test_a_post_hidden_before_sending_is_not_sent(open_storage: Opener) -> None:
    """Rows of a post unpublished before its turn are cancelled, not sent."""
    async with desk(open_storage) as d:
        await d.chats("chat")
        await d.publish("a")
        await d.hide("a", PostState.UNPUBLISHED)
        await d.delivery.run_once()
        assert await d.statuses() == [("chat", "cancelled", 1)]
        assert d.platform.calls == []


async def test_rendering_happens_at_send_time(open_storage: Opener) -> None:
    """A title corrected while the push waited goes out corrected."""
    async with desk(open_storage) as d:
        await d.chats("chat")
        await d.publish("a", title="Typo")
        await d.hide("a", PostState.PUBLISHED, title="Fixed")
        await d.delivery.run_once()
        assert [call.title for call in d.platform.calls] == ["Fixed"]


async def test_a_correction_edits_only_messages_that_were_sent(open_storage: Opener) -> None:
    """A correction edits each sent message of the post; chats that never got it get nothing."""
    async with desk(open_storage) as d:
        await d.chats("early")
        await d.publish("a")
        await d.delivery.run_once()
        await d.chats("late")  # subscribed after the alert
        await d.publish("a", kind=PushKind.CORRECTION, title="Corrected")
        await d.delivery.run_once()
        assert d.platform.sent_to("early") == [("send", "a"), ("edit", "a")]
        assert d.platform.sent_to("late") == []
        assert d.platform.calls[-1].title == "Corrected"


async def test_an_edit_of_a_vanished_message_ends_that_edit_only(open_storage: Opener) -> None:
    """ "Message to edit not found" finishes the correction; the chat stays subscribed."""
    async with desk(open_storage) as d:
        await d.chats("chat")
        await d.publish("a")
        await d.delivery.run_once()
        d.platform.fail("chat", MessageGone("message to edit not found"))
        await d.publish("a", kind=PushKind.CORRECTION)
        await d.delivery.run_once()
        assert await d.statuses() == [("chat", "sent", 1), ("chat", "sent", 1)]
        assert await d.active() == ["chat"]


async def test_an_edit_the_platform_refuses_is_recorded_as_rejected(open_storage: Opener) -> None:
    """A correction refused for its form (not a vanished message) keeps the platform's reason."""
    async with desk(open_storage) as d:
        await d.chats("chat")
        await d.publish("a")
        await d.delivery.run_once()
        d.platform.fail("chat", Rejected("400: Invalid Form Body"))
        await d.publish("a", kind=PushKind.CORRECTION)
        await d.delivery.run_once()
        assert await d.statuses() == [("chat", "sent", 1), ("chat", "rejected", 1)]
        assert [row.last_error for row in await d.outbox.deliveries()] == [
            None,
            "400: Invalid Form Body",
        ]


async def test_a_retraction_cancels_unsent_rows_and_deletes_sent_messages(
    open_storage: Opener,
) -> None:
    """Retracting: the sent message is deleted, the waiting one never goes."""
    async with desk(open_storage) as d:
        await d.chats("quick", "slow")
        d.platform.fail("slow", Transient("502"))
        await d.publish("a")
        await d.delivery.run_once()
        await d.outbox.cancel_unsent("a", now=T0)
        assert await d.outbox.queue("a", PushKind.RETRACTION, now=T0)
        d.clock.advance(minutes=5)
        while await d.delivery.run_once():
            pass
        assert d.platform.sent_to("quick") == [("send", "a"), ("delete", "a")]
        assert d.platform.sent_to("slow") == []
        assert (await d.statuses())[:2] == [("quick", "sent", 1), ("slow", "cancelled", 1)]


async def test_pause_holds_new_pushes_until_resume(open_storage: Opener) -> None:
    """While paused, pushes queue; resuming releases them in order."""
    async with desk(open_storage) as d:
        await d.chats("chat")
        await d.outbox.set_paused(True)
        await d.publish("a")
        await d.publish("b")
        assert await d.delivery.run_once() == 0
        assert await d.statuses() == [("chat", "pending", 0), ("chat", "pending", 0)]
        await d.outbox.set_paused(False)
        while await d.delivery.run_once():
            pass
        assert d.platform.sent_to("chat") == [("send", "a"), ("send", "b")]


async def test_delivered_rows_are_pruned_after_the_edit_window(open_storage: Opener) -> None:
    """Sent rows older than the edit window are deleted; newer ones stay for corrections."""
    async with desk(open_storage, edit_window_hours=48) as d:
        await d.chats("chat")
        await d.publish("old")
        await d.delivery.run_once()
        d.clock.advance(hours=47)
        await d.publish("new")
        await d.delivery.run_once()
        d.clock.advance(hours=2)
        assert await d.outbox.prune(now=d.clock.now(), window=timedelta(hours=48)) == 1
        assert await d.statuses() == [("chat", "sent", 1)]


class SlowPlatform(FakePlatform):
    """A fake platform whose sends take turns on the event loop, so several are in flight."""

    def __init__(self, crash_after: int) -> None:
        super().__init__()
        self.crash_after = crash_after
        self.crashed = asyncio.Event()

    async def send(self, target: Target, message: Message) -> MessageRef:
        """Send after a few loop turns; signal the crash point once reached."""
        for _ in range(3):
            await asyncio.sleep(0)
        ref = await super().send(target, message)
        if len(self.calls) >= self.crash_after:
            self.crashed.set()
        return ref


async def test_a_restart_mid_delivery_reaches_every_target(open_storage: Opener) -> None:
    """Killed mid-way through 300 targets: after a restart each has the post; repeats are only rows that were in flight."""
    config = Config(site=SiteConfig(url="https://news.example.com"))
    clock = FakeClock(T0)
    addresses = [f"chat-{n:03}" for n in range(300)]
    first = SlowPlatform(crash_after=120)
    async with open_storage() as storage:
        for address in addresses:
            await storage.chats.subscribe("fake", address, (), now=T0)
        record = Record(
            post("a", at=T0), PostState.PUBLISHED, first_seen=T0, is_alerted=True, pushed_at=T0
        )
        plan = Plan(records=(record,), pushes=(NewPush("a", ALERT),))
        await storage.archive.record_scan(plan, (), now=T0, site=None)
        engine = asyncio.create_task(
            Delivery(storage, {"fake": first}, config, clock).run(asyncio.Event())
        )
        await first.crashed.wait()
        engine.cancel()  # a crash: no graceful stop
        with contextlib.suppress(asyncio.CancelledError):
            await engine
    second = FakePlatform()
    async with open_storage() as storage:
        statuses = Counter(row.status for row in await storage.outbox.deliveries())
        in_flight = statuses[DeliveryStatus.SENDING]
        assert 0 < in_flight <= 16
        delivery = Delivery(storage, {"fake": second}, config, clock)
        assert await delivery.outbox.reset_in_flight(now=T0) == in_flight
        while await delivery.run_once():
            pass
        statuses = Counter(row.status for row in await storage.outbox.deliveries())
    first_time = Counter(call.address for call in first.calls)
    second_time = Counter(call.address for call in second.calls)
    assert set(first_time) | set(second_time) == set(addresses)
    repeats = sum((first_time & second_time).values())
    assert repeats <= in_flight
    assert statuses == {"sent": 300}


async def test_the_platforms_pacing_spreads_a_fan_out(open_storage: Opener) -> None:
    """With 2/s overall and 1 per 5 s per chat, sends are evenly spaced and never early."""
    async with desk(open_storage) as d:
        d.platform.pacer = Pacer(d.clock, per_second=2, interval=timedelta(seconds=5))
        sent_at: dict[str, list[datetime]] = {}
        original = d.platform.send

        async def timed_send(target: Target, message: Message) -> MessageRef:
            sent_at.setdefault(target.address, []).append(d.clock.now())
            return await original(target, message)

        d.platform.send = timed_send  # type: ignore[method-assign]
        await d.chats("one", "two", "three")
        await d.publish("a")
        await d.publish("b")
        engine = asyncio.create_task(_drain(d.delivery))
        while not engine.done():
            await asyncio.sleep(0.01)  # let the engine and SQLite's thread reach their waits
            d.clock.advance(seconds=0.25)
        await engine
        # A send goes at or after its slot, and slots are 0.5 s apart from the start: the k-th
        # send cannot come before k × 0.5 s, nor a chat's second before 5 s.
        every = sorted(at for times in sent_at.values() for at in times)
        assert len(every) == 6
        assert all(at - T0 >= timedelta(seconds=0.5 * k) for k, at in enumerate(every))
        for address in ("one", "two", "three"):
            assert sent_at[address][1] - T0 >= timedelta(seconds=5)


async def _drain(delivery: Delivery) -> None:
    while await delivery.run_once():
        pass


@pytest.mark.parametrize("outage_s", [60, 600])
async def test_an_outage_of_the_platform_spends_no_attempts(
    open_storage: Opener, outage_s: int
) -> None:
    """The platform unreachable mid fan-out, for a minute or ten: it is held and probed with
    backoff; when it answers, every chat gets the post once, on its first counted attempt."""
    async with desk(open_storage, max_attempts=3) as d:
        chats = [f"chat-{n:02}" for n in range(40)]
        await d.chats(*chats)
        await d.publish("a")
        await d.delivery.run_once()  # the first 16 go out
        d.platform.down = Transient("connection refused")
        for _ in range(outage_s):
            await d.delivery.run_once()
            d.clock.advance(seconds=1)
            await settle()
        d.platform.down = None
        for _ in range(120):
            d.clock.advance(seconds=1)
            await settle()
            await d.delivery.run_once()
        assert sorted(call.address for call in d.platform.calls) == chats
        assert {(status, attempts) for _, status, attempts in await d.statuses()} == {("sent", 1)}
        assert d.platform.probes.count(False) <= 4 + outage_s // 60  # backoff, up to a minute
        assert [n.split(" (")[0].split(" after")[0] for n in d.notices] == [
            "fake does not answer",
            "fake answers again",
        ]


async def test_a_message_that_always_fails_on_a_healthy_platform_ends_dead(
    open_storage: Opener,
) -> None:
    """The probe answers, so the failures are the message's own: counted, then dead."""
    async with desk(open_storage, max_attempts=3) as d:
        await d.chats("bad", "good")
        d.platform.fail("bad", *[Transient("500: Internal Server Error")] * 5)
        await d.publish("a")
        for _ in range(5):
            await d.delivery.run_once()
            d.clock.advance(minutes=1)
        assert await d.statuses() == [("bad", "dead", 3), ("good", "sent", 1)]
        assert all(d.platform.probes)


async def test_a_send_is_recorded_even_when_the_database_is_locked_after_it(
    tmp_path: Path,
) -> None:
    """The database locked by another process just as a message went out: the send is recorded
    once the lock goes, and never sent again."""
    database = tmp_path / "s.db"
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)

    class LockingPlatform(FakePlatform):
        async def send(self, target: Target, message: Message) -> MessageRef:
            ref = await super().send(target, message)
            holder.execute("BEGIN EXCLUSIVE")  # another process takes the database meanwhile
            return ref

    platform, clock = LockingPlatform(), FakeClock(T0)
    notices: list[str] = []
    config = Config(site=SiteConfig(url="https://news.example.com"))
    async with open_sqlite(database, busy_timeout_ms=20) as storage:
        await storage.chats.subscribe("fake", "chat", (), now=T0)
        record = Record(post("a", at=T0), PostState.PUBLISHED, first_seen=T0, is_alerted=True)
        plan = Plan(records=(record,), pushes=(NewPush("a", ALERT),))
        await storage.archive.record_scan(plan, (), now=T0, site=None)
        delivery = Delivery(storage, {"fake": platform}, config, clock, on_notice=notices.append)
        [job] = await delivery.claim()
        sending = asyncio.create_task(delivery.deliver(job))
        await until(lambda: len(notices) == 1)
        holder.execute("ROLLBACK")
        for _ in range(5):
            clock.advance(seconds=30)
            await settle()
        await sending
        assert [(d.status, d.attempts) for d in await storage.outbox.deliveries()] == [("sent", 1)]
        assert await delivery.run_once() == 0
    holder.close()
    assert platform.sent_to("chat") == [("send", "a")]
    assert [n.split(":")[0].split(" after")[0] for n in notices] == [
        "storage unavailable",
        "storage is back",
    ]
