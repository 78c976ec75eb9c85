"""The running service: storage, watcher, schedule, delivery and platforms in one task group."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from types import ModuleType

from bot import __version__
from bot.clock import Clock, SystemClock, sleep_or
from bot.commands import Commands
from bot.config import WEBHOOK_SECRET_VARIABLE, Config
from bot.delivery import Delivery, Platform
from bot.errors import ConfigError, PlatformError
from bot.faults import StoreFaults
from bot.gitpull import Pulled, Puller, find_checkout
from bot.i18n import counted
from bot.instance import AlreadyRunning
from bot.live import LiveCheck, Prober
from bot.platforms import FACTORIES
from bot.plugins import Plugin, running, static_chats
from bot.publish import Snapshot
from bot.sqlite import open_sqlite
from bot.storage import Chats, Keeper, Reports, Storage, StoreError, StoreUnavailable
from bot.tracker import Tracker, reading_identity, site_identity
from bot.watch import FolderView, Hold, watch_folder

log = logging.getLogger(__name__)

LIVE_LOOK_S = 12.0  # the banner waits this long for the live check's first look at the site
KEEP_EVERY_S = 5  # how often the service makes sure its database is still where it was (2 stats)


async def serve(
    config: Config,
    clock: SystemClock,
    *,
    with_console: bool,
    environ: Mapping[str, str] = os.environ,
) -> None:
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
        live = await _live_check(stack, storage, config, clock, delivery, faults=faults)

        def pushed() -> None:
            delivery.nudge()
            if live is not None:
                live.wake()

        reading = reading_identity(config.site)
        tracker = Tracker(
            storage.archive, config.bot, clock, site=site_identity(config.site), reading=reading,
            on_push=pushed, on_notice=notify, faults=faults, hold_alerts=live is not None,
        )  # fmt: skip
        hold = Hold()
        puller = await _puller(config, clock, environ, hold=hold, notify=notify)
        listening = (
            None
            if config.http.port is None
            else await stack.enter_async_context(_http_server(config, puller=puller, live=live))
        )
        commands = Commands(storage, config, clock, nudge=delivery.nudge)
        sides = [p.chat_side(commands, storage, ready=tracker.synced) for p in plugins]
        sinks += [side.notify for side in sides]
        snapshots = await _follow(config, storage, clock, stop, reading=reading, hold=hold)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(tracker.follow(snapshots, stop))
                tasks.create_task(tracker.keep_time(stop))
                tasks.create_task(delivery.run(stop))
                if live is not None:
                    tasks.create_task(live.run(stop))
                if puller is not None:
                    tasks.create_task(_pull_once_synced(puller, tracker, stop))
                for side in sides:
                    tasks.create_task(side.run(stop))
                banner = _banner(
                    tracker, storage.reports, config, stop, plugins=plugins,
                    live=live, also=_also(config, puller, listening),
                )  # fmt: skip
                tasks.create_task(banner)
                tasks.create_task(keep(storage.keeper, clock, stop, notify=notify))
        except* (PlatformError, AlreadyRunning, StoreError) as group:  # one line, exit 2
            raise group.exceptions[0] from None
        finally:  # deleted since the last round: saved before closing, however sokbo stops
            with contextlib.suppress(StoreError):
                await _mend(storage.keeper, notify)
    log.info("sokbo stopped")


async def _follow(
    config: Config,
    storage: Storage,
    clock: SystemClock,
    stop: asyncio.Event,
    *,
    reading: str,
    hold: Hold,
) -> AsyncIterator[Snapshot]:
    """The folder's snapshots, from the files as last read when the reading is the same."""
    known = await storage.archive.files() if await storage.archive.reading() == reading else []
    haste = config.bot.backfill == 0 and await storage.archive.is_first_run()  # see FolderView
    view = FolderView(
        config.site, clock=clock, settle_s=config.bot.settle_seconds, known=known, light=haste
    )
    return watch_folder(view, clock=clock, rescan_s=config.bot.rescan_seconds, stop=stop, hold=hold)


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


def _http_prober() -> AbstractAsyncContextManager[Prober]:
    """The live check's HTTP client (aiohttp is imported only when a site is checked)."""
    probe: ModuleType = importlib.import_module("bot.probe")
    prober: AbstractAsyncContextManager[Prober] = probe.HttpProber()
    return prober


async def _live_check(
    stack: contextlib.AsyncExitStack,
    storage: Storage,
    config: Config,
    clock: SystemClock,
    delivery: Delivery,
    *,
    faults: StoreFaults,
) -> LiveCheck | None:
    """The live check, if the site is checked; else the alerts left waiting go now."""
    if not config.site.checks_live:
        await _release_waiting(storage)
        return None
    prober = await stack.enter_async_context(_http_prober())
    return LiveCheck(
        storage.outbox, config.site, clock, prober=prober, on_live=delivery.nudge,
        on_notice=faults.on_notice, faults=faults,
    )  # fmt: skip


async def _release_waiting(storage: Storage) -> None:
    """With the live check off, the alerts an earlier run left waiting for their pages go."""
    released = 0
    for waiting in await storage.outbox.waiting():
        released += await storage.outbox.release(waiting.push_id)
    if released:
        log.info(
            "%d alerts waited for their pages: the live check is off, so they go now", released
        )


async def _puller(
    config: Config,
    clock: SystemClock,
    environ: Mapping[str, str],
    *,
    hold: Hold,
    notify: Callable[[str], None],
) -> Puller | None:
    """The checkout's puller, when an interval or the webhook asks for pulls."""
    every_s = config.site.git_pull_seconds
    if every_s is None and config.http.port is None:
        return None
    checkout = await find_checkout(config.site.posts_dir, environ=environ)
    if checkout is None and every_s is not None:
        where = "is not in a git checkout" if config.site.posts_dir.is_dir() else "does not exist"
        raise ConfigError(
            f"site.git_pull_seconds: {config.site.posts_dir} {where}; "
            "clone the site's repository there, or leave the key out"
        )
    if checkout is None:
        log.info("%s is not in a git checkout: push webhooks pull nothing", config.site.posts_dir)
        return None

    def pulled(result: Pulled) -> None:
        if result.is_ok and not result.is_changed:
            hold.brought_nothing()  # no rescan: git wrote nothing

    return Puller(
        checkout, clock, every_s=every_s, environ=environ, hold=hold.held, on_notice=notify,
        on_pulled=pulled,
    )  # fmt: skip


async def _pull_once_synced(puller: Puller, tracker: Tracker, stop: asyncio.Event) -> None:
    """Pull only once the archive is in: a post pulled before the first look would be
    recorded as part of the archive, not pushed."""
    await sleep_or(SystemClock(), None, tracker.synced, stop)
    if not stop.is_set():
        await puller.run(stop)


@contextlib.asynccontextmanager
async def _http_server(
    config: Config, *, puller: Puller | None, live: LiveCheck | None
) -> AsyncIterator[str]:
    """The HTTP listener with the git host's webhook (aiohttp imported only when it is on),
    running while the context lasts; it gives the banner's line on where it listens."""
    web: ModuleType = importlib.import_module("bot.web")
    secret = config.secrets.webhook_secret
    if secret is None:
        log.warning(
            "http is on but %s is not set: every webhook request is refused",
            WEBHOOK_SECRET_VARIABLE,
        )
    app = web.webhook_app(
        secret=None if secret is None else secret.get_secret_value().encode(),
        on_push=(lambda: None) if puller is None else puller.request,
        on_deployed=(lambda: None) if live is None else live.deployed,
    )
    assert config.http.port is not None
    async with web.HttpServer(app, host=config.http.host, port=config.http.port) as server:
        yield (
            f"Webhooks: POST http://{config.http.host}:{server.port}{web.WEBHOOK_PATH} "
            f"(signed with {WEBHOOK_SECRET_VARIABLE})."
        )


def _also(config: Config, puller: Puller | None, listening: str | None) -> list[str]:
    """The banner's lines on pulls and the webhook."""
    lines = []
    if puller is not None:
        every = config.site.git_pull_seconds
        when = "on each push webhook" if every is None else f"every {every:g} s"
        lines.append(f"It pulls {puller.checkout} with git {when}.")
    if listening is not None:
        lines.append(listening)
    return lines


async def _live_line(config: Config, live: LiveCheck | None, stop: asyncio.Event) -> str:
    """The banner's line on the live check: on, off and why, or on with the site away."""
    site = config.site
    if live is None:
        why = (
            "site.live_check = false"
            if site.live_check is False
            else f"{site.url} is a test address"
        )
        return f"A new post goes as soon as it is read: the live check is off ({why})."
    await sleep_or(SystemClock(), LIVE_LOOK_S, live.looked, stop)
    if live.site_down is not None:
        return (
            f"The live check is on, but {site.url} cannot be reached ({live.site_down}): "
            "new posts go at once until it answers."
        )
    after = "pushed anyway" if site.on_live_timeout == "push" else "held"
    return (
        f"A new post goes as soon as its page answers at {site.url} (live check on; after "
        f"{site.live_timeout_minutes:g} min it is {after})."
    )


async def _banner(
    tracker: Tracker,
    reports: Reports,
    config: Config,
    stop: asyncio.Event,
    *,
    plugins: list[Plugin],
    live: LiveCheck | None = None,
    also: list[str] | None = None,
) -> None:
    """Say on stderr what sokbo watches and how to try it, once the first scan is in."""
    await sleep_or(SystemClock(), None, tracker.synced, stop)
    if not tracker.synced.is_set():
        return
    more = "\n".join([await _live_line(config, live, stop), *(also or [])])
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
            f"{more}\n{where} Ctrl-C stops.",
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
        f"{counted(sum(states.values()), 'post')} ({states.get('published', 0)} published, "
        f"{states.get('scheduled', 0)} scheduled, {states.get('unpublished', 0)} unpublished), "
        f"{len(summary.refused)} refused; time zone {config.site.timezone}.\n"
        f"{more}\n{where} Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )
