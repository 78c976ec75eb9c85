"""Discord as a plug-in: REST for pushes, the gateway and slash commands for readers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.clock import Clock
from bot.commands import Commands
from bot.config import Config, DiscordChannel
from bot.model import DiscordOptions, Message
from bot.platforms.discord.chats import DiscordChats
from bot.platforms.discord.send import NAME, DiscordPlatform, discord_client
from bot.render.discord import render
from bot.storage import StaticChat, Storage

__all__ = ["NAME", "DiscordPlugin", "plugin"]


class DiscordPlugin:
    """Discord, when DISCORD_BOT_TOKEN is set: `[discord]` and its channels."""

    # Every plug-in opens like this (bot/plugins.py says what it is); the likeness is the
    # interface, and there is nothing to share but it.
    name = NAME
    is_fallback = False

    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.is_configured = config.secrets.discord_token is not None
        self._platform: DiscordPlatform | None = None

    def static_chats(self) -> tuple[StaticChat, ...]:
        """`[[discord.channels]]`, with their role to mention and crossposting."""
        return tuple(_static(channel) for channel in self.config.discord.channels)

    def preview(self, message: Message) -> list[dict[str, Any]]:
        """The REST request for a channel without a role to mention."""
        shown = render(message, colors=self.config.discord.color_table)
        request: dict[str, Any] = {"method": "POST", "path": "/channels/{channel_id}/messages"}
        request["json"] = shown.payload(DiscordOptions())
        if shown.attachment is not None:  # multipart: the json as payload_json, this as files[0]
            request["files"] = [shown.attachment]
        return [request]

    async def connect(self, stack: contextlib.AsyncExitStack) -> DiscordPlatform:
        """Log in over REST (the client is closed by `stack`)."""
        token = self.config.secrets.discord_token
        assert token is not None  # connected only when configured
        settings = self.config.discord
        client = await stack.enter_async_context(discord_client(settings, token.get_secret_value()))
        self._platform = DiscordPlatform(client, self.clock, colors=settings.color_table)
        return self._platform

    def chat_side(
        self, commands: Commands, storage: Storage, *, ready: asyncio.Event
    ) -> DiscordChats:
        """Slash commands and the gateway; it answers at once (`ready` unused)."""
        del ready
        assert self._platform is not None  # connect() comes first
        return DiscordChats(self._platform, commands, storage, self.config, self.clock)


def _static(channel: DiscordChannel) -> StaticChat:
    options = DiscordOptions(channel.mention_role, channel.crosspost)
    categories = tuple(channel.categories)
    return StaticChat(NAME, str(channel.channel_id), categories, channel.language, "text", options)


def plugin(config: Config, clock: Clock) -> DiscordPlugin:
    """Discord's plug-in."""
    return DiscordPlugin(config, clock)
