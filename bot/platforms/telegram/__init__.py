"""Telegram as a plug-in: the Bot API through python-telegram-bot, for pushes and commands."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.clock import Clock
from bot.commands import Commands
from bot.config import Config, TelegramChannel
from bot.model import Message, TelegramOptions
from bot.platforms.telegram.chats import AnyApplication, TelegramChats, log_in, telegram_application
from bot.platforms.telegram.send import NAME, TelegramPlatform
from bot.render.telegram import render
from bot.storage import StaticChat, Storage

__all__ = ["NAME", "TelegramPlugin", "plugin"]


class TelegramPlugin:
    """Telegram, when TELEGRAM_BOT_TOKEN is set: `[telegram]` and its channels."""

    # Every plug-in opens like this (bot/plugins.py says what it is); the likeness is the
    # interface, and there is nothing to share but it.
    name = NAME
    is_fallback = False

    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.is_configured = config.secrets.telegram_token is not None
        self._connected: tuple[AnyApplication, TelegramPlatform] | None = None

    def static_chats(self) -> tuple[StaticChat, ...]:
        """`[[telegram.channels]]`, with their topic, sound and preview options."""
        return tuple(_static(channel) for channel in self.config.telegram.channels)

    def preview(self, message: Message) -> list[dict[str, Any]]:
        """The Bot API call for a chat with the default options; `{chat_id}` stands for it."""
        call = render(message)
        return [{"method": call.method, "params": call.params("{chat_id}", TelegramOptions())}]

    async def connect(self, stack: contextlib.AsyncExitStack) -> TelegramPlatform:
        """Log in to the Bot API (closed by `stack`)."""
        app = telegram_application(self.config)
        await log_in(app)
        stack.push_async_callback(app.shutdown)
        platform = TelegramPlatform(app.bot, self.config.telegram, self.clock)
        self._connected = (app, platform)
        return platform

    def chat_side(
        self, commands: Commands, storage: Storage, *, ready: asyncio.Event
    ) -> TelegramChats:
        """Polling, commands and membership changes; it answers at once (`ready` unused)."""
        del ready
        assert self._connected is not None  # connect() comes first
        app, platform = self._connected
        return TelegramChats(app, platform, commands, storage, config=self.config, clock=self.clock)


def _static(channel: TelegramChannel) -> StaticChat:
    options = TelegramOptions(channel.thread_id, channel.silent, channel.link_preview)
    categories = tuple(channel.categories)
    return StaticChat(NAME, str(channel.chat_id), categories, channel.language, "channel", options)


def plugin(config: Config, clock: Clock) -> TelegramPlugin:
    """Telegram's plug-in."""
    return TelegramPlugin(config, clock)
