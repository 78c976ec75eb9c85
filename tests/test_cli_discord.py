"""`sokbo run` with a Discord token, as a process, posting to configured channels on the fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fake_discord import FakeDiscord
from tests.fakes import served_in_thread
from tests.test_cli_console import Console, post_text
from tests.test_cli_telegram import wait_for


@pytest.fixture
def api() -> Iterator[FakeDiscord]:
    """The fake, served from its own thread so the test may block while sokbo runs."""
    fake = FakeDiscord()
    with served_in_thread(fake.start, fake.stop):
        yield fake


def test_sokbo_posts_to_discord_channels_from_the_config(api: FakeDiscord, tmp_path: Path) -> None:
    """With the token set, a new post reaches each listed channel as an embed; no token in output."""
    (tmp_path / "sokbo.toml").write_text(
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\n[bot]\nsettle_seconds = 0.1\n'
        f'[discord]\napi_url = "{api.api_url}"\n'
        "[[discord.channels]]\nchannel_id = 7001\n"
        '[[discord.channels]]\nchannel_id = 7002\ncategories = ["Sport"]\nmention_role = 42\n'
    )
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "2026-01-01-old.md").write_text(
        post_text("Old", when=-timedelta(days=30))
    )
    sokbo = Console(tmp_path, env={"DISCORD_BOT_TOKEN": api.token})
    try:
        sokbo.expect_log("Pushes go to discord")
        (tmp_path / "posts" / "2026-11-22-fresh.md").write_text(post_text("Fresh for Discord"))
        wait_for(
            lambda: any(path.endswith("/channels/7001/messages") for _, path, _ in api.requests),
            "the push",
        )
        assert sokbo.stop() == 0
    finally:
        if sokbo.process.poll() is None:
            sokbo.stop()
    posted = [(path, body) for verb, path, body in api.requests if verb == "POST"]
    assert [path for path, _ in posted] == [
        "/api/v10/channels/7001/messages"
    ]  # 7002 wants Sport only
    assert posted[0][1]["embeds"][0]["title"] == "Fresh for Discord"
    assert posted[0][1]["allowed_mentions"]["parse"] == []
    shown = "\n".join(sokbo.seen["err"] + sokbo.seen["out"])
    assert api.token not in shown
