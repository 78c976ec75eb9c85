"""Fan-out benchmark against the fake Discord: sokbo's pacing vs discord.py's own bucket handling.

Run by hand (`python -m tests.benchmark_discord`): both post one embed to each of 300 channels
through a server that answers 429 past 50 requests in any second, as Discord does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from bot.clock import SystemClock
from bot.errors import SendError
from bot.model import Target
from bot.platforms.discord.send import INTENTS, DiscordPlatform
from tests.fake_discord import FakeDiscord
from tests.test_render_telegram import message

CHANNELS = 300


async def fan_out(api: FakeDiscord, *, paced: bool) -> tuple[float, int]:
    """One post to every channel, all at once, paced by sokbo or not: seconds, posts not sent."""
    client = discord.Client(intents=INTENTS, max_ratelimit_timeout=30.0)
    await client.login(api.token)
    try:
        platform = DiscordPlatform(client, SystemClock(), colors={})
        started, failed = time.perf_counter(), 0

        async def one(channel: int) -> None:
            nonlocal failed
            target = Target(channel, "discord", str(channel), kind="text")
            if paced:
                await platform.ready(target)
            try:
                await platform.send(target, message(image_url=None))
            except SendError:  # still 429 after discord.py's five tries: delivery would retry
                failed += 1

        await asyncio.gather(*(one(channel) for channel in range(1, CHANNELS + 1)))
        return time.perf_counter() - started, failed
    finally:
        await client.close()


async def main() -> None:
    """Print time, 429s and posts not sent for each."""
    logging.getLogger("discord").setLevel(logging.CRITICAL)  # each 429 would log a warning
    runs: dict[str, Callable[[FakeDiscord], Awaitable[tuple[float, int]]]] = {
        "sokbo pacer 45/s": lambda api: fan_out(api, paced=True),
        "discord.py alone": lambda api: fan_out(api, paced=False),
    }
    for name, run in runs.items():
        api = FakeDiscord()
        await api.start()
        discord.http.Route.BASE = api.api_url
        try:
            seconds, failed = await run(api)
        finally:
            await api.stop()
        print(f"{name:>18}: {CHANNELS} channels in {seconds:.2f} s, "
              f"{len(api.limited)} answered 429, {failed} not sent")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
