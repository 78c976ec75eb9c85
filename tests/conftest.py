"""Shared fixtures: a site config on a temp folder, storage backends, and post bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import SiteConfig
from bot.fanout import fan_out
from bot.model import Post
from bot.posts import parse_post
from bot.sqlite import open_sqlite
from bot.storage import Storage

# python-telegram-bot 22 gives RetryAfter.retry_after as a timedelta (not a deprecated int) with this.
os.environ.setdefault("PTB_TIMEDELTA", "1")

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]


Opener = Callable[[], AbstractAsyncContextManager[Storage]]
BACKENDS = ("sqlite",)  # a second backend adds its name here and its opener below


@pytest.fixture(params=BACKENDS)
def open_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Open the backend under test on one fresh database (each call opens it again)."""
    assert request.param == "sqlite"
    database = tmp_path / "sokbo.db"
    return lambda: open_sqlite(database)


async def fan_out_queued(storage: Storage, *, now: datetime = NOW) -> int:
    """Give every queued push its deliveries, as delivery does before each claim."""
    targets = await storage.chats.active_targets()
    plan = {push.push_id: fan_out(push, targets) for push in await storage.outbox.queued()}
    return await storage.outbox.fan_out(plan, now=now)


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    """A Seoul-time site whose posts live in tmp_path/_posts."""
    posts = tmp_path / "_posts"
    posts.mkdir()
    return SiteConfig(
        posts_dir=posts, url="https://news.example.com", timezone="Asia/Seoul", root=tmp_path
    )


def post_file(front: str | None, body: str = "") -> bytes:
    """Return the bytes of a post with `front` as its front matter (None: no front matter)."""
    if front is None:
        return body.encode()
    return f"---\n{front.strip()}\n---\n{body}".encode()


def parse(
    raw: bytes, site: SiteConfig, *, path: str = "2024-07-13-news.md", seen_at: datetime = NOW
) -> Post:
    """Parse `raw` as the file `path` under the site's posts folder."""
    return parse_post(raw, path=path, site=site, seen_at=seen_at)


def shipped_site(folder: Path) -> Path:
    """Copy the committed sample posts and config.example.toml into `folder`, and return it.

    Tests never read the live posts/: a post a user drops there must not change the suite.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "posts", "config.example.toml"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, folder / name)
    return folder
