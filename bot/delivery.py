"""The outbox engine: fan pushes out to targets, claim due rows, send, record each outcome."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock, sleep_or
from bot.config import Config
from bot.errors import MessageGone, SendError, Transient, Unknown
from bot.fanout import FIRST_SENDS, QueuedPush, fan_out
from bot.faults import StoreFaults
from bot.model import DeliveryStatus, Message, MessageRef, PostState, PushKind, Target
from bot.outages import Outages
from bot.outcome import Outcome, judge
from bot.render.message import to_message
from bot.storage import Job, Storage, StoreUnavailable

TICK_S = 1.0  # how often the queue is looked at: work queued from the shell starts within this
MAX_IN_FLIGHT = 16  # sends at once, across targets (each target still gets one at a time)
PRUNE_EVERY = timedelta(minutes=10)
SHUTDOWN_GRACE_S = 10.0  # in-flight sends get this long to finish when sokbo stops

log = logging.getLogger(__name__)


class Platform(Protocol):
    """What delivery needs from a platform; console, Telegram and Discord provide it."""

    name: str

    async def ready(self, target: Target) -> None:
        """Wait until the platform's rate limits let a message to `target` go."""
        ...

    async def send(self, target: Target, message: Message) -> MessageRef:
        """Send a post to a target and return the message it made."""
        ...

    async def edit(self, ref: MessageRef, message: Message) -> None:
        """Make a sent message say `message` (a correction)."""
        ...

    async def delete(self, ref: MessageRef, message: Message) -> None:
        """Delete a sent message (a retraction)."""
        ...

    async def probe(self) -> None:
        """Ask the platform something cheap; raise a SendError when it does not answer."""
        ...


def _log_reach(push: QueuedPush, reached: int, chats: int) -> None:
    """One line per first send: how many chats it reaches, and why the others do not."""
    if push.kind not in FIRST_SENDS or push.only is not None:
        return
    left = chats - reached
    why = "" if not left else f"; {left:,} not subscribed to {', '.join(push.categories) or '-'}"
    log.info("%s post=%s reaches %d of %d chats%s", push.kind, push.key, reached, chats, why)


class Delivery:
    """Drains the outbox into the platforms, in order per target, until stopped."""

    def __init__(
        self,
        storage: Storage,
        platforms: Mapping[str, Platform],
        config: Config,
        clock: Clock,
        *,
        rng: random.Random | None = None,
        on_notice: Callable[[str], None] = lambda _text: None,
        faults: StoreFaults | None = None,
    ) -> None:
        self.chats = storage.chats
        self.outbox = storage.outbox
        self.on_notice = on_notice  # tells admins of dead rows and outages
        self.faults = faults or StoreFaults(clock, on_notice=on_notice)
        self.outages = Outages(clock, on_notice=on_notice, on_back=self.nudge)
        self.platforms = dict(platforms)
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.held_until: dict[str, datetime] = {}  # platform → end of a global rate limit
        self._nudged = asyncio.Event()
        self._last_prune: datetime | None = None

    def nudge(self) -> None:
        """Look at the queue now (a push was just queued)."""
        self._nudged.set()

    async def fan_out(self) -> int:
        """Give each queued push its deliveries, one per chat it reaches; return how many."""
        if not (queued := await self.outbox.queued()):
            return 0
        targets = await self.chats.active_targets()
        plan = {push.push_id: fan_out(push, targets) for push in queued}
        added = await self.outbox.fan_out(plan, now=self.clock.now())
        for push in queued:
            _log_reach(push, len(plan[push.push_id]), len(targets))
        return added

    async def claim(self, limit: int = MAX_IN_FLIGHT) -> list[Job]:
        """Fan out queued pushes and claim up to `limit` deliveries due now on unheld platforms."""
        await self.fan_out()
        now = self.clock.now()
        ready = [
            name
            for name in self.platforms
            if self.held_until.get(name, now) <= now and not self.outages.is_down(name)
        ]
        return await self.outbox.claim(now=now, platforms=ready, limit=limit)

    async def run_once(self) -> int:
        """Claim what is due and deliver it all; return how many rows were handled."""
        jobs = await self.claim()
        await asyncio.gather(*(self.deliver(job) for job in jobs))
        return len(jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; then let in-flight sends finish (a crash resends them).

        Storage that stops answering pauses the loop (told once), which goes on when it is back.
        """
        reset = await self.faults.retry(
            lambda: self.outbox.reset_in_flight(now=self.clock.now()), stop=stop
        )
        if reset:
            log.warning("resending %d rows that were in flight when sokbo last stopped", reset)
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                jobs = await self._claim_room(MAX_IN_FLIGHT - len(in_flight), stop)
                for job in jobs:
                    task = asyncio.create_task(self.deliver(job))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if not jobs:
                    self._nudged.clear()
                    await sleep_or(self.clock, TICK_S, self._nudged, stop, tasks=in_flight)
            if in_flight:
                await asyncio.wait(in_flight, timeout=SHUTDOWN_GRACE_S)
        finally:
            for task in in_flight:  # past the grace, or cancelled: the next start resends them
                task.cancel()
            await self.outages.close()

    async def _claim_room(self, room: int, stop: asyncio.Event) -> list[Job]:
        """Claim what fits in `room` (and prune now and then), waiting out storage faults."""
        if room <= 0:
            return []
        try:
            return await self.faults.retry(lambda: self._claim_and_prune(room), stop=stop)
        except StoreUnavailable:  # stopping while storage is away
            return []

    async def _claim_and_prune(self, room: int) -> list[Job]:
        jobs = await self.claim(room)
        await self._prune_now_and_then()
        return jobs

    async def _prune_now_and_then(self) -> None:
        now = self.clock.now()
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY:
            window = timedelta(hours=self.config.bot.edit_window_hours)
            if pruned := await self.outbox.prune(now=now, window=window):
                log.info("pruned %d delivered rows older than the edit window", pruned)
            self._last_prune = now

    async def deliver(self, job: Job) -> None:
        """Send one delivery and record what happened; a failure stays on that delivery."""
        platform = self.platforms[job.target.platform]
        record = job.record
        if job.kind is not PushKind.RETRACTION and record.state is not PostState.PUBLISHED:
            hidden = Outcome(DeliveryStatus.CANCELLED, job.attempts, "post hidden")
            await self.faults.retry(lambda: self.outbox.failed(job, hidden, now=self.clock.now()))
            return
        language = job.target.language or self.config.bot.language
        message = to_message(
            record.post, kind=job.kind, site=self.config.site, language=language,
            seen=record.first_seen,
        )  # fmt: skip
        try:
            await platform.ready(job.target)
            ref = await self._call(platform, job, message)
        except SendError as error:
            await self._failed(job, error)
        except Exception as error:  # an adapter bug must not stop delivery: retry, and say so
            log.exception("unexpected error sending post=%s to=%s", job.key, job.target.address)
            await self._failed(job, Transient(f"{type(error).__name__}: {error}"))
        else:  # sent: it must be recorded, or a restart would send it again
            await self.faults.retry(lambda: self.outbox.sent(job, ref, now=self.clock.now()))
            log.info(
                "delivered %s post=%s to=%s:%s attempt=%d",
                job.kind, job.key, job.target.platform, job.target.address, job.attempts,
            )  # fmt: skip

    async def _call(self, platform: Platform, job: Job, message: Message) -> MessageRef | None:
        if job.kind in (PushKind.ALERT, PushKind.REPOST):
            return await platform.send(job.target, message)
        for ref in job.refs:
            try:
                if job.kind is PushKind.CORRECTION:
                    await platform.edit(ref, message)
                else:
                    await platform.delete(ref, message)
            except MessageGone as error:  # this edit is done, the others go on
                log.info("%s of post=%s skipped: %s", job.kind, job.key, error)
        return None

    async def _failed(self, job: Job, error: SendError) -> None:
        platform = job.target.platform
        is_down = isinstance(error, Transient | Unknown) and await self.outages.confirm(
            self.platforms[platform], error
        )
        now = self.clock.now()
        outcome = judge(
            error, attempts=job.attempts, max_attempts=self.config.bot.max_attempts, now=now,
            held_until=self.held_until.get(platform), is_platform_down=is_down, rng=self.rng,
        )  # fmt: skip
        if outcome.hold_platform_until is not None:
            self.held_until[platform] = outcome.hold_platform_until
        await self.faults.retry(lambda: self.outbox.failed(job, outcome, now=now))
        _log_failure(job, outcome)
        if outcome.status is DeliveryStatus.DEAD:
            self.on_notice(f"dead after {job.attempts} attempts: {_where(job)}: {outcome.error}")


def _where(job: Job) -> str:
    return f"post={job.key} to={job.target.platform}:{job.target.address}"


def _log_failure(job: Job, outcome: Outcome) -> None:
    """One line per failed attempt, by what becomes of it."""
    where, why = _where(job), outcome.error
    if outcome.is_gone:
        log.warning("target gone %s: %s", where, why)
    elif outcome.moved_to is not None:
        log.info("target moved %s: %s", where, why)
    elif outcome.retry_at is not None:
        at = outcome.retry_at.isoformat()
        log.info("retry %s attempt=%d at=%s: %s", where, job.attempts, at, why)
    else:
        log.warning("%s %s attempt=%d: %s", outcome.status, where, job.attempts, why)
