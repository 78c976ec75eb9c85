"""Scale benchmark: the real service on 1,000 to 100,000 posts, each cost against its target.

Run it by hand: `python -m tests.benchmark` (1,000, 10,000 and 100,000 posts), or with
`--quick` (1,000 and 10,000 posts; fewer drops, chats and subscriptions; commands, drops,
fan-out and idle CPU at 10,000 only); the suite never times anything. Each archive is written
once by `tests/sitegen.py` into `--cache` and hard-linked into a temporary site for each run.
sokbo runs as a user runs it, `python -m bot run` in a folder with its `sokbo.toml`, on the
console or against the fake Bot API on 127.0.0.1; only the command scenario opens its storage
in this process. A Markdown row is printed for each figure as it comes; `--out` gets
results.json, results.md and results.png (the plot needs matplotlib: `pip install matplotlib`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from bot.clock import SystemClock
from bot.commands import Caller, Command, Commands
from bot.config import load_config
from bot.service import open_storage
from tests.fake_telegram import FakeTelegram
from tests.sitegen import CATEGORIES, cached_site, sentence
from tests.test_platforms_telegram_chats import command as update

REPO = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
BIG = 10_000  # --quick runs commands, drops and idle from this size on; fan-out always does
STOP_S = 30.0  # SIGTERM, then this long before SIGKILL
DROP_WAIT_S = 30.0  # a drop not at the fake by then is counted as lost
GROUPS = 6  # the drop chats are in groups, one group per drop in turn …
GROUP_CHATS = 10  # … of this many channels: each drop reaches 10 chats
CHANNEL_PACE_S = 3.0  # sokbo sends a channel at most 20 a minute (Telegram's group limit)
TELEGRAM_PER_S = 30.0  # Telegram's overall limit, messages a second
FIRST_CHANNEL = -1_001_000_000_000  # the config's channel ids count up from here
FIRST_READER = 7_000_000  # readers' private chats (and user ids) count up from here
# How a post is written into the folder: renamed in from a hidden temporary file beside it
# (rsync, editors), renamed in from a file outside the folder, or written where it lies.
WAYS = {"atomic, temp beside": "beside", "atomic, temp outside": "outside", "in-place": "inplace"}
READER_EVERY_S = 1.0  # a reader's /latest this often during the fan-out …
MOST_READERS = 60  # … at most this many
COMMAND_CALLS = 200  # calls of each command …
# … or fewer (at least MIN_CALLS) when a command takes longer than Settings.command_budget_s
MIN_CALLS = 5
COMMANDS = (("latest", ""), ("latest", "20"), ("category", CATEGORIES[0]), ("categories", ""),
            ("subscribe", "정치"), ("subscriptions", ""), ("status", ""))  # fmt: skip
ADMIN = Caller("telegram", "42", "42", "en", is_chat_admin=True, is_bot_admin=True,
               chat_kind="private")  # fmt: skip

COLD = "cold start → /latest"
WARM = "warm restart → /latest"
MEMORY = "peak memory (VmHWM)"
IDLE = "idle CPU"
FANOUT_RATE = "fan-out rate (pushes and replies)"
FANOUT_429 = "fan-out 429s"
READER_P50 = "/latest during fan-out p50 (HTTP)"
READER_P99 = "/latest during fan-out p99 (HTTP)"


def drop_row(way: str, until: str, share: int) -> str:
    """A drop figure's row name: 'in-place → first call p50'."""
    return f"{way} → {until} p{share}"


def subscribe_row(chats: int) -> str:
    """The subscriptions' row name: 'add 100,000 subscriptions (in process)'."""
    return f"add {chats:,} subscriptions (in process)"


def command_row(name: str, args: str) -> str:
    """A command figure's row name: '/latest 20 p99 (in process)' ('/category NAME …')."""
    shown = args if args.isascii() else "NAME"  # the plot's font has no Hangul
    return f"/{' '.join(filter(None, (name, shown)))} p99 (in process)"


@dataclass(frozen=True, slots=True)
class Target:
    """What a figure should be: at most (or at least) `limit`."""

    limit: float
    is_most: bool = True

    def is_met(self, value: float) -> bool:
        """Whether `value` meets it."""
        return value <= self.limit if self.is_most else value >= self.limit

    def text(self, unit: str) -> str:
        """'≤ 3 s'."""
        shown = f"{self.limit:,g}" if unit == "count" else f"{self.limit:,g} {unit}"
        return f"{'≤' if self.is_most else '≥'} {shown}"


EVERY = 0  # a target's size key for every archive size
TARGETS: dict[str, dict[int, Target]] = {
    COLD: {10_000: Target(3), 100_000: Target(30)},
    WARM: {10_000: Target(1), 100_000: Target(2)},
    **{drop_row(way, "first call", 50): {10_000: Target(150)} for way in WAYS if "atomic" in way},
    **{drop_row(way, "first call", 99): {10_000: Target(1_000)} for way in WAYS if "atomic" in way},
    **{command_row(name, args): {EVERY: Target(20)} for name, args in COMMANDS},
    FANOUT_RATE: {EVERY: Target(0.95 * TELEGRAM_PER_S, is_most=False)},
    FANOUT_429: {EVERY: Target(0)},
    MEMORY: {10_000: Target(150), 100_000: Target(250)},
    IDLE: {10_000: Target(0.1)},
}


@dataclass(frozen=True, slots=True)
class Row:
    """One figure: a scenario at an archive size, against its target if it has one."""

    scenario: str
    size: int
    value: float | None  # None: not measured (see note)
    unit: str
    target: Target | None
    note: str = ""

    @property
    def is_met(self) -> bool | None:
        """Whether the target is met; None without a target or a value."""
        if self.target is None or self.value is None:
            return None
        return self.target.is_met(self.value)


def row(scenario: str, size: int, value: float | None, unit: str, note: str = "") -> Row:
    """A figure with the target it has at `size`."""
    targets = TARGETS.get(scenario, {})
    return Row(scenario, size, value, unit, targets.get(size, targets.get(EVERY)), note)


def figure(value: float | None, unit: str) -> str:
    """'1.23 s', '85 ms', '28.4 msg/s'."""
    if value is None:
        return "—"
    if unit == "count":
        return f"{value:,.0f}"
    digits = 0 if abs(value) >= 100 or unit == "MB" else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` of 100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Settings:
    """How much each scenario does: the full run or --quick."""

    sizes: tuple[int, ...]
    is_quick: bool
    drops: int  # per way of writing
    fanout_chats: int
    idle_s: float
    rescan_s: float  # for the idle process only; the others have sokbo's default (60 s)
    subscribers: int  # chats subscribed, one at a time, for the command scenario
    command_budget_s: float

    def runs_slow_scenarios(self, size: int) -> bool:
        """Whether commands, drops and idle CPU are measured at `size`."""
        return not self.is_quick or size >= BIG


FULL = Settings(SIZES, is_quick=False, drops=50, fanout_chats=3_000, idle_s=65, rescan_s=60,
                subscribers=100_000, command_budget_s=10)  # fmt: skip
# Quick subscribes 10,000 chats: storage takes 1.3-3 ms a subscription (a commit each), so
# 100,000 would take two to five minutes on their own.
QUICK = Settings(QUICK_SIZES, is_quick=True, drops=20, fanout_chats=600, idle_s=20, rescan_s=10,
                 subscribers=10_000, command_budget_s=3)  # fmt: skip


def deadline_s(size: int) -> float:
    """How long a start may take before it is called hung (today's code: ~2.5 ms a post)."""
    return 120 + size / 100


class Service:
    """A `python -m bot run` process in `folder`, each line of its output stamped on arrival."""

    def __init__(self, folder: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=folder,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8",
                 **(env or {})},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )  # fmt: skip
        self.lines: dict[str, queue.Queue[tuple[float, str]]] = {
            "out": queue.Queue(),
            "err": queue.Queue(),
        }
        self.tail: deque[str] = deque(maxlen=12)  # the log's last lines, shown on a failure
        self._pumps = [
            threading.Thread(target=self._pump, args=(stream, name), daemon=True)
            for stream, name in ((self.process.stdout, "out"), (self.process.stderr, "err"))
        ]
        for pump in self._pumps:
            pump.start()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pump(self, stream: IO[str] | None, name: str) -> None:
        assert stream is not None
        for line in stream:
            self.lines[name].put((time.monotonic(), line.rstrip("\n")))
            if name == "err":
                self.tail.append(line.rstrip("\n"))

    def type(self, line: str) -> None:
        """Type a line on its console."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def next_line(self, stream: str, *, timeout_s: float) -> tuple[float, str] | None:
        """The next line of stdout or stderr and when it came; None if none came in time."""
        try:
            return self.lines[stream].get(timeout=timeout_s)
        except queue.Empty:
            self.check_running()
            return None

    def wait_for(self, text: str, *, stream: str, within_s: float) -> float:
        """When the next line containing `text` came."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if (got := self.next_line(stream, timeout_s=0.1)) is not None and text in got[1]:
                return got[0]
        raise TimeoutError(f"no {text!r} on std{stream} within {within_s:.0f} s")

    def check_running(self) -> None:
        """Raise, with the log's last lines, if the process has ended."""
        if (status := self.process.poll()) is not None:
            time.sleep(0.2)  # the pump's last lines
            raise RuntimeError(f"sokbo exited ({status}): " + " | ".join(self.tail))

    def peak_memory_mb(self) -> float:
        """VmHWM, the resident set's high-water mark, in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
        raise RuntimeError("no VmHWM in /proc/<pid>/status")

    def cpu_s(self) -> float:
        """User plus system CPU time so far, in seconds."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        """SIGTERM, SIGKILL if it has not ended STOP_S later; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                print(f"sokbo still running {STOP_S:.0f} s after SIGTERM: killed", file=sys.stderr)
                self.process.kill()
                self.process.wait(timeout=STOP_S)
        for pump in self._pumps:
            pump.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self.process.returncode != 0:
            print(f"sokbo ended with {self.process.returncode}: " + " | ".join(self.tail),
                  file=sys.stderr)  # fmt: skip
        return self.process.returncode


@dataclass
class TimedTelegram(FakeTelegram):
    """The fake Bot API, with when each message call, accepted message and update came."""

    message_calls: list[tuple[float, int, str]] = field(default_factory=list)  # (when, chat, text)
    accepted: list[tuple[float, int, str]] = field(default_factory=list)  # those not refused
    queued_at: dict[int, float] = field(default_factory=dict)  # reader's chat → update queued

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update and note when (call it on the fake's loop)."""
        self.queued_at[int(update["message"]["chat"]["id"])] = time.monotonic()
        super().push_update(update)

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        self.message_calls.append((time.monotonic(), int(params["chat_id"]), str(params["text"])))
        return super()._sendMessage(params)

    def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        caption = str(params.get("caption", ""))
        self.message_calls.append((time.monotonic(), int(params["chat_id"]), caption))
        return super()._sendPhoto(params)

    def _message(
        self, chat_id: int, text: str, photo: str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        self.accepted.append((time.monotonic(), chat_id, text))
        return super()._message(chat_id, text, photo, params)

    def first(self, text: str, *, since: float, is_accepted: bool = False) -> dict[int, float]:
        """Each chat's first call (or accepted message) containing `text` after `since`."""
        first: dict[int, float] = {}
        for at, chat, sent in list(self.accepted if is_accepted else self.message_calls):
            if at >= since and text in sent:
                first.setdefault(chat, at)
        return first


@contextlib.contextmanager
def served(api: FakeTelegram) -> Iterator[asyncio.AbstractEventLoop]:
    """Serve the fake on 127.0.0.1 from a thread of its own; yield its loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(api.start(), loop).result(timeout=10)
        yield loop
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def write_config(
    folder: Path,
    *,
    rescan_s: float | None = None,
    api_url: str | None = None,
    channels: Sequence[tuple[int, str]] = (),
) -> None:
    """`sokbo.toml`: the site in `posts`, no burst limit, and Telegram's fake and channels."""
    lines = [
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\nname = "Bench News"',
        '[bot]\nlanguage = "en"\nmax_burst = 1000000',
    ]
    if rescan_s is not None:
        lines[-1] += f"\nrescan_seconds = {rescan_s}"
    if api_url is not None:
        files = api_url.replace("/bot", "/file/bot")
        lines.append(f'[telegram]\napi_url = "{api_url}"\napi_file_url = "{files}"')
    lines += [
        f'[[telegram.channels]]\nchat_id = {chat}\ncategories = ["{category}"]'
        for chat, category in channels
    ]
    (folder / "sokbo.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def link_tree(source: Path, target: Path) -> None:
    """`target` as a copy of `source` made of hard links (copies across file systems)."""
    shutil.copytree(source, target, copy_function=_link)


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def newest_title(posts: Path) -> str:
    """The title of the newest generated post (file names sort by date)."""
    newest = max(os.listdir(posts))
    for line in (posts / newest).read_text(encoding="utf-8").splitlines()[1:]:
        if line.startswith("title: "):
            return line.removeprefix("title: ")
    raise ValueError(f"{newest}: no title line")


def time_to_latest(service: Service, title: str, *, within_s: float) -> float:
    """Seconds from the process's start to the first `/latest` answer that shows `title`.

    An answer without it (the scan not in yet) is asked again.
    """
    service.type("/latest 1")
    typed, answered = time.monotonic(), 0.0
    while time.monotonic() - service.started < within_s:
        got = service.next_line("out", timeout_s=0.05)
        if got is not None:
            if title in got[1]:
                return got[0] - service.started
            answered = got[0]
        elif answered > typed and time.monotonic() - answered > 0.3:
            service.type("/latest 1")
            typed = time.monotonic()
    raise TimeoutError(f"no /latest answer showing {title!r} within {within_s:.0f} s")


def cold_start(run: Path, size: int, title: str, memory: list[float]) -> list[Row]:
    """An empty database: process start to the first /latest showing the newest post."""
    with Service(run) as service:
        seconds = time_to_latest(service, title, within_s=deadline_s(size))
        # A first run records the front matter, then reads the bodies: let it finish, as a
        # real first run does, or the restart reads everything again.
        service.wait_for("read the bodies of", stream="err", within_s=deadline_s(size) * 3)
        memory.append(service.peak_memory_mb())
    commands = run / "commands"  # the database as the cold start left it, for the commands
    commands.mkdir()
    for name in ("sokbo.db", "sokbo.db-wal"):
        if (run / name).exists():
            shutil.copy2(run / name, commands / name)
    return [row(COLD, size, seconds, "s")]


def warm_restart(
    run: Path, size: int, title: str, memory: list[float], *, idle_s: float
) -> list[Row]:
    """Nothing changed: start to /latest again, then CPU used while nothing happens."""
    with Service(run) as service:
        seconds = time_to_latest(service, title, within_s=deadline_s(size))
        rows = [row(WARM, size, seconds, "s")]
        if idle_s > 0:
            time.sleep(2)  # what the answer set off
            before, started = service.cpu_s(), time.monotonic()
            time.sleep(idle_s)
            used, elapsed = service.cpu_s() - before, time.monotonic() - started
            note = f"{used:.2f} s in {elapsed:.0f} s"
            rows.append(row(IDLE, size, used * 60 / elapsed, "s/min", note))
        memory.append(service.peak_memory_mb())
    return rows


def drop_text(title: str, *, category: str, rng: random.Random) -> str:
    """A new post dated now."""
    body = "\n\n".join(f"<p>{sentence(rng, 16)} {sentence(rng, 16)}</p>" for _ in range(4))
    now = datetime.now(UTC)
    return (
        f"---\ntitle: {title}\ncategories: [{category}]\n"
        f"date: {now:%Y-%m-%d %H:%M:%S} +0000\n---\n\n{body}\n"
    )


@dataclass
class Dropper:
    """Writes new posts into the folder and times them to the fake's first and last chat."""

    api: TimedTelegram
    posts: Path
    staging: Path
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    free_at: dict[int, float] = field(default_factory=dict)  # group → its channels' next slot
    done_at: float = 0.0
    count: int = 0

    def drop(self, way: str, *, group: int, chats: int) -> tuple[float | None, float | None]:
        """Write one post the `way` given; seconds to its first call and to its `chats`th chat."""
        time.sleep(max(0.0, self.free_at.get(group, 0) - time.monotonic()))
        time.sleep(max(0.0, self.done_at + 0.1 - time.monotonic()))
        self.count += 1
        slug = WAYS[way]
        title = f"벤치 속보 {slug}-{self.count:04}"
        text = drop_text(title, category=f"bench{group}", rng=self.rng)
        name = f"{datetime.now(UTC):%Y-%m-%d}-bench-{slug}-{self.count:04}.md"
        since = time.monotonic()
        if slug == "inplace":
            with (self.posts / name).open("w", encoding="utf-8") as file:
                file.write(text)
        else:
            beside = self.posts / f".{name}.tmp"
            self.publish(name, text, temporary=beside if slug == "beside" else None)
        written = time.monotonic()
        return self._timed(title, written, since=since, group=group, chats=chats)

    def publish(self, name: str, text: str, *, temporary: Path | None = None) -> None:
        """Write a post to a temporary file (outside the folder by default), then rename it in."""
        temporary = temporary or self.staging / name
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.posts / name)

    def _timed(
        self, title: str, written: float, *, since: float, group: int, chats: int
    ) -> tuple[float | None, float | None]:
        """Seconds from `written` to the first call for `title`, and to its `chats`th chat."""
        while time.monotonic() - written < DROP_WAIT_S:
            if len(reached := self.api.first(title, since=since, is_accepted=True)) >= chats:
                self.done_at = max(reached.values())
                self.free_at[group] = self.done_at + CHANNEL_PACE_S + 0.05
                first = min(self.api.first(title, since=since).values())
                return first - written, self.done_at - written
            time.sleep(0.01)
        calls = self.api.first(title, since=since)
        self.done_at = time.monotonic()
        self.free_at[group] = self.done_at + CHANNEL_PACE_S
        return (min(calls.values()) - written if calls else None), None


def drop_rows(size: int, way: str, times: list[tuple[float | None, float | None]]) -> list[Row]:
    """p50 and p99 to the first call and to the last chat, in ms."""
    rows = []
    for until, index in (("first call", 0), ("last chat", 1)):
        got = [value for value in (pair[index] for pair in times) if value is not None]
        lost = len(times) - len(got)
        note = f"{len(got)} drops" + (f", {lost} not there in {DROP_WAIT_S:.0f} s" if lost else "")
        for share in (50, 99):
            value = percentile(got, share) * 1000 if got else None
            rows.append(row(drop_row(way, until, share), size, value, "ms", note))
    return rows


def telegram_run(run: Path, size: int, settings: Settings, memory: list[float]) -> list[Row]:
    """sokbo on the fake Bot API: drops to 10 channels, then a fan-out with readers' /latest."""
    fanout = settings.fanout_chats if size >= BIG else 0
    channels = [
        (FIRST_CHANNEL - n, f"bench{n // GROUP_CHATS}") for n in range(GROUPS * GROUP_CHATS)
    ]
    channels += [(FIRST_CHANNEL - 10_000 - n, "benchfan") for n in range(fanout)]
    api = TimedTelegram()
    rows: list[Row] = []
    with served(api) as loop:
        write_config(run, api_url=api.url, channels=channels)
        with Service(run, env={"TELEGRAM_BOT_TOKEN": api.token}) as service:
            service.wait_for("Ctrl-C stops", stream="err", within_s=deadline_s(size))
            dropper = Dropper(api, run / "posts", run / "staging")
            dropper.staging.mkdir(exist_ok=True)
            dropper.drop("in-place", group=0, chats=GROUP_CHATS)  # a warm-up, not counted
            for way in WAYS:
                times = [
                    dropper.drop(way, group=n % GROUPS, chats=GROUP_CHATS)
                    for n in range(1, settings.drops + 1)
                ]
                rows += drop_rows(size, way, times)
            if fanout:
                rows += fan_out(api, loop, dropper, size=size, chats=fanout)
            memory.append(service.peak_memory_mb())
    return rows


def fan_out(
    api: TimedTelegram,
    loop: asyncio.AbstractEventLoop,
    dropper: Dropper,
    *,
    size: int,
    chats: int,
) -> list[Row]:
    """One post to `chats` channels; readers' /latest sent during it, one every second."""
    title, since, limited = f"벤치 팬아웃 {size}", time.monotonic(), api.limited
    name = f"{datetime.now(UTC):%Y-%m-%d}-bench-fanout.md"
    dropper.publish(name, drop_text(title, category="benchfan", rng=dropper.rng))
    readers = ask_during(api, loop, title, since=since, chats=chats)
    wait_for_replies(api, since=since, readers=readers)
    sent = sorted(channels_reached(api, title, since=since).values())
    span = sent[-1] - sent[0] if len(sent) > 1 else 0.0
    # The platform's limit counts every message: the readers' replies go in the same budget.
    calls = sum(1 for at, _, _ in api.accepted if sent and sent[0] <= at <= sent[-1])
    rate = (calls - 1) / span if span else None
    replies = calls - len(sent)
    note = f"{len(sent):,} of {chats:,} chats and {replies} replies in {span:.1f} s"
    answered = api.first("", since=since)  # a reader's first message is the reply
    answers = [
        answered[reader] - api.queued_at[reader]
        for reader in range(FIRST_READER, FIRST_READER + readers)
        if reader in answered
    ]
    asked = f"{len(answers)} of {readers} answered"
    return [
        row(FANOUT_RATE, size, rate, "msg/s", note),
        row(FANOUT_429, size, api.limited - limited, "count"),
        row(READER_P50, size, percentile(answers, 50) * 1000 if answers else None, "ms", asked),
        row(READER_P99, size, percentile(answers, 99) * 1000 if answers else None, "ms", asked),
    ]


def ask_during(
    api: TimedTelegram, loop: asyncio.AbstractEventLoop, title: str, *, since: float, chats: int
) -> int:
    """Queue a new reader's /latest every second while the fan-out runs; how many were."""
    readers = 0
    deadline = time.monotonic() + 60 + 2 * chats / TELEGRAM_PER_S
    while len(reached := channels_reached(api, title, since=since)) < chats:
        if time.monotonic() > deadline:
            break
        if readers < MOST_READERS and reached:
            chat = {"id": FIRST_READER + readers, "type": "private", "first_name": "Reader"}
            message = update(chat, "/latest", user_id=FIRST_READER + readers, language="en")
            loop.call_soon_threadsafe(api.push_update, message)  # the fake's list, its thread
            readers += 1
        time.sleep(READER_EVERY_S)
    return readers


def wait_for_replies(api: TimedTelegram, *, since: float, readers: int) -> None:
    """Until every reader has a reply, or 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answered = api.first("", since=since)
        if all(FIRST_READER + n in answered for n in range(readers)):
            return
        time.sleep(0.05)


def channels_reached(api: TimedTelegram, title: str, *, since: float) -> dict[int, float]:
    """Each channel's first accepted message with `title` (readers' replies list it too)."""
    reached = api.first(title, since=since, is_accepted=True)
    return {chat: at for chat, at in reached.items() if chat < 0}  # readers' ids are positive


async def time_commands(folder: Path, size: int, title: str, settings: Settings) -> list[Row]:
    """Subscribe chats, then time each command in COMMANDS, as an admin."""
    write_config(folder)
    config = load_config(folder / "sokbo.toml", {})
    clock = SystemClock()
    async with open_storage(config) as storage:
        started = time.monotonic()
        for n in range(settings.subscribers):  # one at a time: gathered, each takes twice as long
            address = str(FIRST_READER + n)
            await storage.chats.subscribe(
                "telegram", address, (), now=clock.now(), language="en", kind="private"
            )
        elapsed = time.monotonic() - started
        note = f"{elapsed / settings.subscribers * 1000:.2f} ms each"
        rows = [row(subscribe_row(settings.subscribers), size, elapsed, "s", note)]
        commands = Commands(storage, config, clock, nudge=lambda: None)
        for name, args in COMMANDS:
            times: list[float] = []
            budget = time.monotonic() + settings.command_budget_s
            while len(times) < COMMAND_CALLS and (
                len(times) < MIN_CALLS or time.monotonic() < budget
            ):
                started = time.perf_counter()
                reply = await commands.handle(Command(name, args), ADMIN)
                times.append(time.perf_counter() - started)
            note = f"p50 {percentile(times, 50) * 1000:.1f} ms, {len(times)} calls"
            if name == "latest" and title not in reply.text:
                note += f"; the newest post is not in its answer: {reply.lines[0]!r}"
            rows.append(
                row(command_row(name, args), size, percentile(times, 99) * 1000, "ms", note)
            )
    return rows


class Report:
    """The figures: a Markdown row printed for each as it comes, then the files."""

    HEADER = "| scenario | posts | measured | target | met |\n|---|--:|--:|--:|:-:|"

    def __init__(self) -> None:
        self.rows: list[Row] = []
        print(self.HEADER, flush=True)

    def add(self, rows: Sequence[Row]) -> None:
        """Keep and print rows."""
        for got in rows:
            self.rows.append(got)
            print(self.line(got), flush=True)

    def run(self, names: Sequence[str], size: int, step: Callable[[], list[Row]]) -> None:
        """Run a scenario; a failure is a row for each of its `names`, and the run goes on."""
        try:
            self.add(step())
        except Exception as error:  # today's service may break under load: say so, go on
            problem = f"failed: {type(error).__name__}: {error}"[:300]
            self.add([row(name, size, None, "", problem) for name in names])

    @staticmethod
    def line(got: Row) -> str:
        """One long-form table row."""
        target = "" if got.target is None else got.target.text(got.unit)
        met = {True: "✓", False: "✗", None: ""}[got.is_met]
        value = figure(got.value, got.unit) + (f" ({got.note})" if got.note else "")
        return f"| {got.scenario} | {got.size:,} | {value} | {target} | {met} |"

    def table(self) -> list[str]:
        """Scenario × archive size, each figure with ✓ or ✗, and the targets."""
        sizes = sorted({got.size for got in self.rows})
        cells = {(got.scenario, got.size): got for got in self.rows}
        lines = [
            "| scenario | " + " | ".join(f"{n:,} posts" for n in sizes) + " | target |",
            "|---|" + "--:|" * len(sizes) + "---|",
        ]
        for name in dict.fromkeys(got.scenario for got in self.rows):
            shown = []
            for size in sizes:
                got = cells.get((name, size))
                mark = "" if got is None else {True: " ✓", False: " ✗", None: ""}[got.is_met]
                shown.append("" if got is None else figure(got.value, got.unit) + mark)
            targets = "; ".join(
                f"{got.target.text(got.unit)} at {got.size:,}"
                for size in sizes
                if (got := cells.get((name, size))) is not None and got.target is not None
            )
            lines.append(f"| {name} | " + " | ".join(shown) + f" | {targets} |")
        return lines

    def markdown(self, *, title: str) -> str:
        """The table, then every figure with its notes."""
        return "\n".join([f"# {title}", "", *self.table(), "", self.HEADER,
                          *map(self.line, self.rows), ""])  # fmt: skip

    def write(self, out: Path, *, title: str, facts: dict[str, Any]) -> None:
        """results.json, results.md and (with matplotlib) results.png in `out`."""
        out.mkdir(parents=True, exist_ok=True)
        figures = [
            {**asdict(got), "target": None if got.target is None else asdict(got.target),
             "is_met": got.is_met}
            for got in self.rows
        ]  # fmt: skip
        (out / "results.json").write_text(
            json.dumps({**facts, "results": figures}, ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
        (out / "results.md").write_text(self.markdown(title=title), encoding="utf-8")
        plot(self.rows, out / "results.png", title=title)


def panel(got: Row) -> str:
    """Which panel of the plot a figure goes in: its unit, and for ms what is timed."""
    if got.unit != "ms":
        return got.unit
    if any(way in got.scenario for way in WAYS):
        return "ms: a new post to the fake Bot API"
    return "ms: commands in the process" if "in process" in got.scenario else "ms: over HTTP"


def plot(rows: Sequence[Row], path: Path, *, title: str) -> None:
    """Each scenario's cost against archive size (log-log), one panel per kind of figure."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
    except ImportError:
        print("no results.png: matplotlib is missing (pip install matplotlib)")
        return
    measured = [got for got in rows if got.value is not None and got.value > 0]  # log scale
    panels = list(dict.fromkeys(map(panel, measured)))
    if not panels:
        return
    drawing, axes = plt.subplots(
        len(panels), 1, figsize=(10, 3.4 * len(panels)), sharex=True, squeeze=False
    )
    for axis, name in zip(axes[:, 0], panels, strict=True):
        draw_panel(axis, [got for got in measured if panel(got) == name], name=name)
    axes[0, 0].set_title(f"{title} (a bar: the target at that size)")
    drawing.tight_layout()
    drawing.savefig(path, dpi=110)
    plt.close(drawing)


def draw_panel(axis: Any, rows: Sequence[Row], *, name: str) -> None:
    """One line per scenario, its targets as bars of its colour."""
    for number, scenario in enumerate(dict.fromkeys(got.scenario for got in rows)):
        points = sorted((got.size, got.value or 0.0) for got in rows if got.scenario == scenario)
        style = ("-", "--", ":")[number // 10 % 3]  # ten colours, then the next dash
        [line] = axis.plot(*zip(*points, strict=True), style, marker="o", label=scenario)
        targets = [(got.size, got.target.limit) for got in rows
                   if got.scenario == scenario and got.target is not None and got.target.limit > 0]  # fmt: skip
        if targets:
            axis.plot(
                *zip(*targets, strict=True), "_", markersize=18, mew=2, color=line.get_color()
            )
    values = [got.value or 1.0 for got in rows]
    values += [got.target.limit for got in rows if got.target is not None and got.target.limit > 0]
    is_wide = max(values) / min(values) > 10  # a narrow range reads better on a linear axis
    axis.set(xscale="log", yscale="log" if is_wide else "linear", ylabel=name)
    axis.grid(visible=True, which="both", alpha=0.3)
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axis.set_xlabel("posts in the archive")


def bench_size(size: int, settings: Settings, *, cache: Path, report: Report) -> None:
    """Every scenario at one archive size, on a site of its own."""
    posts = cached_site(cache, size)
    title = newest_title(posts)
    memory: list[float] = []
    slow = settings.runs_slow_scenarios(size)
    with tempfile.TemporaryDirectory(prefix=f"sokbo-bench-{size}-") as folder:
        run = Path(folder)
        link_tree(posts, run / "posts")
        write_config(run, rescan_s=settings.rescan_s)
        report.run([COLD], size, lambda: cold_start(run, size, title, memory))
        idle_s = settings.idle_s if slow else 0
        warm = [WARM, IDLE] if slow else [WARM]
        report.run(warm, size, lambda: warm_restart(run, size, title, memory, idle_s=idle_s))
        if slow:
            names = [subscribe_row(settings.subscribers)]
            names += [command_row(name, args) for name, args in COMMANDS]
            commands = run / "commands"
            report.run(
                names, size, lambda: asyncio.run(time_commands(commands, size, title, settings))
            )
            names = [drop_row(way, until, share) for way in WAYS
                     for until in ("first call", "last chat") for share in (50, 99)]  # fmt: skip
            if size >= BIG:
                names += [FANOUT_RATE, FANOUT_429, READER_P50, READER_P99]
            report.run(names, size, lambda: telegram_run(run, size, settings, memory))
        peak = max(memory) if memory else None
        report.add([row(MEMORY, size, peak, "MB", f"the most of {len(memory)} processes")])


def main() -> None:
    """Run every scenario at every size; print the table and write the results."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 posts, fewer drops")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results"))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sokbo-bench")
    parser.add_argument("--sizes", type=int, nargs="+", help="archive sizes instead of the usual")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    if args.sizes:
        settings = replace(settings, sizes=tuple(args.sizes))
    started, began = time.monotonic(), datetime.now(UTC)
    report = Report()
    for size in settings.sizes:
        bench_size(size, settings, cache=args.cache, report=report)
    elapsed = time.monotonic() - started
    title = f"sokbo scale benchmark{' (--quick)' if settings.is_quick else ''}"
    facts = {
        "started": began.isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "settings": asdict(settings),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    report.write(args.out, title=title, facts=facts)
    print("", *report.table(), "", sep="\n")
    print(f"{elapsed:.0f} s; results in {args.out}/ (results.json, results.md, results.png)")


if __name__ == "__main__":
    main()
