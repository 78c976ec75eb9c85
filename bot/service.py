"""The running service: storage, watcher, schedule, delivery and platforms in one task group."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from bot import __version__
from bot.clock import Clock, SystemClock, sleep_or
from bot.commands import Commands
from bot.config import Config
from bot.delivery import Delivery, Platform
from bot.errors import PlatformError
from bot.faults import StoreFaults
from bot.instance import AlreadyRunning
from bot.platforms import FACTORIES
from bot.plugins import Plugin, running, static_chats
from bot.sqlite import open_sqlite
from bot.storage import Chats, Keeper, Reports, Storage, StoreError, StoreUnavailable
from bot.tracker import Tracker, reading_identity, site_identity
from bot.watch import FolderView, watch_folder

log = logging.getLogger(__name__)

KEEP_EVERY_S = 5  # how often the service makes sure its database is still where it was (2 stats)


async def serve(config: Config, clock: SystemClock, *, with_console: bool) -> None:
    """The service: storage, watcher, schedule, delivery and platforms in one task group."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    plugins = running(FACTORIES, config, clock, with_fallback=with_console)
    async with contextlib.AsyncExitStack() as stack:
        storage = await stack.enter_async_context(open_storage(config, exclusive=True))
        await _apply_static(storage.chats, plugins, clock)
        platforms: dict[str, Platform] = {}
        for plugin in plugins:  # each logs in; a refused token stops sokbo here
            platforms[plugin.name] = await plugin.connect(stack)
        sinks: list[Callable[[str], None]] = []  # admin notices: already logged; chats too

        def notify(text: str) -> None:
            for sink in sinks:
                sink(text)

        faults = StoreFaults(clock, on_notice=notify)  # storage away: told once, retried
        delivery = Delivery(storage, platforms, config, clock, on_notice=notify, faults=faults)
        reading = reading_identity(config.site)
        tracker = Tracker(
            storage.archive, config.bot, clock, site=site_identity(config.site), reading=reading,
            on_push=delivery.nudge, on_notice=notify, faults=faults,
        )  # fmt: skip
        commands = Commands(storage, config, clock, nudge=delivery.nudge)
        sides = [p.chat_side(commands, storage, ready=tracker.synced) for p in plugins]
        sinks += [side.notify for side in sides]
        known = await storage.archive.files() if await storage.archive.reading() == reading else []
        haste = config.bot.backfill == 0 and await storage.archive.is_first_run()  # see FolderView
        view = FolderView(
            config.site, clock=clock, settle_s=config.bot.settle_seconds, known=known, light=haste
        )
        snapshots = watch_folder(view, clock=clock, rescan_s=config.bot.rescan_seconds, stop=stop)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(tracker.follow(snapshots, stop))
                tasks.create_task(tracker.keep_time(stop))
                tasks.create_task(delivery.run(stop))
                for side in sides:
                    tasks.create_task(side.run(stop))
                banner = _banner(tracker, storage.reports, config, stop, plugins=plugins)
                tasks.create_task(banner)
                tasks.create_task(keep(storage.keeper, clock, stop, notify=notify))
        except* (PlatformError, AlreadyRunning, StoreError) as group:  # one line, exit 2
            raise group.exceptions[0] from None
        finally:  # deleted since the last round: saved before closing, however sokbo stops
            with contextlib.suppress(StoreError):
                await _mend(storage.keeper, notify)
    log.info("sokbo stopped")


def open_storage(
    config: Config, *, exclusive: bool = False
) -> AbstractAsyncContextManager[Storage]:
    """The storage backend the config names (SQLite at `bot.database`: the only one yet).

    `exclusive` (the service) holds it against a second service: AlreadyRunning if one does.
    """
    return open_sqlite(config.bot.database, exclusive=exclusive)


async def keep(
    keeper: Keeper, clock: Clock, stop: asyncio.Event, *, notify: Callable[[str], None]
) -> None:
    """Every KEEP_EVERY_S, have storage mend what was deleted under it, and tell the admins."""
    failing = ""
    while not stop.is_set():
        await sleep_or(clock, KEEP_EVERY_S, stop)
        if stop.is_set():
            return
        try:
            await _mend(keeper, notify)
        except StoreUnavailable as error:
            if str(error) != failing:  # once, not every round while it lasts
                log.warning("storage check failed (again every %d s): %s", KEEP_EVERY_S, error)
            failing = str(error)
            continue
        failing = ""


async def _mend(keeper: Keeper, notify: Callable[[str], None]) -> None:
    """Have storage mend what was deleted under it, and tell the admins if it did."""
    if (notice := await keeper.check()) is not None:
        log.warning("storage mended: %s", notice)
        notify(notice)


async def _apply_static(chats: Chats, plugins: list[Plugin], clock: SystemClock) -> None:
    """Subscribe the config's chats before any platform starts; a chat taken out stops."""
    names = [plugin.name for plugin in plugins]
    dropped = await chats.apply_static(static_chats(plugins), platforms=names, now=clock.now())
    if dropped:
        log.warning("%d chats are no longer in the config: they get no more pushes", dropped)


async def _banner(
    tracker: Tracker,
    reports: Reports,
    config: Config,
    stop: asyncio.Event,
    *,
    plugins: list[Plugin],
) -> None:
    """Say on stderr what sokbo watches and how to try it, once the first scan is in."""
    await sleep_or(SystemClock(), None, tracker.synced, stop)
    if not tracker.synced.is_set():
        return
    names = ", ".join(plugin.name for plugin in plugins if not plugin.is_fallback)
    where = (
        "Pushes print on stdout. Type /latest or /help, or drop a post into the folder."
        if any(plugin.is_fallback for plugin in plugins)
        else f"Pushes go to {names}; try /latest or /help there."
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
    try:
        summary = await reports.summary()
    except StoreUnavailable as error:  # the banner is a courtesy: its fault is told elsewhere
        log.warning("no start banner: %s", error)
        return
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
