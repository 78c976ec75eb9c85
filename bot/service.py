"""The running service: storage, watcher, schedule, delivery and platforms in one task group."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import ApplicationBuilder

from bot import __version__
from bot.clock import SystemClock, sleep_or
from bot.commands import Commands
from bot.config import Config
from bot.delivery import Delivery, Platform
from bot.errors import PlatformError
from bot.instance import single_instance
from bot.platforms.console import NAME as CONSOLE
from bot.platforms.console import ConsolePlatform, console_caller, read_commands
from bot.platforms.discord import NAME as DISCORD
from bot.platforms.discord import DiscordPlatform, discord_client
from bot.platforms.discord_chats import DiscordChats
from bot.platforms.telegram import NAME as TELEGRAM
from bot.platforms.telegram import TelegramPlatform
from bot.platforms.telegram_chats import AnyApplication, TelegramChats
from bot.sqlite import open_sqlite
from bot.static_chats import static_chats
from bot.storage import Chats, Reports, Storage
from bot.tracker import Tracker, site_identity
from bot.watch import FolderView, watch_folder

log = logging.getLogger(__name__)


async def serve(config: Config, clock: SystemClock, *, with_console: bool) -> None:
    """The service: storage, watcher, schedule, delivery and platforms in one task group."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    names = running_platforms(config, with_console=with_console)
    platforms: dict[str, Platform] = {}
    application, telegram = None, None
    if TELEGRAM in names:
        application = telegram_application(config)
        telegram = TelegramPlatform(application.bot, config.telegram, clock)
        platforms[TELEGRAM] = telegram
    console = ConsolePlatform(sys.stdout)
    database = config.bot.database
    with single_instance(database):
        async with contextlib.AsyncExitStack() as stack:
            storage = await stack.enter_async_context(open_sqlite(database))
            await _apply_static(storage.chats, config, names, clock)
            discord = None
            if DISCORD in names:
                token = config.secrets.discord_token
                assert token is not None  # DISCORD is in names only with one
                client = await stack.enter_async_context(
                    discord_client(config.discord, token.get_secret_value())
                )
                discord = DiscordPlatform(client, clock, colors=config.discord.color_table)
                platforms[DISCORD] = discord
            if CONSOLE in names:
                platforms[CONSOLE] = console
            sinks: list[Callable[[str], None]] = []  # admin notices: already logged; chats too

            def notify(text: str) -> None:
                for sink in sinks:
                    sink(text)

            delivery = Delivery(storage, platforms, config, clock, on_notice=notify)
            tracker = Tracker(
                storage.archive, config.bot, clock,
                site=site_identity(config.site), on_push=delivery.nudge, on_notice=notify,
            )  # fmt: skip
            commands = Commands(storage, config, clock, nudge=delivery.nudge)
            language = config.bot.language
            view = FolderView(config.site, clock=clock, settle_s=config.bot.settle_seconds)
            snapshots = watch_folder(
                view, clock=clock, rescan_s=config.bot.rescan_seconds, stop=stop
            )
            runs = await _start_chats(
                stack, commands, storage, config, clock,
                telegram=(application, telegram) if application and telegram else None,
                discord=discord, sinks=sinks,
            )  # fmt: skip
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(tracker.follow(snapshots))
                    tasks.create_task(tracker.keep_time(stop))
                    tasks.create_task(delivery.run(stop))
                    for run in runs:
                        tasks.create_task(run(stop))
                    tasks.create_task(
                        _banner(tracker, storage.reports, config, stop, platforms=list(platforms))
                    )
                    if console.name in platforms:
                        caller = console_caller(language)
                        reader = read_commands(
                            sys.stdin, commands, console, caller, ready=tracker.synced, stop=stop
                        )
                        tasks.create_task(reader)
            except* PlatformError as group:  # a platform ended for good: one line, exit 2
                raise group.exceptions[0] from None
    log.info("sokbo stopped")


async def _start_chats(
    stack: contextlib.AsyncExitStack,
    commands: Commands,
    storage: Storage,
    config: Config,
    clock: SystemClock,
    *,
    telegram: tuple[AnyApplication, TelegramPlatform] | None,
    discord: DiscordPlatform | None,
    sinks: list[Callable[[str], None]],
) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    """Start each platform's chat side (commands in, notices out); return what runs until stop."""
    runs: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
    if telegram is not None:
        chats = TelegramChats(*telegram, commands, storage, config=config, clock=clock)
        sinks.append(chats.notify)
        await chats.start()
        stack.push_async_callback(chats.stop)
    if discord is not None:
        channels = DiscordChats(discord, commands, storage, config, clock)
        sinks.append(channels.notify)
        await channels.start()
        runs.append(channels.run)
    return runs


def running_platforms(config: Config, *, with_console: bool) -> list[str]:
    """The platforms this run sends to: those with a token, and the console if asked or alone."""
    names = [
        name
        for name, token in (
            (TELEGRAM, config.secrets.telegram_token),
            (DISCORD, config.secrets.discord_token),
        )
        if token is not None
    ]
    return [*names, CONSOLE] if with_console or not names else names


async def _apply_static(
    chats: Chats, config: Config, platforms: list[str], clock: SystemClock
) -> None:
    """Subscribe the config's chats before any platform starts; a chat taken out stops."""
    listed = static_chats(config, platforms=platforms)
    dropped = await chats.apply_static(listed, platforms=platforms, now=clock.now())
    if dropped:
        log.warning("%d chats are no longer in the config: they get no more pushes", dropped)


async def _banner(
    tracker: Tracker, reports: Reports, config: Config, stop: asyncio.Event, *, platforms: list[str]
) -> None:
    """Say on stderr what sokbo watches and how to try it, once the first scan is in."""
    await sleep_or(SystemClock(), None, tracker.synced, stop)
    if not tracker.synced.is_set():
        return
    where = (
        "Pushes print on stdout. Type /latest or /help, or drop a post into the folder."
        if "console" in platforms
        else f"Pushes go to {', '.join(platforms)}; try /latest or /help there."
    )
    if not config.site.posts_dir.is_dir():
        print(
            f"sokbo {__version__} is waiting for {config.site.posts_dir} (site.posts_dir), which "
            "does not exist yet: it starts watching the moment the folder appears.\n"
            f"{where} Ctrl-C stops.",
            file=sys.stderr,
            flush=True,
        )
        return
    summary = await reports.summary()
    states = summary.posts_by_state
    print(
        f"sokbo {__version__} is watching {config.site.posts_dir}: "
        f"{sum(states.values())} posts ({states.get('published', 0)} published, "
        f"{states.get('scheduled', 0)} scheduled, {states.get('unpublished', 0)} unpublished), "
        f"{len(summary.refused)} refused; time zone {config.site.timezone}.\n"
        f"{where} Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )


def telegram_application(config: Config) -> AnyApplication:
    """The python-telegram-bot Application: our API server, our pacing, updates in parallel."""
    token = config.secrets.telegram_token
    assert token is not None  # only built when there is one
    return (
        ApplicationBuilder()
        .token(token.get_secret_value())
        .base_url(config.telegram.api_url)
        .base_file_url(config.telegram.api_file_url)
        .concurrent_updates(True)
        .build()
    )
