"""`sokbo run` with a Telegram token, as a process, against the fake Bot API over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot

from bot.clock import SystemClock
from bot.config import load_config
from bot.model import PushKind, Target
from bot.platforms.telegram.send import NAME, TelegramPlatform
from bot.render.message import to_message
from bot.source import load_post
from tests.fake_telegram import FakeTelegram
from tests.fakes import served_in_thread
from tests.test_cli_check import sokbo
from tests.test_cli_console import Console, post_text
from tests.test_platforms_telegram_chats import PRIVATE, command

DEADLINE_S = 30.0
TOKEN = "123456:not-a-real-token-just-for-tests"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def api() -> Iterator[FakeTelegram]:
    """The fake, served from its own thread so the test may block while sokbo runs."""
    fake = FakeTelegram()
    with served_in_thread(fake.start, fake.stop):
        yield fake


def wait_for(condition: object, what: str) -> None:
    """Poll `condition()` until true or the deadline."""
    deadline = datetime.now(UTC) + timedelta(seconds=DEADLINE_S)
    while datetime.now(UTC) < deadline:
        if condition():  # type: ignore[operator]
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"never happened: {what}")


def test_sokbo_serves_telegram_and_never_shows_the_token(api: FakeTelegram, tmp_path: Path) -> None:
    """With the token set: polling starts, /subscribe answers, a new post arrives; no token in any output."""
    (tmp_path / "sokbo.toml").write_text(
        f'[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\n[bot]\nsettle_seconds = 0.1\n'
        f'[telegram]\napi_url = "{api.url}"\napi_file_url = "{api.url.replace("/bot", "/file/bot")}"\n'
    )
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "2026-01-01-old.md").write_text(
        post_text("Old", when=-timedelta(days=30))
    )
    sokbo = Console(tmp_path, env={"TELEGRAM_BOT_TOKEN": api.token})
    try:
        sokbo.expect_log("telegram: polling as @sokbo_bot")
        sokbo.expect_log("Pushes go to telegram; try /latest or /help there.")
        api.push_update(command(PRIVATE, "/subscribe", language="en"))
        wait_for(
            lambda: any(
                c["text"] == "This chat now gets every new post." for c in api.calls("sendMessage")
            ),
            "the reply",
        )
        (tmp_path / "posts" / "2026-11-22-fresh.md").write_text(post_text("Fresh for Telegram"))
        wait_for(
            lambda: any(
                "Fresh for Telegram" in c.get("text", "") for c in api.calls("sendMessage")
            ),
            "the push",
        )
        assert sokbo.stop() == 0
    finally:
        if sokbo.process.poll() is None:
            sokbo.stop()
    shown = "\n".join(sokbo.seen["err"] + sokbo.seen["out"])
    assert api.token not in shown
    assert api.token.split(":")[1] not in shown
    assert not any(
        line.startswith("[") for line in sokbo.seen["out"]
    )  # no console without --console


@pytest.mark.parametrize("variable", ["TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN"])
def test_a_token_variable_set_but_empty_stops_sokbo_with_one_line(
    tmp_path: Path, variable: str
) -> None:
    """`TELEGRAM_BOT_TOKEN= sokbo run`: exit 2 and one line naming the variable, not the console."""
    (tmp_path / "posts").mkdir()
    result = sokbo("run", cwd=tmp_path, env={variable: " "})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sokbo: bad config: {variable} is set but empty; "
        "unset it to run on the console, or give the bot's token"
    ]
    assert result.stdout == ""


def test_a_token_in_the_config_file_stops_sokbo_and_says_where_it_goes(tmp_path: Path) -> None:
    """A `token` in [telegram]: exit 2, one line pointing to TELEGRAM_BOT_TOKEN, the token unshown."""
    (tmp_path / "sokbo.toml").write_text(f'[telegram]\ntoken = "{TOKEN}"\n')
    result = sokbo("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "sokbo: bad config: telegram.token: tokens go in TELEGRAM_BOT_TOKEN in the environment, "
        "never in the config file"
    ]
    assert TOKEN not in result.stderr + result.stdout


async def test_preview_shows_exactly_what_a_chat_receives(tmp_path: Path) -> None:
    """`sokbo preview --platform telegram --json` gives the very calls a chat then receives, but
    for the chat's id in place of {chat_id} and the uploaded file in place of attach://."""
    (tmp_path / "sokbo.toml").write_text(
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\n'
    )
    (tmp_path / "posts").mkdir()
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "banner.png").write_bytes(PNG)
    images = {"photo": "https://img.example.com/p.jpg", "local": "/assets/banner.png", "text": None}
    for key, image in images.items():
        shown = "" if image is None else f"image: {image}\n"
        (tmp_path / "posts" / f"{key}.md").write_text(
            f"---\ntitle: A <{key}> & co\n{shown}---\nText.\n"
        )
    files = [tmp_path / "posts" / f"{key}.md" for key in images]
    result = sokbo("preview", *map(str, files), "--platform", "telegram", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    previews = [json.loads(line)["calls"] for line in result.stdout.splitlines()]
    config = load_config(tmp_path / "sokbo.toml", {})
    api = FakeTelegram()
    await api.start()
    try:
        async with Bot(api.token, base_url=api.url) as bot:
            platform = TelegramPlatform(bot, config.telegram, SystemClock())
            for chat_id, file in enumerate(files, start=71):
                post = load_post(file, site=config.site, seen_at=SystemClock().now())
                message = to_message(
                    post, kind=PushKind.ALERT, site=config.site, language=config.bot.language
                )
                await platform.send(Target(chat_id, NAME, str(chat_id)), message)
    finally:
        await api.stop()
    [[photo], [local], [text]] = previews
    assert local["params"]["photo"] == f"attach://{(tmp_path / 'assets' / 'banner.png').resolve()}"
    assert [(method, params) for method, params in api.requests if method != "getMe"] == [
        ("sendPhoto", {**photo["params"], "chat_id": "71"}),
        ("sendPhoto", {**local["params"], "chat_id": "72", "photo": "upload:banner.png"}),
        ("sendMessage", {**text["params"], "chat_id": "73"}),
    ]
