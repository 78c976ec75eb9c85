"""Reliability under faults: sokbo is killed, stopped, refused and starved; what did chats get?

Run by hand (`python -m tests.reliability`) for the long form, which prints one row per
scenario; `tests/test_reliability.py` runs the same scenarios small. Each scenario counts from
what the fake platform received: messages (chat × post deliveries expected), lost (expected
and never received), duplicates (received beyond one per chat and post), against the bound of
at-least-once delivery: a message is repeated only when it was in flight at a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import signal
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.delivery import MAX_IN_FLIGHT
from bot.errors import Transient
from bot.service import KEEP_EVERY_S
from bot.sqlite import open_sqlite
from bot.sqlite.connection import BUSY_TIMEOUT_MS, Database
from bot.storage import Storage
from tests.benchmark_telegram import replies_and_pushes
from tests.fake_telegram import FakeTelegram
from tests.fakes import Call, FakeClock, served_in_thread, settle
from tests.test_cli_console import Console, post_text
from tests.test_cli_telegram import wait_for
from tests.test_delivery import T0, Desk, desk

TITLE = re.compile(r"Harness post (\d+) ")  # in every pushed text: which post it is
UNFINISHED = ("pending", "retry", "sending")
DEADLINE_S = 60.0  # real time an in-process scenario may take before it is called wedged
CONFIG = """[site]
posts_dir = "posts"
url = "https://news.example.com"
[bot]
settle_seconds = 0.1
max_burst = 100  # a post a round: the burst rule is not what is measured
[telegram]
api_url = "{url}"
api_file_url = "{file_url}"
"""


@dataclass(frozen=True, slots=True)
class Result:
    """One scenario's count."""

    scenario: str
    rounds: int
    messages: int  # chat × post deliveries expected
    lost: int  # expected and never received
    duplicates: int  # received beyond one per chat and post
    seconds: float
    clock: str  # "wall" or "simulated"
    allowed: int = 0  # duplicates at-least-once allows: the sends in flight at each crash
    over: int | None = None  # duplicates beyond each round's own sends in flight, if counted
    dead: int = 0  # deliveries given up
    attempts: int | None = None  # attempts counted, where a scenario reads them
    told: int | None = None  # notices of a storage fault, where a scenario makes one
    notes: str = ""

    @property
    def excess(self) -> int:
        """Duplicates beyond the bound (per round where rounds are counted)."""
        return max(0, self.duplicates - self.allowed) if self.over is None else self.over

    def row(self) -> str:
        """The scenario as a Markdown table row."""
        when = f"{self.seconds:,.1f} s {self.clock}"
        bound = f"{self.duplicates} (≤ {self.allowed})"
        return (
            f"| {self.scenario} | {self.rounds} | {self.messages:,} | {self.lost} | {bound} "
            f"| {self.dead} | {when} | {self.notes} |"
        )


HEADER = (
    "| scenario | rounds | messages | lost | duplicates (bound) | dead | time | notes |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


@dataclass
class Site:
    """A folder whose config points sokbo at the fake Bot API, its chats subscribed."""

    folder: Path
    api: FakeTelegram
    chats: int
    posts: int = 0

    @property
    def database(self) -> Path:
        """sokbo's database (`bot.database`, by default beside the config)."""
        return self.folder / "sokbo.db"

    def start(self) -> Console:
        """`sokbo run` with the token set, once it has scanned the folder and polls."""
        service = Console(self.folder, env={"TELEGRAM_BOT_TOKEN": self.api.token})
        try:
            service.expect_log("Pushes go to telegram")
        except AssertionError:
            service.stop()
            raise
        return service

    def publish(self) -> int:
        """Drop the next post into the folder; return its number."""
        self.posts += 1
        name = f"2026-11-22-harness-{self.posts:02}.md"
        (self.folder / "posts" / name).write_text(post_text(f"Harness post {self.posts} now"))
        return self.posts

    def received(self) -> Counter[tuple[int, int]]:
        """How many messages each (chat, post number) got, as the fake holds them."""
        held = self.api.messages.copy()  # one C call: the fake's thread may add to it meanwhile
        return Counter(
            (sent.chat_id, int(match[1]))
            for sent in held.values()
            if (match := TITLE.search(sent.text)) is not None
        )

    def reached(self, post: int) -> int:
        """How many chats got post `post`."""
        return sum(1 for _, number in self.received() if number == post)

    def settle(self, *posts: int) -> bool:
        """Wait until every chat has each of `posts`; False if that never happened."""
        try:
            wait_for(lambda: all(self.reached(p) == self.chats for p in posts), "every delivery")
        except AssertionError:
            return False
        return True

    def tally(self) -> tuple[int, int, list[int]]:
        """Lost, duplicates, and the duplicates of each post."""
        counts = self.received()
        expected = [(chat, post) for chat in chat_ids(self.chats) for post in self.numbers]
        repeats = [
            sum(max(0, n - 1) for (_, post), n in counts.items() if post == p) for p in self.numbers
        ]
        return sum(1 for pair in expected if counts[pair] == 0), sum(repeats), repeats

    @property
    def numbers(self) -> range:
        """The numbers of the posts dropped so far."""
        return range(1, self.posts + 1)

    def count(self, query: str) -> Counter[str]:
        """A (name, count) query's rows, read from the file as the next start would."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return Counter({str(status): int(n) for status, n in db.execute(query)})

    def statuses(self) -> Counter[str]:
        """Outbox rows by status."""
        return self.count("SELECT status, COUNT(*) FROM outbox GROUP BY status")


def chat_ids(chats: int) -> range:
    """The private chats that subscribed."""
    return range(1001, 1001 + chats)


@contextlib.contextmanager
def site(folder: Path, *, chats: int) -> Iterator[Site]:
    """A site with `chats` subscribed before sokbo's first start, and the fake serving."""
    api = FakeTelegram()
    with served_in_thread(api.start, api.stop):
        (folder / "sokbo.toml").write_text(
            CONFIG.format(url=api.url, file_url=api.url.replace("/bot", "/file/bot"))
        )
        (folder / "posts").mkdir()
        old = post_text("Archived", when=-timedelta(days=30))
        (folder / "posts" / "2026-01-01-old.md").write_text(old)
        asyncio.run(subscribe(folder / "sokbo.db", chats))
        yield Site(folder, api, chats)


async def subscribe(database: Path, chats: int) -> None:
    """Subscribe private chats through sokbo's storage, as `/subscribe` would."""
    async with open_sqlite(database) as storage:
        now = datetime.now(UTC)
        for chat in chat_ids(chats):
            await storage.chats.subscribe("telegram", str(chat), (), now=now, kind="private")


def stopped(service: Console, signum: signal.Signals) -> int:
    """Stop `service` with `signum` (SIGKILL: no chance to finish); its exit status."""
    if signum is signal.SIGKILL:
        service.process.kill()
        service.process.wait()
    return service.stop()  # SIGTERM, or only the pipes when it is already dead


def told(service: Console, text: str) -> int:
    """How many lines of a stopped service's log contain `text`."""
    return sum(text in line for line in service.seen["err"])


def kill_rounds(folder: Path, *, rounds: int, chats: int, signum: signal.Signals) -> Result:
    """Each round: start sokbo, let it finish what it had, drop a post, stop it mid fan-out.

    Then a last start delivers what is left.
    """
    rng = random.Random(rounds * 1000 + chats)
    in_flight: list[int] = []
    started = time.perf_counter()
    with site(folder, chats=chats) as s:
        for _ in range(rounds):
            service = s.start()
            try:
                s.settle(*s.numbers)
                post = s.publish()
                cut = int(chats * rng.uniform(0.2, 0.8))  # where in the fan-out it is stopped
                wait_for(lambda: s.reached(post) >= cut, "the fan-out under way")  # noqa: B023
            finally:
                stopped(service, signum)
            in_flight.append(s.statuses()["sending"])
        service = s.start()
        is_settled = s.settle(*s.numbers)
        status = service.stop()
        lost, duplicates, repeats = s.tally()
        dead, limited = s.statuses()["dead"], s.api.limited
    notes = (
        f"in flight at each stop: {min(in_flight)}-{max(in_flight)} (≤ {MAX_IN_FLIGHT}); "
        f"{limited} answered 429; last exit {status}" + unsettled(is_settled)
    )
    return Result(
        f"{'kill -9' if signum is signal.SIGKILL else 'SIGTERM'} mid fan-out", rounds,
        chats * rounds, lost, duplicates, time.perf_counter() - started, "wall",
        allowed=sum(in_flight), dead=dead, notes=notes,
        over=sum(max(0, d - f) for d, f in zip(repeats, in_flight, strict=True)),
    )  # fmt: skip


def server_errors(folder: Path, *, rounds: int, chats: int, share: float = 0.3) -> Result:
    """Each round a post, while the fake answers 500 or 502 to `share` of a fan-out's sends."""
    started = time.perf_counter()
    with site(folder, chats=chats) as s:
        service = s.start()
        try:
            for number in range(1, rounds + 1):
                s.api.fail_share(share, sends=chats, seed=number)
                s.settle(s.publish())
        finally:
            status = service.stop()
        lost, duplicates, _ = s.tally()
        dead, errors = s.statuses()["dead"], s.api.server_errors
    notes = f"{errors} sends answered 500/502 ({share:.0%} of each fan-out's first sends); exit {status}"
    return Result(
        "5xx bursts", rounds, chats * rounds, lost, duplicates, time.perf_counter() - started,
        "wall", dead=dead, notes=notes,
    )  # fmt: skip


def storage_locked(folder: Path, *, chats: int) -> Result:
    """Mid fan-out another process holds the database (BEGIN EXCLUSIVE) past the busy timeout;
    a second post follows once it lets go."""
    hold_s = BUSY_TIMEOUT_MS / 1000 + 1.0
    started = time.perf_counter()
    with site(folder, chats=chats) as s:
        service = s.start()
        try:
            post = s.publish()
            wait_for(lambda: s.reached(post) >= chats // 4, "the fan-out under way")
            with contextlib.closing(sqlite3.connect(s.database, isolation_level=None)) as holder:
                holder.execute("BEGIN EXCLUSIVE")
                time.sleep(hold_s)  # real time: SQLite's busy timeout is what is passed
                holder.execute("ROLLBACK")
            is_settled = s.settle(post) and s.settle(s.publish())
        finally:
            status = service.stop()
        lost, duplicates, _ = s.tally()
        dead = s.statuses()["dead"]
    faults = told(service, "storage unavailable")
    notes = f"held {hold_s:.1f} s (busy timeout {BUSY_TIMEOUT_MS / 1000:.0f} s); told {faults}×; exit {status}"
    notes += unsettled(is_settled)
    return Result(
        "storage locked", 2, chats * 2, lost, duplicates, time.perf_counter() - started, "wall",
        dead=dead, told=faults, notes=notes,
    )  # fmt: skip


async def disk_full(folder: Path, *, chats: int, fault_s: float = 60.0) -> Result:
    """The disk fills (`PRAGMA max_page_count` on the service's connection) mid fan-out, with a
    second push queued; it is freed after `fault_s`. In-process, on a driven fake clock."""
    addresses = [f"chat-{n:04}" for n in range(chats)]
    async with desk(lambda: open_sqlite(folder / "sokbo.db")) as d:
        await d.chats(*addresses)
        await d.publish("a")
        await d.delivery.run_once()  # "a" fanned out, its first sends made
        await d.publish("b")
        database = connection(d.storage)
        await database.db.execute("PRAGMA max_page_count = 1")  # no page beyond those it has
        stop = asyncio.Event()
        engine = asyncio.create_task(d.delivery.run(stop))
        await drive(d.clock, never, limit_s=fault_s)
        await database.db.execute("PRAGMA max_page_count = 1073741823")  # SQLite's default
        freed = d.clock.now()
        await drive(d.clock, lambda: is_sent(d, 2 * chats), limit_s=3600)
        caught_up = d.clock.now() - freed
        stop.set()
        await engine
        lost, duplicates, dead = await tally(d.platform.calls, d, addresses, "ab")
    faults = sum("storage unavailable" in notice for notice in d.notices)
    return Result(
        "disk full", 2, 2 * chats, lost, duplicates, (d.clock.now() - T0).total_seconds(),
        "simulated", dead=dead, told=faults, notes=f"full for {fault_s:.0f} s, all sent {caught_up.total_seconds():.0f} s after; told {faults}×",
    )  # fmt: skip


async def database_deleted(folder: Path, *, chats: int) -> Result:
    """Mid fan-out the database file is deleted; the keeper's check (which `sokbo run` makes
    every KEEP_EVERY_S) restores it; a restart on the file finds the chats and what was sent.
    In-process, with the engine's run_once: no clock needed."""
    path, addresses = folder / "sokbo.db", [f"chat-{n:04}" for n in range(chats)]
    started = time.perf_counter()
    async with desk(lambda: open_sqlite(path)) as first:
        await first.chats(*addresses)
        await first.publish("a")
        await first.delivery.run_once()  # fanned out, the first sends made
        path.unlink()  # `rm sokbo.db` while sokbo runs
        await first.delivery.run_once()  # it goes on, on the deleted file
        notice = await first.storage.keeper.check()
        await drain(first)
    async with desk(lambda: open_sqlite(path)) as second:  # a restart, on the restored file
        await second.publish("b")
        await drain(second)
        calls = [*first.platform.calls, *second.platform.calls]
        lost, duplicates, dead = await tally(calls, second, addresses, "ab")
    return Result(
        "database deleted while running", 2, 2 * chats, lost, duplicates,
        time.perf_counter() - started, "wall", dead=dead, told=int(notice is not None),
        notes=f"the keeper {'restored' if notice else 'did not restore'} it; restarted on it",
    )  # fmt: skip


def database_deleted_service(folder: Path, *, chats: int) -> Result:
    """Mid fan-out `sokbo run`'s database file is deleted: it restores it (every KEEP_EVERY_S),
    and a restart on it finds the chats and what they were sent."""
    started = time.perf_counter()
    with site(folder, chats=chats) as s:
        service = s.start()
        try:
            post = s.publish()
            wait_for(lambda: s.reached(post) >= chats // 3, "the fan-out under way")
            s.database.unlink()  # `rm sokbo.db` while sokbo runs
            is_settled = s.settle(post)
            deadline = time.monotonic() + KEEP_EVERY_S + 10
            while not s.database.exists() and time.monotonic() < deadline:
                time.sleep(0.1)  # real time: the service checks every KEEP_EVERY_S
        finally:
            status = service.stop()
        mended = told(service, "storage mended")
        if s.database.exists():  # the next start knows the chats and what they were sent
            restarted = s.start()
            try:
                is_settled = s.settle(s.publish()) and is_settled
            finally:
                restarted.stop()
        lost, duplicates, _ = s.tally()
    notes = f"restored by the running service: {'yes' if mended else 'NO'}; exit {status}"
    return Result(
        "database deleted (sokbo run)", s.posts, chats * s.posts, lost, duplicates,
        time.perf_counter() - started, "wall", told=mended, notes=notes + unsettled(is_settled),
    )  # fmt: skip


def database_deleted_then_stopped(folder: Path, *, chats: int) -> Result:
    """Mid fan-out `sokbo run`'s database file is deleted, and sokbo is stopped (SIGTERM) before
    its keeper's next check: the restart must still know the chats and finish the fan-out."""
    started = time.perf_counter()
    with site(folder, chats=chats) as s:
        service = s.start()
        try:
            post = s.publish()
            wait_for(lambda: s.reached(post) >= chats // 4, "the fan-out under way")
            s.database.unlink()  # `rm sokbo.db`, then a stop within KEEP_EVERY_S
        finally:
            status = service.stop()
        restarted = s.start()
        try:
            is_settled = s.settle(post)
        finally:
            restarted.stop()
        lost, duplicates, _ = s.tally()
        known = s.count("SELECT 'chats', COUNT(*) FROM targets")["chats"]
    notes = f"chats known after the restart: {known} of {chats}; exit {status}"
    return Result(
        "database deleted, then stopped", 1, chats, lost, duplicates,
        time.perf_counter() - started, "wall", notes=notes + unsettled(is_settled),
    )  # fmt: skip


async def platform_outage(folder: Path, *, outage_s: int, chats: int) -> Result:
    """The platform unreachable mid fan-out for `outage_s`: every call and probe fails.

    In-process on a fake clock, as tests/test_delivery.py's outage test, with more chats.
    """
    addresses = [f"chat-{n:04}" for n in range(chats)]
    async with desk(lambda: open_sqlite(folder / "sokbo.db"), max_attempts=3) as d:
        await d.chats(*addresses)
        await d.publish("a")
        await d.delivery.run_once()  # the first sends go out
        d.platform.down = Transient("connection refused")
        for _ in range(outage_s):
            await d.delivery.run_once()
            d.clock.advance(seconds=1)
            await settle()
        d.platform.down = None
        back, sent_before, resumed = d.clock.now(), len(d.platform.calls), None
        while await is_unfinished(d) and d.clock.now() - back < timedelta(hours=1):
            d.clock.advance(seconds=1)
            await settle()
            await d.delivery.run_once()
            if resumed is None and len(d.platform.calls) > sent_before:
                resumed = d.clock.now() - back
        lost, duplicates, dead = await tally(d.platform.calls, d, addresses, "a")
        attempts = sum(row.attempts for row in await d.outbox.deliveries())
    notes = (
        f"{attempts:,} attempts counted for {chats:,} chats (max_attempts 3); "
        f"{d.platform.probes.count(False)} failed probes; "
        f"sending again {resumed.total_seconds() if resumed else -1:.0f} s after it was back"
    )
    minutes = f"{outage_s // 60} min" if outage_s >= 60 else f"{outage_s} s"
    return Result(
        f"platform outage {minutes}", 1, chats, lost, duplicates,
        (d.clock.now() - T0).total_seconds(), "simulated", dead=dead, attempts=attempts,
        notes=notes,
    )  # fmt: skip


async def reply_storm(*, pushes: int, replies: int) -> Result:
    """tests/benchmark_telegram.py's replies amid a fan-out, counted by what chats got."""
    api = FakeTelegram()
    await api.start()
    try:
        started = time.perf_counter()
        summary = await replies_and_pushes(api, pushes=pushes, replies=replies)
        seconds = time.perf_counter() - started
    finally:
        await api.stop()
    counts = Counter(sent.chat_id for sent in api.messages.values())  # one chat, one message
    return Result(
        "reply storm", 1, pushes + replies, pushes + replies - len(counts),
        sum(n - 1 for n in counts.values()), seconds, "wall", notes=summary,
    )  # fmt: skip


async def tally(
    calls: Iterable[Call], d: Desk, addresses: list[str], keys: str
) -> tuple[int, int, int]:
    """Lost and duplicated sends of each post in `keys` to each address, and dead rows."""
    counts = Counter((call.address, call.key) for call in calls if call.method == "send")
    lost = sum(1 for address in addresses for key in keys if counts[(address, key)] == 0)
    dead = sum(1 for row in await d.outbox.deliveries() if row.status == "dead")
    return lost, sum(n - 1 for n in counts.values()), dead


async def is_unfinished(d: Desk) -> bool:
    """Whether any delivery is still to go."""
    return any(row.status in UNFINISHED for row in await d.outbox.deliveries())


async def is_sent(d: Desk, rows: int) -> bool:
    """Whether `rows` deliveries are sent."""
    return sum(1 for row in await d.outbox.deliveries() if row.status == "sent") >= rows


async def never() -> bool:
    """Not done: drive the clock for the whole time."""
    return False


async def drain(d: Desk) -> None:
    """Deliver until nothing is due."""
    while await d.delivery.run_once():
        pass


async def drive(
    clock: FakeClock, is_done: Callable[[], Awaitable[bool]], *, limit_s: float
) -> None:
    """Move the fake clock to each wake-up in turn, letting SQLite's thread work, until done
    or `limit_s` has passed."""
    until = clock.now() + timedelta(seconds=limit_s)
    deadline = time.monotonic() + DEADLINE_S  # real time: a wedged engine fails, never hangs
    while clock.now() < until and not await is_done():
        assert time.monotonic() < deadline, f"not done by {clock.now()} in {DEADLINE_S} s"
        await asyncio.sleep(0.001)  # real: aiosqlite answers from its own thread
        wake = min(clock.wake_times, default=clock.now())
        clock.advance(seconds=(min(wake, until) - clock.now()).total_seconds())


def connection(storage: Storage) -> Database:
    """The service's own SQLite connection, for the faults only it can have (its page limit)."""
    database = getattr(storage.outbox, "_database", None)
    assert isinstance(database, Database), "the SQLite backend's connection moved"
    return database


def unsettled(is_settled: bool) -> str:
    """A note when deliveries never all arrived."""
    return "" if is_settled else "; NEVER SETTLED"


def main() -> None:
    """Run every scenario at real size; print the table."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    logging.getLogger("telegram").setLevel(logging.CRITICAL)  # counted 429s would log traces
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # a killed sokbo's requests
    runs: list[Callable[[Path], Result]] = [
        lambda f: kill_rounds(f, rounds=12, chats=200, signum=signal.SIGKILL),
        lambda f: kill_rounds(f, rounds=12, chats=200, signum=signal.SIGTERM),
        lambda f: server_errors(f, rounds=5, chats=200),
        lambda f: asyncio.run(platform_outage(f, outage_s=60, chats=200)),
        lambda f: asyncio.run(platform_outage(f, outage_s=600, chats=200)),
        lambda f: storage_locked(f, chats=200),
        lambda f: asyncio.run(disk_full(f, chats=200)),
        lambda f: asyncio.run(database_deleted(f, chats=200)),
        lambda f: database_deleted_service(f, chats=200),
        lambda f: database_deleted_then_stopped(f, chats=200),
        lambda _: asyncio.run(reply_storm(pushes=600, replies=40)),
    ]
    print(HEADER, flush=True)
    for run in runs:
        with tempfile.TemporaryDirectory() as folder:
            print(run(Path(folder)).row(), flush=True)


if __name__ == "__main__":
    main()
