"""The command line: arguments, logging, and the composition root of each command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.check import Status, classify, shown_path, summary
from bot.clock import SystemClock
from bot.config import DEFAULT_CONFIG_NAME, Config, load_config
from bot.errors import ConfigError
from bot.source import scan, walk

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
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check", help="parse every post and the config; report refused files"
    )
    check.add_argument(
        "--config", type=Path, help=f"config file (default: ./{DEFAULT_CONFIG_NAME})"
    )
    check.add_argument("--json", action="store_true", help="one JSON object per file per line")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    check.set_defaults(handler=run_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run sokbo with `argv` (default: the process's arguments); return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config = load_config(_config_path(args.config), os.environ)
        status: int = args.handler(args, config)
    except ConfigError as exc:
        print(f"sokbo: bad config: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
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
