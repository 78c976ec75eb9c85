"""The platforms sokbo speaks to, each a plug-in (see bot/plugins.py), in the order they start.

A platform's package, and its library with it, is imported only when its plug-in is made:
python-telegram-bot and discord.py take a quarter of a second each to import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Config
from bot.plugins import Factory, Plugin


@dataclass(frozen=True, slots=True)
class _Lazy:
    """A plug-in's factory that imports its package when called."""

    name: str
    module: str
    is_fallback: bool = False
    secret: Callable[[Config], object] = lambda _config: None  # set: the platform runs

    def is_configured(self, config: Config) -> bool:
        """Whether the config sets the platform's secret (without importing it)."""
        return self.secret(config) is not None

    def __call__(self, config: Config, clock: Clock) -> Plugin:
        make: Callable[[Config, Clock], Plugin] = importlib.import_module(self.module).plugin
        return make(config, clock)


FACTORIES: tuple[Factory, ...] = (
    _Lazy("telegram", "bot.platforms.telegram", secret=lambda c: c.secrets.telegram_token),
    _Lazy("discord", "bot.platforms.discord", secret=lambda c: c.secrets.discord_token),
    _Lazy("console", "bot.platforms.console", is_fallback=True),
)
NAMES = ("console", "telegram", "discord")  # `sokbo preview --platform`, console first
