"""Fan-out benchmark against the fake Bot API: sokbo's even pacing vs the library's AIORateLimiter.

Run by hand (`python -m tests.benchmark_telegram`): both send one message to each of 120
private chats through a server that answers 429 past 30 messages in any second. Then the long
form of the reply scenarios: 600 readers answered at once, and 600 pushes with 40 replies
among them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, ExtBot

from bot.clock import SystemClock
from bot.config import TelegramSettings
from bot.model import Target
from bot.platforms.telegram.send import TelegramPlatform
from tests.fake_telegram import FakeTelegram
from tests.test_render_telegram import message

CHATS = 120


async def sokbo_pacing(api: FakeTelegram) -> tuple[float, int]:
    """sokbo's Pacer at 28.5/s, sends in parallel as delivery makes them."""
    bot = ExtBot(api.token, base_url=api.url)
    async with bot:
        platform = TelegramPlatform(bot, TelegramSettings(), SystemClock())
        started, limited = time.perf_counter(), 0

        async def one(chat: int) -> None:
            nonlocal limited
            target = Target(chat, "telegram", str(chat), kind="private")
            await platform.ready(target)
            try:
                await platform.send(target, message(image_url=None))
            except Exception:  # a translated 429
                limited += 1

        await asyncio.gather(*(one(chat) for chat in range(1, CHATS + 1)))
        return time.perf_counter() - started, limited


async def library_limiter(api: FakeTelegram) -> tuple[float, int]:
    """python-telegram-bot's AIORateLimiter (30/s overall), retries off to count the 429s."""
    bot = ExtBot(api.token, base_url=api.url, rate_limiter=AIORateLimiter(max_retries=0))
    async with bot:
        started, limited = time.perf_counter(), 0

        async def one(chat: int) -> None:
            nonlocal limited
            try:
                await bot.send_message(chat, "x")
            except RetryAfter:
                limited += 1

        await asyncio.gather(*(one(chat) for chat in range(1, CHATS + 1)))
        return time.perf_counter() - started, limited


async def replies_and_pushes(api: FakeTelegram, *, pushes: int, replies: int) -> str:
    """`pushes` alerts to as many chats, `replies` answers among them, all at once."""
    bot = ExtBot(api.token, base_url=api.url)
    async with bot:
        platform = TelegramPlatform(bot, TelegramSettings(), SystemClock())
        started = time.perf_counter()
        answered: list[float] = []

        async def push(chat: int) -> None:
            target = Target(chat, "telegram", str(chat), kind="private")
            await platform.ready(target)
            await platform.send(target, message(image_url=None))

        async def reply(chat: int) -> None:
            if await platform.reply(chat, "Latest posts: …") is not None:
                answered.append(time.perf_counter() - started)

        await asyncio.gather(
            *(push(chat) for chat in range(1, pushes + 1)),
            *(reply(100_000 + chat) for chat in range(replies)),
        )
        seconds = time.perf_counter() - started
        slowest = max(answered, default=0.0)
        return (
            f"{pushes} pushes + {replies} replies in {seconds:.1f} s: {len(answered)}/{replies} "
            f"replies (slowest {slowest:.1f} s), {api.limited} answered 429"
        )


async def main() -> None:
    """Print time and 429s for each."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    logging.getLogger("telegram").setLevel(logging.CRITICAL)  # each counted 429 would log a trace
    for name, run in (("sokbo pacer 28.5/s", sokbo_pacing), ("AIORateLimiter", library_limiter)):
        api = FakeTelegram()
        await api.start()
        try:
            seconds, limited = await run(api)
        finally:
            await api.stop()
        print(f"{name:>20}: {CHATS} chats in {seconds:.2f} s, {limited} answered 429")
    for pushes, replies in ((0, 600), (600, 40)):
        api = FakeTelegram()
        await api.start()
        try:
            print(await replies_and_pushes(api, pushes=pushes, replies=replies))
        finally:
            await api.stop()


if __name__ == "__main__":
    asyncio.run(main())
