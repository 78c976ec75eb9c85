"""The command line: arguments, logging, and the composition root of each command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.check import Status, classify, shown_path, summary
from bot.clock import SystemClock
from bot.config import DEFAULT_CONFIG_NAME, Config, load_config
from bot.errors import ConfigError
from bot.instance import AlreadyRunning, single_instance
from bot.source import scan, walk
from bot.status import describe
from bot.store import Store, StoreError, Summary
from bot.tracker import Tracker
from bot.watch import FolderView, watch_folder

PROGRESS_EVERY = 200  # files between progress lines on a large folder

log = logging.getLogger(__name__)


class UsageError(Exception):
    """A command-line argument that cannot be used (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every sokbo command."""
    parser = argparse.ArgumentParser(
        prog="sokbo", description="Breaking-news alerts from a folder of Jekyll posts."
    )
    parser.add_argument("--version", action="version", version=f"sokbo {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, help=f"config file (default: ./{DEFAULT_CONFIG_NAME} if present)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", parents=[common], help="watch the posts and push them")
    run.set_defaults(handler=run_service)
    check = commands.add_parser(
        "check", parents=[common], help="parse every post and the config; report refused files"
    )
    check.add_argument("--json", action="store_true", help="one JSON object per file per line")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    check.set_defaults(handler=run_check)
    status = commands.add_parser("status", parents=[common], help="what the store knows")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(handler=run_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run sokbo with `argv` (default: the process's arguments); return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it logs every batch at INFO
    try:
        config = load_config(_config_path(args.config), os.environ)
        status: int = args.handler(args, config)
    except ConfigError as exc:
        print(f"sokbo: bad config: {exc}", file=sys.stderr)
        return 2
    except (UsageError, AlreadyRunning, StoreError) as exc:
        print(f"sokbo: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`sokbo check --json | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def run_check(args: argparse.Namespace, config: Config) -> int:
    """`sokbo check`: exit 1 if any file was refused."""
    files = _files_to_check(args.paths or [config.site.posts_dir], config)
    cwd = Path.cwd()
    now = SystemClock().now()
    rows = []
    refused = False
    for done, outcome in enumerate(scan(files, site=config.site, seen_at=now), start=1):
        row = classify(outcome, now=now, shown=shown_path(outcome.file, cwd))
        refused = refused or row.status is Status.REFUSED
        if args.json:
            print(row.to_json(), flush=True)
        else:
            rows.append(row)
            _progress(done, len(files))
    if not args.json:
        folder = shown_path(config.site.posts_dir, cwd) if not args.paths else "the given paths"
        print(summary(rows, folder=folder))
    return 1 if refused else 0


def _files_to_check(paths: Sequence[Path], config: Config) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(walk(path))
        elif path.exists() or path.is_symlink():
            files.append(path)
        elif path == config.site.posts_dir:
            raise ConfigError(f"site.posts_dir: no such folder, got '{path}'")
        else:
            raise UsageError(f"no such file or folder: {path}")
    return files


def _progress(done: int, total: int) -> None:
    if total < PROGRESS_EVERY or (done % PROGRESS_EVERY and done != total):
        return
    end = "\r" if sys.stderr.isatty() and done != total else "\n"
    print(f"checked {done}/{total} files", end=end, file=sys.stderr, flush=True)


def run_service(args: argparse.Namespace, config: Config) -> int:
    """`sokbo run`: watch the posts folder and record pushes until SIGINT or SIGTERM."""
    del args
    asyncio.run(serve(config, SystemClock()))
    return 0


async def serve(config: Config, clock: SystemClock) -> None:
    """The service: one store, the folder watcher and the schedule, in one task group."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    database = config.bot.database
    with single_instance(database):
        async with Store.open(database) as store:
            tracker = Tracker(store, config.bot, clock)
            view = FolderView(config.site, clock=clock, settle_s=config.bot.settle_seconds)
            snapshots = watch_folder(
                view, clock=clock, rescan_s=config.bot.rescan_seconds, stop=stop
            )
            log.info(
                "sokbo started: posts %s, database %s", config.site.posts_dir, config.bot.database
            )
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(tracker.follow(snapshots))
                tasks.create_task(tracker.keep_time(stop))
    log.info("sokbo stopped")


def run_status(args: argparse.Namespace, config: Config) -> int:
    """`sokbo status`: what the store knows; works while the service runs."""
    database = config.bot.database
    if not database.exists():
        raise UsageError(f"no database at {database} yet: `sokbo run` creates it")
    summary = asyncio.run(_summary(database))
    if args.json:
        print(json.dumps(describe(summary, as_json=True), ensure_ascii=False))
    else:
        print(describe(summary, as_json=False))
    return 0


async def _summary(database: Path) -> Summary:
    async with Store.open(database) as store:
        return await store.summary()
