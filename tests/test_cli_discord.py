"""`sokbo run` with a Discord token, as a process, against the fake Discord (REST and gateway)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fake_discord import FakeDiscord
from tests.fake_telegram import FakeTelegram
from tests.fakes import served_in_thread
from tests.test_cli_console import Console, post_text
from tests.test_cli_telegram import wait_for
from tests.test_platforms_discord_chats import GUILD, MANAGER, TEXT
from tests.test_store import rows


@pytest.fixture
def api() -> Iterator[FakeDiscord]:
    """The fake, served from its own thread so the test may block while sokbo runs."""
    fake = FakeDiscord()
    with served_in_thread(fake.start, fake.stop):
        yield fake


def config_text(api: FakeDiscord, extra: str = "") -> str:
    """A config with the fake's REST API and gateway, two listed channels, and `extra`."""
    return (
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\n[bot]\nsettle_seconds = 0.1\n'
        f'[discord]\napi_url = "{api.api_url}"\ngateway_url = "{api.gateway_url}"\n'
        "[[discord.channels]]\nchannel_id = 7001\ncrosspost = true\n"
        '[[discord.channels]]\nchannel_id = 7002\ncategories = ["Sport"]\nmention_role = 42\n'
        + extra
    )


def test_sokbo_serves_discord_and_never_shows_the_token(api: FakeDiscord, tmp_path: Path) -> None:
    """With the token set: commands registered, the gateway answers /subscribe, posts arrive."""
    api.gateway.add_guild(GUILD, {TEXT: "text"}, {})
    (tmp_path / "sokbo.toml").write_text(config_text(api))
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "2026-01-01-old.md").write_text(
        post_text("Old", when=-timedelta(days=30))
    )
    sokbo = Console(tmp_path, env={"DISCORD_BOT_TOKEN": api.token})
    try:
        sokbo.expect_log("discord: 12 slash commands registered")
        sokbo.expect_log("Pushes go to discord")
        wait_for(lambda: bool(api.gateway.sessions), "the gateway session")
        answer = api.run(
            api.interact(
                "subscribe", channel=TEXT, guild=GUILD, permissions=MANAGER, locale="en-US"
            )
        )
        wait_for(lambda: answer.answered, "the reply")
        assert answer.messages[0]["content"] == "This chat now gets every new post."
        (tmp_path / "posts" / "2026-11-22-fresh.md").write_text(post_text("Fresh for Discord"))
        wait_for(lambda: len(posted(api)) == 2, "the pushes")
        wait_for(lambda: len(api.crossposted) == 1, "the publication")  # 7001 only
        assert sokbo.stop() == 0
    finally:
        if sokbo.process.poll() is None:
            sokbo.stop()
    assert sorted(path for path, _ in posted(api)) == [
        "/api/v10/channels/7001/messages",  # 7002 wants Sport only
        f"/api/v10/channels/{TEXT}/messages",
    ]
    assert all(body["embeds"][0]["title"] == "Fresh for Discord" for _, body in posted(api))
    assert api.messages[int(api.crossposted[0])]["channel_id"] == "7001"
    assert all(body["allowed_mentions"]["parse"] == [] for _, body in posted(api))
    shown = "\n".join(sokbo.seen["err"] + sokbo.seen["out"])
    assert api.token not in shown


def test_sokbo_serves_discord_and_telegram_at_once(api: FakeDiscord, tmp_path: Path) -> None:
    """Both tokens: one process, one outbox; a new post reaches a Discord channel and a Telegram chat."""
    telegram = FakeTelegram()
    with served_in_thread(telegram.start, telegram.stop):
        (tmp_path / "sokbo.toml").write_text(config_text(api, (
            f'[telegram]\napi_url = "{telegram.url}"\n'
            f'api_file_url = "{telegram.url.replace("/bot", "/file/bot")}"\n'
            "[[telegram.channels]]\nchat_id = -1009\n"
        )))  # fmt: skip
        (tmp_path / "posts").mkdir()
        env = {"DISCORD_BOT_TOKEN": api.token, "TELEGRAM_BOT_TOKEN": telegram.token}
        sokbo = Console(tmp_path, env=env)
        try:
            sokbo.expect_log("Pushes go to telegram, discord")
            (tmp_path / "posts" / "2026-11-22-fresh.md").write_text(post_text("Fresh for both"))
            wait_for(
                lambda: bool(posted(api)) and bool(telegram.calls("sendMessage")), "the pushes"
            )
            assert sokbo.stop() == 0
        finally:
            if sokbo.process.poll() is None:
                sokbo.stop()
    assert [path for path, _ in posted(api)] == ["/api/v10/channels/7001/messages"]
    [sent] = telegram.calls("sendMessage")
    assert (int(sent["chat_id"]), "Fresh for both" in sent["text"]) == (-1009, True)
    assert rows(tmp_path / "sokbo.db", "SELECT status, COUNT(*) FROM outbox GROUP BY status") == [
        ("sent", 2)
    ]


def posted(api: FakeDiscord) -> list[tuple[str, dict[str, Any]]]:
    """(path, body) of every message the bot posted to a channel."""
    return [(path, body) for verb, path, body in api.requests
            if verb == "POST" and path.startswith("/api/v10/channels/") and path.endswith("/messages")]  # fmt: skip


def test_refused_tokens_stop_sokbo_with_a_clear_line_that_never_shows_them(
    api: FakeDiscord, tmp_path: Path
) -> None:
    """A wrong Discord or Telegram token: exit status 2 and one line naming the variable."""
    telegram = FakeTelegram()
    with served_in_thread(telegram.start, telegram.stop):
        (tmp_path / "sokbo.toml").write_text(
            config_text(api, f'[telegram]\napi_url = "{telegram.url}"\n')
        )
        (tmp_path / "posts").mkdir()
        for variable, token, line in (
            ("DISCORD_BOT_TOKEN", "not-the-discord-token", "sokbo: discord: Discord refused DISCORD_BOT_TOKEN"),
            ("TELEGRAM_BOT_TOKEN", "123:not-the-telegram-token", "sokbo: telegram: the Bot API refused TELEGRAM_BOT_TOKEN"),
        ):  # fmt: skip
            sokbo = Console(tmp_path, env={variable: token})
            sokbo.process.wait(timeout=30)  # it stops by itself …
            assert sokbo.stop() == 2  # … and this collects its output
            sokbo.expect(line, stream="err")
            shown = "\n".join(sokbo.seen["err"] + sokbo.seen["out"])
            assert token not in shown
            assert "Traceback" not in shown


def test_a_session_discord_ends_for_good_stops_sokbo_with_one_line(
    api: FakeDiscord, tmp_path: Path
) -> None:
    """The token reset while running (close code 4004): exit status 2, the reason, no trace."""
    (tmp_path / "sokbo.toml").write_text(config_text(api))
    (tmp_path / "posts").mkdir()
    sokbo = Console(tmp_path, env={"DISCORD_BOT_TOKEN": api.token})
    try:
        wait_for(lambda: bool(api.gateway.sessions), "the gateway session")
        api.run(api.gateway.end_sessions(4004))
        sokbo.process.wait(timeout=30)
    finally:
        status = sokbo.stop()
    assert status == 2
    sokbo.expect("sokbo: discord: the gateway ended the session", stream="err")
    assert "Traceback" not in "\n".join(sokbo.seen["err"])


def test_sokbo_on_discord_prints_no_voice_warnings(api: FakeDiscord, tmp_path: Path) -> None:
    """sokbo needs no voice: discord.py's PyNaCl and davey warnings never show; its other logs do."""
    (tmp_path / "sokbo.toml").write_text(config_text(api))
    (tmp_path / "posts").mkdir()
    sokbo = Console(tmp_path, env={"DISCORD_BOT_TOKEN": api.token})
    try:
        sokbo.expect_log("Pushes go to discord")
        wait_for(lambda: bool(api.gateway.sessions), "the gateway session")
    finally:
        assert sokbo.stop() == 0
    log = "\n".join(sokbo.seen["err"])
    assert "voice will NOT be supported" not in log
    assert "PyNaCl" not in log
    assert "davey" not in log
    assert "logging in using static token" in log  # discord.py's own log is not silenced
