"""The console, sokbo's embedded default: pushes printed on stdout, commands read from stdin."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
from typing import Any, TextIO

from bot.clock import Clock
from bot.commands import Caller, Commands, parse_command
from bot.config import Config
from bot.i18n import t
from bot.model import Message, MessageRef, Reply, Target
from bot.render.console import render
from bot.storage import StaticChat, Storage

NAME = "console"
ADDRESS = "stdout"


class ConsolePlatform:
    """Prints each push as a block on `out`; edits and retractions print their own blocks."""

    name = NAME

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._ids = itertools.count(1)

    def show(self, text: str) -> None:
        """Print a block and a blank line, at once."""
        self.out.write(text + "\n\n")
        self.out.flush()

    async def ready(self, target: Target) -> None:
        """A terminal has no rate limit."""
        del target

    async def send(self, target: Target, message: Message) -> MessageRef:
        """Print a push."""
        self.show(render(message))
        return MessageRef(NAME, target.address, next(self._ids))

    async def edit(self, ref: MessageRef, message: Message) -> None:
        """Print a correction: `[key] (edit) title` and the corrected post."""
        del ref
        self.show(render(message))

    async def delete(self, ref: MessageRef, message: Message) -> None:
        """Print a retraction: `[key] (retracted) title`."""
        del ref
        self.show(render(message))

    async def probe(self) -> None:
        """A terminal is always there."""


def console_caller(language: str) -> Caller:
    """The person at the console: an admin in a private chat."""
    return Caller(
        NAME, ADDRESS, "console", language, is_private=True, is_chat_admin=True, is_bot_admin=True
    )


async def read_commands(
    stream: TextIO,
    commands: Commands,
    console: ConsolePlatform,
    caller: Caller,
    *,
    ready: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    """Answer each line of `stream` until it ends or sokbo stops; its end stops only the reading.

    Lines typed before the first scan is in wait for it (`ready`). A thread reads, so a
    terminal or a pipe never blocks the event loop or the shutdown.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except (RuntimeError, ValueError, OSError):  # the loop or the stream closed first
            return

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    stopping = asyncio.ensure_future(stop.wait())
    asked: Reply | None = None  # the last reply: its question is answered by number
    try:
        while True:
            reading = asyncio.ensure_future(lines.get())
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                return
            line = reading.result()
            if line is None:
                return
            await ready.wait()
            reply = await answer(line, commands, caller, asked=asked)
            if reply is not None:
                console.show(reply.text)
                asked = reply
    finally:
        stopping.cancel()


async def answer(
    line: str, commands: Commands, caller: Caller, *, asked: Reply | None = None
) -> Reply | None:
    """Answer one typed line: a command, the number of a choice the last reply offered (the
    console has no buttons), or a hint when it is neither (blank lines: nothing)."""
    if not line.strip():
        return None
    number = line.strip()
    if asked is not None and number.isdecimal() and 1 <= int(number) <= len(asked.choices):
        return await commands.choose(asked.choices[int(number) - 1], caller)
    command = parse_command(line)
    if command is None:
        return Reply((t("unknown_command", caller.language),))
    return await commands.handle(command, caller)


class ConsoleChats:
    """The console's chat side: lines typed on stdin; notices are already in the log."""

    def __init__(
        self, platform: ConsolePlatform, commands: Commands, *, language: str, ready: asyncio.Event
    ) -> None:
        self.platform = platform
        self.commands = commands
        self.caller = console_caller(language)
        self.ready = ready

    def notify(self, text: str) -> None:
        """Nothing more to do: the log on stderr has it."""
        del text

    async def run(self, stop: asyncio.Event) -> None:
        """Answer stdin's lines until it ends or sokbo stops."""
        await read_commands(
            sys.stdin, self.commands, self.platform, self.caller, ready=self.ready, stop=stop
        )


class ConsolePlugin:
    """The console as a plug-in: sokbo's fallback, with no secret, on stdout and stdin."""

    name = NAME
    is_configured = False
    is_fallback = True

    def __init__(self, config: Config, clock: Clock) -> None:
        del clock  # a terminal has no pace to keep
        self.config = config
        self.platform = ConsolePlatform(sys.stdout)

    def static_chats(self) -> tuple[StaticChat, ...]:
        """The terminal itself gets every post."""
        return (StaticChat(NAME, ADDRESS, (), self.config.bot.language, kind=""),)

    def preview(self, message: Message) -> list[dict[str, Any]]:
        """The block it would print."""
        return [{"method": "print", "params": {"text": render(message)}}]

    async def connect(self, stack: contextlib.AsyncExitStack) -> ConsolePlatform:
        """Nothing to log in to."""
        del stack
        return self.platform

    def chat_side(
        self, commands: Commands, storage: Storage, *, ready: asyncio.Event
    ) -> ConsoleChats:
        """Commands typed at the terminal, answered once the first scan is in."""
        del storage
        return ConsoleChats(self.platform, commands, language=self.config.bot.language, ready=ready)


def plugin(config: Config, clock: Clock) -> ConsolePlugin:
    """The console's plug-in."""
    return ConsolePlugin(config, clock)
