"""The chats the config subscribes, derived from it once: the console and listed channels."""

from __future__ import annotations

from collections.abc import Collection

from bot.config import Config
from bot.model import DiscordOptions, TelegramOptions
from bot.platforms.console import ADDRESS
from bot.platforms.console import NAME as CONSOLE
from bot.platforms.discord import NAME as DISCORD
from bot.platforms.telegram import NAME as TELEGRAM
from bot.storage import StaticChat


def static_chats(config: Config, *, platforms: Collection[str]) -> tuple[StaticChat, ...]:
    """Every chat that gets pushes by configuration, on the platforms that will run."""
    chats: list[StaticChat] = []
    if CONSOLE in platforms:
        chats.append(StaticChat(CONSOLE, ADDRESS, (), config.bot.language, kind=""))
    if TELEGRAM in platforms:
        chats += [
            StaticChat(
                TELEGRAM,
                str(channel.chat_id),
                tuple(channel.categories),
                channel.language,
                kind="channel",
                options=TelegramOptions(channel.thread_id, channel.silent, channel.link_preview),
            )
            for channel in config.telegram.channels
        ]
    if DISCORD in platforms:
        chats += [
            StaticChat(
                DISCORD,
                str(channel.channel_id),
                tuple(channel.categories),
                channel.language,
                kind="text",
                options=DiscordOptions(channel.mention_role, channel.crosspost),
            )
            for channel in config.discord.channels
        ]
    return tuple(chats)
