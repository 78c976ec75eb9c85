"""The platforms sokbo speaks to, each a plug-in (see bot/plugins.py), in the order they start."""

from __future__ import annotations

from bot.platforms import console, discord, telegram
from bot.plugins import Factory

FACTORIES: tuple[Factory, ...] = (telegram.plugin, discord.plugin, console.plugin)
NAMES = (console.NAME, telegram.NAME, discord.NAME)  # `sokbo preview --platform`, console first
