"""The console, sokbo's embedded default: pushes printed on stdout, commands read from stdin."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import TextIO

from bot.commands import Caller, Commands, parse_command
from bot.i18n import t
from bot.model import Message, MessageRef, Reply, Target
from bot.render.console import render

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
            reply = await answer(line, commands, caller)
            if reply is not None:
                console.show(reply.text)
    finally:
        stopping.cancel()


async def answer(line: str, commands: Commands, caller: Caller) -> Reply | None:
    """Answer one typed line: a command, or a hint when it is not one (blank lines: nothing)."""
    if not line.strip():
        return None
    command = parse_command(line)
    if command is None:
        return Reply((t("unknown_command", caller.language),))
    return await commands.handle(command, caller)
