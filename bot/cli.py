"""The command line: arguments, logging, and the composition root of each command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.check import Status, classify, shown_path, summary
from bot.clock import SystemClock
from bot.commands import Command, Commands
from bot.config import DEFAULT_CONFIG_NAME, Config, load_config
from bot.errors import ConfigError, PlatformError, PostError
from bot.instance import AlreadyRunning
from bot.model import Message, PushKind
from bot.platforms import FACTORIES, NAMES
from bot.platforms.console import console_caller
from bot.render.message import to_message
from bot.service import open_storage, serve
from bot.source import load_post, scan, walk
from bot.status import describe
from bot.storage import StoreError, Summary

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
    run.add_argument("--console", action="store_true", help="the console beside real platforms")
    run.set_defaults(handler=run_service)
    for name, does in (
        ("repost", "push a post again to every matching chat"),
        ("retract", "delete a post's messages and cancel its unsent pushes"),
    ):
        admin = commands.add_parser(name, parents=[common], help=does)
        admin.add_argument("key", nargs="+", metavar="KEY", help="a post's key, file path or URL")
        admin.set_defaults(handler=run_admin)
    preview = commands.add_parser(
        "preview", parents=[common], help="show exactly what would be sent"
    )
    preview.add_argument("posts", nargs="+", metavar="POST", help="a post's file path or key")
    preview.add_argument("--platform", choices=NAMES, default=NAMES[0])
    preview.add_argument("--json", action="store_true", help="the calls, one JSON object per post")
    preview.set_defaults(handler=run_preview)
    check = commands.add_parser(
        "check", parents=[common], help="parse every post and the config; report refused files"
    )
    check.add_argument("--json", action="store_true", help="one JSON object per file per line")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    check.set_defaults(handler=run_check)
    status = commands.add_parser("status", parents=[common], help="what the database knows")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(handler=run_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run sokbo with `argv` (default: the process's arguments); return the exit status."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # python-telegram-bot: retry_after as timedelta
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it logs every batch at INFO
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # bot.web logs what it takes
    for chatty in ("httpx", "httpcore"):  # per-request lines, and the Bot API's carry the token
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        config = load_config(_config_path(args.config), os.environ)
        status: int = args.handler(args, config)
    except ConfigError as exc:
        print(f"sokbo: bad config: {exc}", file=sys.stderr)
        return 2
    except (UsageError, AlreadyRunning, StoreError, PlatformError) as exc:
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
    """`sokbo run`: watch the posts, push them, answer commands, until SIGINT or SIGTERM."""
    asyncio.run(serve(config, SystemClock(), with_console=args.console))
    return 0


def run_status(args: argparse.Namespace, config: Config) -> int:
    """`sokbo status`: what the database knows; works while the service runs."""
    _require_database(config)
    summary = asyncio.run(_summary(config))
    now = SystemClock().now()
    if args.json:
        print(json.dumps(describe(summary, as_json=True, now=now), ensure_ascii=False))
    else:
        print(describe(summary, as_json=False, now=now))
    return 0


async def _summary(config: Config) -> Summary:
    async with open_storage(config) as storage:
        return await storage.reports.summary()


def _require_database(config: Config) -> None:
    """Stop with a clear error when no `sokbo run` has made the database yet."""
    database = config.bot.database
    try:
        exists = database.exists()
    except OSError as exc:  # its folder cannot be searched
        raise StoreError(f"{database}: cannot be reached: {exc.strerror}") from None
    if not exists:
        raise UsageError(f"no database at {database} yet: `sokbo run` creates it")


def run_admin(args: argparse.Namespace, config: Config) -> int:
    """`sokbo repost KEY` / `sokbo retract KEY`: queue it; the running service sends it."""
    _require_database(config)
    key = " ".join(args.key)

    async def admin() -> str:
        async with open_storage(config) as storage:
            commands = Commands(storage, config, SystemClock(), nudge=lambda: None)
            caller = console_caller(config.bot.language)
            return (await commands.handle(Command(args.command, key), caller)).text

    print(asyncio.run(admin()))
    return 0


def run_preview(args: argparse.Namespace, config: Config) -> int:
    """`sokbo preview POST…`: what the platform would be sent for each post, sending nothing.

    Like `sokbo check`, a refused file is reported on stderr and the others still shown;
    exit 1 if any was refused.
    """
    now = SystemClock().now()
    cwd = Path.cwd()
    refused = False
    for given in args.posts:
        path = _post_path(given, config)
        try:
            post = load_post(path, site=config.site, seen_at=now)
        except PostError as error:
            shown = shown_path(path, cwd)  # as `sokbo check` shows it, not under posts_dir
            where = shown if error.line is None else f"{shown}:{error.line}"
            print(f"sokbo: refused {where}: {error.reason}", file=sys.stderr, flush=True)
            refused = True
            continue
        message = to_message(  # as a push now would say it
            post, kind=PushKind.ALERT, site=config.site, language=config.bot.language, seen=now
        )
        _print_preview(post.key, preview_calls(message, args.platform, config), args)
    return 1 if refused else 0


def _post_path(given: str, config: Config) -> Path:
    """The file a POST argument names: a path, else a key (or file name) under posts_dir."""
    path = Path(given)
    if not path.is_file():
        path = config.site.posts_dir / (given if path.suffix else given + ".md")
    if not path.is_file():
        raise UsageError(f"no such post file: {given}")
    return path


def _print_preview(key: str, calls: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if args.json:
        line = {"post": key, "platform": args.platform, "calls": calls}
        print(json.dumps(line, ensure_ascii=False), flush=True)
    elif args.platform == "console":
        print(calls[0]["params"]["text"] + "\n", flush=True)
    else:
        for call in calls:
            shown = json.dumps(call["params"], ensure_ascii=False, indent=2)
            print(f"{call['method']} {shown}\n", flush=True)


def preview_calls(message: Message, platform: str, config: Config) -> list[dict[str, Any]]:
    """The calls a platform would make for `message`; `{chat_id}` stands for each chat."""
    [make] = [make for make in FACTORIES if make.name == platform]
    return make(config, SystemClock()).preview(message)
