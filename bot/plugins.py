"""Platforms as plug-ins: what each platform package gives the service and the command line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
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


class Factory(Protocol):
    """Makes a platform's plug-in; says before that whether the config runs it."""

    @property
    def name(self) -> str:
        """The platform's name."""
        ...

    @property
    def is_fallback(self) -> bool:
        """Whether it runs when asked for, or when no other is configured (the console)."""
        ...

    def is_configured(self, config: Config) -> bool:
        """Whether the config sets the platform's secret."""
        ...

    def __call__(self, config: Config, clock: Clock) -> Plugin:
        """The plug-in, made from the config."""
        ...


def running(
    factories: Sequence[Factory], config: Config, clock: Clock, *, with_fallback: bool
) -> list[Plugin]:
    """The plug-ins this run uses: every configured one, and the fallback (the console) when
    asked for or when no other is configured."""
    chosen = [make for make in factories if make.is_configured(config)]
    if with_fallback or not chosen:
        chosen += [make for make in factories if make.is_fallback]
    return [make(config, clock) for make in chosen]


def static_chats(plugins: Sequence[Plugin]) -> tuple[StaticChat, ...]:
    """Every chat the config subscribes, on the platforms that run."""
    return tuple(chat for plugin in plugins for chat in plugin.static_chats())
