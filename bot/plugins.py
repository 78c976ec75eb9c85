"""Platforms as plug-ins: what each platform package gives the service and the command line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.clock import Clock
from bot.commands import Commands
from bot.config import Config
from bot.delivery import Platform
from bot.model import Message
from bot.storage import StaticChat, Storage


class ChatSide(Protocol):
    """A platform's chat side: commands in, replies and admin notices out."""

    def notify(self, text: str) -> None:
        """Tell the platform's admins `text`, if it has a place for notices (never raises)."""
        ...

    async def run(self, stop: asyncio.Event) -> None:
        """Answer commands until `stop`; a PlatformError says the platform ended for good."""
        ...


class Plugin(Protocol):
    """One platform, made from the config: where pushes go, who asks, and what a post looks like.

    `connect` comes first (it logs in; a refused token is a PlatformError), then `chat_side`.
    """

    name: str
    is_configured: bool  # its secret is set
    is_fallback: bool  # it runs when asked for, or when no other is configured (the console)

    def static_chats(self) -> tuple[StaticChat, ...]:
        """The chats its config section subscribes."""
        ...

    def preview(self, message: Message) -> list[dict[str, Any]]:
        """The calls it would make for `message`, for `sokbo preview` (no secret needed)."""
        ...

    async def connect(self, stack: contextlib.AsyncExitStack) -> Platform:
        """Log in; what it opens is closed by `stack`; return delivery's side of it."""
        ...

    def chat_side(self, commands: Commands, storage: Storage, *, ready: asyncio.Event) -> ChatSide:
        """Its chat side, answering with `commands`; commands typed before `ready` may wait."""
        ...


Factory = Callable[[Config, Clock], Plugin]


def running(
    factories: Sequence[Factory], config: Config, clock: Clock, *, with_fallback: bool
) -> list[Plugin]:
    """The plug-ins this run uses: every configured one, and the fallback (the console) when
    asked for or when no other is configured."""
    plugins = [make(config, clock) for make in factories]
    chosen = [plugin for plugin in plugins if plugin.is_configured]
    if with_fallback or not chosen:
        chosen += [plugin for plugin in plugins if plugin.is_fallback]
    return chosen


def static_chats(plugins: Sequence[Plugin]) -> tuple[StaticChat, ...]:
    """Every chat the config subscribes, on the platforms that run."""
    return tuple(chat for plugin in plugins for chat in plugin.static_chats())
