"""`sokbo run` on the console as a user runs it: a real process, stdin and stdout."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import REPO, shipped_site
from tests.telegram_html import visible_text
from tests.test_cli_check import sokbo

DEADLINE_S = 30.0


def stamp(delta: timedelta) -> str:
    """A front matter date `delta` from now."""
    return (datetime.now(UTC) + delta).isoformat(" ", "seconds")


def post_text(
    title: str, *, when: timedelta = -timedelta(minutes=1), category: str = "News"
) -> str:
    """A post dated `when` from now."""
    return f"---\ntitle: {title}\ndate: {stamp(when)}\ncategories: [{category}]\n---\n<p>About {title}.</p>\n"


class Console:
    """A `sokbo run` process with its stdout and stderr read line by line."""

    def __init__(
        self, folder: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args], cwd=folder, env=env, text=True, bufsize=1,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.seen: dict[str, list[str]] = {"out": [], "err": []}
        self.cursor = {"out": 0, "err": 0}
        self.pumps = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for pump in self.pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str] | None, lines: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            lines.put(line.rstrip("\n"))

    def type(self, line: str) -> None:
        """Type a line on the console."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, text: str, *, stream: str = "out") -> str:
        """Wait for the next line containing `text` on stdout (or stderr) and return it."""
        lines = self.out if stream == "out" else self.err
        seen = self.seen[stream]
        deadline = time.monotonic() + DEADLINE_S
        while True:
            while self.cursor[stream] < len(seen):  # lines already read (all of them after stop)
                line = seen[self.cursor[stream]]
                self.cursor[stream] += 1
                if text in line:
                    return line
            if time.monotonic() >= deadline:
                raise AssertionError(f"no {text!r} on std{stream}: {seen}")
            try:
                seen.append(lines.get(timeout=0.1))
            except queue.Empty:
                continue

    def expect_log(self, text: str) -> str:
        """Wait for a line containing `text` on stderr (the log and the banner)."""
        return self.expect(text, stream="err")

    def stop(self) -> int:
        """SIGTERM, then the exit status."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=DEADLINE_S)
        for pump in self.pumps:  # they end at the end of the output: keep every line
            pump.join(timeout=DEADLINE_S)
        for name, lines in (("out", self.out), ("err", self.err)):
            while not lines.empty():
                self.seen[name].append(lines.get_nowait())
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                stream.close()
        return status


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder with an English-language config and two archived posts."""
    (tmp_path / "sokbo.toml").write_text(
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\nname = "Test News"\n'
        '[bot]\nlanguage = "en"\nsettle_seconds = 0.1\n'
    )
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "2026-01-01-archive.md").write_text(
        post_text("Archive one", when=-timedelta(days=300))
    )
    (posts / "2026-01-02-archive.md").write_text(
        post_text("Archive two", when=-timedelta(days=299), category="Sport")
    )
    return tmp_path


@pytest.fixture
def console(site: Path) -> Iterator[Console]:
    """sokbo running on the site's console."""
    running = Console(site)
    yield running
    if running.process.poll() is None:
        running.stop()


def test_the_console_pushes_new_posts_and_answers_commands(console: Console, site: Path) -> None:
    """Archive silent; a new post prints; commands answer; a scheduled post prints when due."""
    console.expect("is watching", stream="err")
    console.expect("Type /latest or /help", stream="err")
    (site / "posts" / "2026-11-22-fresh.md").write_text(post_text("Fresh news"))
    assert console.expect("[2026-11-22-fresh]") == "[2026-11-22-fresh] Fresh news"
    console.type("/latest 2")
    console.expect("Latest posts:")
    assert "Fresh news [2026-11-22-fresh]" in console.expect("Fresh news")
    console.type("/categories")
    console.expect("Categories:")
    console.expect("News (2)")
    console.type("/category sport")
    console.expect("Latest in Sport:")
    console.expect("Archive two [2026-01-02-archive]")
    console.type("/repost 2026-01-01-archive")
    console.expect("Reposting 2026-01-01-archive to 1 chat(s).")
    assert console.expect("[2026-01-01-archive]") == "[2026-01-01-archive] Archive one"
    (site / "posts" / "soon.md").write_text(post_text("Scheduled story", when=timedelta(seconds=3)))
    console.expect("scheduled post=soon", stream="err")
    assert console.expect("[soon]") == "[soon] Scheduled story"
    assert not any(
        line.startswith("[2026-01-02-archive]") for line in console.seen["out"]
    )  # never pushed
    assert console.stop() == 0


def test_the_readmes_first_command_prints_a_dropped_post_at_once(tmp_path: Path) -> None:
    """`sokbo run --config config.example.toml` on the shipped posts: the example's site is a
    reserved example name, so the live check is off, the banner says so, and a dropped post
    prints without waiting for a page that no server will ever serve."""
    site = shipped_site(tmp_path)
    service = Console(site, args=("--config", "config.example.toml"))
    try:
        service.expect_log("the live check is off (https://news.example.com is a test address)")
        service.expect_log("watching")
        (site / "posts" / "dropped.md").write_text(post_text("Dropped just now"))
        service.expect("Dropped just now")
    finally:
        service.stop()
    assert not any("waiting for the page" in line for line in service.seen["err"])


def test_a_question_is_answered_by_typing_its_number(console: Console) -> None:
    """The console has no buttons: a typo's question lists numbered answers, and typing a
    number answers it as a button would."""
    console.expect_log("watching")
    console.type("/subscribe Sprot")
    assert console.expect("There is no category") == (
        "There is no category 'Sprot'. Subscribe to Sport instead?"
    )
    assert console.expect("1.") == "1. Yes, Sport — /subscribe Sport"
    assert console.expect("2.") == "2. No, as I typed it — /subscribe Sprot!"
    assert console.expect("3.") == "3. Cancel"
    console.type("1")
    assert console.expect("This chat") == "This chat now gets new posts in: Sport"
    console.type("/subscribe Sprot")
    console.expect("3. Cancel")
    console.type("3")
    assert console.expect("Nothing") == "Nothing changed."


def test_no_typed_line_takes_the_console_down(console: Console) -> None:
    """Helpers' names, a NUL, 10,000 characters: each gets a short answer and sokbo goes on."""
    console.expect("is watching", stream="err")
    for line in ["/find x", "/throttle", "/listing", "/is_subscribed", "/category_names"]:
        console.type(line)
        assert console.expect("Unknown command") == "Unknown command; see /help."
    console.type("/category " + "x" * 10_000)
    console.expect("That is too long: a command takes at most 1,000 characters.")
    console.type("/lat\x00est 99")
    console.expect("Latest posts: (at most 20 at a time)")
    console.type("/latest 1")
    console.expect("Latest posts:")
    assert console.process.poll() is None
    assert console.stop() == 0
    assert "Traceback" not in "\n".join(console.seen["err"])


def test_a_missing_posts_folder_is_named_and_watched_for(tmp_path: Path) -> None:
    """No posts folder: sokbo says so, keeps running, and records then pushes once it appears."""
    (tmp_path / "sokbo.toml").write_text(
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\n'
        '[bot]\nlanguage = "en"\nsettle_seconds = 0.1\n'
    )
    console = Console(tmp_path)
    try:
        console.expect_log("is missing; waiting for it")
        console.cursor["err"] = 0  # the banner may come before or after that log line
        console.expect_log("which does not exist yet")
        staging = tmp_path / "staging"
        staging.mkdir()
        (staging / "2026-01-01-archive.md").write_text(
            post_text("Archive", when=-timedelta(days=9))
        )
        staging.rename(tmp_path / "posts")  # a checkout appearing whole
        console.expect_log("archived post=2026-01-01-archive")
        (tmp_path / "posts" / "2026-11-22-new.md").write_text(post_text("Arrived later"))
        assert console.expect("[2026-11-22-new]") == "[2026-11-22-new] Arrived later"
    finally:
        assert console.stop() == 0
    assert not any(line.startswith("[2026-01-01-archive]") for line in console.seen["out"])


def test_end_of_input_stops_reading_not_the_service(console: Console, site: Path) -> None:
    """With stdin closed, pushes still print; SIGTERM then stops it cleanly."""
    console.expect("is watching", stream="err")
    assert console.process.stdin is not None
    console.process.stdin.close()
    (site / "posts" / "2026-11-22-after.md").write_text(post_text("After the input ended"))
    assert console.expect("[2026-11-22-after]") == "[2026-11-22-after] After the input ended"
    assert console.process.poll() is None
    assert console.stop() == 0
    console.expect("sokbo stopped", stream="err")


def test_repost_from_the_shell_reaches_the_running_service(console: Console, site: Path) -> None:
    """`sokbo repost KEY` in another shell: the service prints it; status counts the delivery."""
    console.expect("is watching", stream="err")
    result = sokbo("repost", "2026-01-02-archive", cwd=site)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Reposting 2026-01-02-archive to 1 chat(s)."
    assert console.expect("[2026-01-02-archive]") == "[2026-01-02-archive] Archive two"
    status = json.loads(sokbo("status", "--json", cwd=site).stdout)
    assert status["deliveries"]["sent"] >= 1
    assert status["posts"]["published"] == 2


def test_preview_prints_exactly_what_would_be_sent(site: Path) -> None:
    """`sokbo preview POST --json` gives the calls for each post, sending nothing."""
    result = sokbo(
        "preview", "posts/2026-01-01-archive.md", "2026-01-02-archive", "--json", cwd=site
    )
    assert result.returncode == 0, result.stderr
    previews = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(p["post"], p["platform"]) for p in previews] == [
        ("2026-01-01-archive", "console"),
        ("2026-01-02-archive", "console"),
    ]
    text = previews[0]["calls"][0]["params"]["text"]
    assert previews[0]["calls"][0]["method"] == "print"
    assert text.splitlines()[0] == "[2026-01-01-archive] Archive one"
    assert text.splitlines()[1] == "About Archive one."
    assert text.splitlines()[3].startswith("link: https://news.example.com/news/2026/")
    assert not (site / "sokbo.db").exists()
    missing = sokbo("preview", "nope", cwd=site)
    assert missing.returncode == 2
    assert "no such post file: nope" in missing.stderr


def test_preview_for_telegram_gives_the_bot_api_calls(site: Path) -> None:
    """`--platform telegram --json`: sendMessage or sendPhoto with HTML Telegram accepts."""
    (site / "posts" / "photo.md").write_text(
        "---\ntitle: With a <photo> & more\nimage: https://x.org/p.jpg\n---\nText.\n"
    )
    result = sokbo(
        "preview",
        "posts/photo.md",
        "2026-01-01-archive",
        "--platform",
        "telegram",
        "--json",
        cwd=site,
    )
    assert result.returncode == 0, result.stderr
    photo, text = (json.loads(line) for line in result.stdout.splitlines())
    assert [call["method"] for call in photo["calls"]] == ["sendPhoto"]
    assert [call["method"] for call in text["calls"]] == ["sendMessage"]
    caption = photo["calls"][0]["params"]["caption"]
    assert visible_text(caption).startswith("With a <photo> & more\n\nText.")
    assert photo["calls"][0]["params"]["chat_id"] == "{chat_id}"
    assert (
        text["calls"][0]["params"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Read more"
    )


def test_preview_for_discord_gives_the_rest_call(site: Path) -> None:
    """`--platform discord --json`: the POST to the channel's messages with one embed."""
    (site / "sokbo.toml").write_text(
        (site / "sokbo.toml").read_text() + '[discord.colors]\nSport = "#00aa00"\n'
    )
    result = sokbo("preview", "2026-01-02-archive", "--platform", "discord", "--json", cwd=site)
    assert result.returncode == 0, result.stderr
    [call] = json.loads(result.stdout)["calls"]
    assert (call["method"], call["path"]) == ("POST", "/channels/{channel_id}/messages")
    [embed] = call["json"]["embeds"]
    assert (embed["title"], embed["color"], embed["footer"]) == (
        "Archive two",
        0x00AA00,
        {"text": "Test News"},
    )
    assert call["json"]["allowed_mentions"] == {"parse": []}


def test_preview_reports_every_refused_file_and_shows_the_others(site: Path) -> None:
    """Refused files get one stderr line each (path, line, reason); the rest still render; exit 1."""
    posts = site / "posts"
    (posts / "broken.md").write_text("---\ntitle: Broken\ndate: [x\n---\nText.\n")
    (posts / "untitled.md").write_text("---\ncategories: [News]\n---\nText.\n")
    result = sokbo(
        "preview", "broken", "2026-01-01-archive", "posts/untitled.md", "2026-01-02-archive",
        "--json", cwd=site,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert [json.loads(line)["post"] for line in result.stdout.splitlines()] == [
        "2026-01-01-archive",
        "2026-01-02-archive",
    ]
    refused = result.stderr.splitlines()
    assert len(refused) == 2, result.stderr
    assert refused[0].startswith("sokbo: refused posts/broken.md:3: ")
    assert refused[1].startswith("sokbo: refused posts/untitled.md: ")
    assert "title" in refused[1]
    plain = sokbo("preview", "2026-01-01-archive", "broken", cwd=site)
    assert plain.returncode == 1
    assert plain.stdout.splitlines()[0] == "[2026-01-01-archive] Archive one"
    assert plain.stderr.startswith("sokbo: refused posts/broken.md:3: ")


def test_a_restart_reads_only_what_changed_while_it_was_stopped(site: Path) -> None:
    """Stopped, the folder changes: the restart reads those files alone and acts on each
    (a new post pushed, an edit shown, a deletion hidden); a new time zone reads them all."""
    posts = site / "posts"
    for number in range(20):
        (posts / f"2025-06-{number + 1:02}-old.md").write_text(
            post_text(f"Old {number}", when=-timedelta(days=200 - number))
        )
    first = Console(site)
    first.expect_log("read the bodies of 22 posts")  # a first run reads its bodies last
    assert first.stop() == 0
    (posts / "2025-06-01-old.md").unlink()
    (posts / "2025-06-02-old.md").write_text(post_text("Old 1, edited", when=-timedelta(days=199)))
    (posts / "2026-11-22-while-away.md").write_text(post_text("Written while away"))
    again = Console(site)
    try:
        again.expect_log("read 2 changed files of 22; the others are as sokbo last saw them")
        assert again.expect("[2026-11-22-while-away]") == (
            "[2026-11-22-while-away] Written while away"
        )
        again.type("/latest 20")
        again.expect("Latest posts:")
        again.expect("Old 1, edited")
    finally:
        assert again.stop() == 0
    with contextlib.closing(sqlite3.connect(site / "sokbo.db")) as db:
        states = dict(db.execute("SELECT key, state FROM posts WHERE key LIKE '2025-06-0_-old'"))
    assert (states["2025-06-01-old"], states["2025-06-02-old"]) == ("gone", "published")
    config = site / "sokbo.toml"
    config.write_text(config.read_text().replace("[site]\n", '[site]\ntimezone = "Asia/Seoul"\n'))
    third = Console(site)
    third.expect("is watching", stream="err")
    assert third.stop() == 0
    assert not any("changed files of" in line for line in third.seen["err"])  # all read again
