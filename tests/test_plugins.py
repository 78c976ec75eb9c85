"""Platforms as plug-ins: which run, and the chats their config sections subscribe."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import SecretStr

from bot.clock import SystemClock
from bot.config import Config, DiscordSettings, Secrets, SiteConfig, TelegramSettings
from bot.model import DiscordOptions, TelegramOptions
from bot.platforms import FACTORIES
from bot.plugins import running, static_chats
from bot.storage import StaticChat
from tests.conftest import REPO

TOKEN = SecretStr("123:not-a-real-token")


def config(*, telegram: bool = False, discord: bool = False) -> Config:
    """A config with the given platforms' tokens set, and one static channel on each."""
    return Config(
        site=SiteConfig(url="https://news.example.com"),
        telegram=TelegramSettings.model_validate(
            {
                "channels": [
                    {"chat_id": "@news", "categories": ["정치"], "thread_id": 3, "silent": True}
                ]
            }
        ),
        discord=DiscordSettings.model_validate(
            {"channels": [{"channel_id": 55, "mention_role": 9, "language": "en"}]}
        ),
        secrets=Secrets(
            telegram_token=TOKEN if telegram else None, discord_token=TOKEN if discord else None
        ),
    )


@pytest.mark.parametrize(
    ("telegram", "discord", "with_console", "expected"),
    [
        (False, False, False, ["console"]),  # nothing configured: the console alone
        (False, False, True, ["console"]),
        (True, False, False, ["telegram"]),
        (True, False, True, ["telegram", "console"]),  # `sokbo run --console`
        (False, True, False, ["discord"]),
        (True, True, False, ["telegram", "discord"]),  # one process, one outbox
    ],
)
def test_the_configured_platforms_run_and_the_console_when_asked_or_alone(
    telegram: bool, discord: bool, with_console: bool, expected: list[str]
) -> None:
    """A platform runs when its token is set; the console when asked for, or when none is."""
    chosen = running(
        FACTORIES, config(telegram=telegram, discord=discord), SystemClock(),
        with_fallback=with_console,
    )  # fmt: skip
    assert [plugin.name for plugin in chosen] == expected


def test_each_running_platform_brings_its_configured_chats() -> None:
    """Static chats come from the sections of the platforms that run, with typed options."""
    both = running(
        FACTORIES, config(telegram=True, discord=True), SystemClock(), with_fallback=True
    )
    assert static_chats(both) == (
        StaticChat("telegram", "@news", ("정치",), None, "channel", TelegramOptions(3, True, True)),
        StaticChat("discord", "55", (), "en", "text", DiscordOptions(9, crosspost=False)),
        StaticChat("console", "stdout", (), "ko", ""),
    )
    alone = running(FACTORIES, config(), SystemClock(), with_fallback=False)
    assert static_chats(alone) == (StaticChat("console", "stdout", (), "ko", ""),)


def test_a_platform_library_is_imported_only_when_its_platform_runs() -> None:
    """The console alone never imports python-telegram-bot or discord.py (a quarter second
    each at start); a configured platform does."""
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        "from bot.clock import SystemClock\n"
        "from bot.platforms import FACTORIES\n"
        "from bot.plugins import running\n"
        "from tests.test_plugins import config\n"
        "def loaded():\n"
        "    return [name for name in ('telegram', 'discord') if name in sys.modules]\n"
        "print(loaded())\n"
        "running(FACTORIES, config(), SystemClock(), with_fallback=True)\n"
        "print(loaded())\n"
        "running(FACTORIES, config(telegram=True), SystemClock(), with_fallback=False)\n"
        "print(loaded())\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert shown == ["[]", "[]", "['telegram']"]
