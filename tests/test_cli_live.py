"""From a commit to a reader: `sokbo run` as a process pulls a local git host and pushes a new
post once its page is live on a local site (the interval, and the signed webhook)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fake_site import FakeSite, closed_port
from tests.fakes import served_in_thread
from tests.test_cli_check import sokbo
from tests.test_cli_console import Console

SECRET = "s3cret-for-tests"


@pytest.fixture
def fake_site() -> Iterator[FakeSite]:
    """The site on a thread of its own: sokbo runs as another process while the test waits."""
    served = FakeSite()
    with served_in_thread(served.start, served.stop):
        yield served


class Newsroom:
    """A git host (a bare repository), a desk that commits posts to it, and the site's
    checkout sokbo watches."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            "PATH": "/usr/bin:/bin", "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Desk", "GIT_AUTHOR_EMAIL": "desk@news.test",
            "GIT_COMMITTER_NAME": "Desk", "GIT_COMMITTER_EMAIL": "desk@news.test",
        }  # fmt: skip
        self.git("init", "-q", "--bare", "-b", "main", "origin.git")
        self.git("clone", "-q", "origin.git", "desk")
        self.commit("2026-01-01-old.md", "---\ntitle: Old news\n---\nOld.\n")
        self.git("clone", "-q", "origin.git", "site")
        self.checkout = root / "site"

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """Run git as the newsroom does."""
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.root, env=self.env, capture_output=True, text=True,
            check=True, timeout=30,
        )  # fmt: skip
        return done.stdout.strip()

    def commit(self, name: str, text: str) -> None:
        """Write a post on the desk, commit it and push it to the git host."""
        desk = self.root / "desk"
        (desk / "_posts").mkdir(exist_ok=True)
        (desk / "_posts" / name).write_text(text)
        self.git("add", "-A", cwd=desk)
        self.git("commit", "-q", "-m", f"Add {name}", cwd=desk)
        self.git("push", "-q", "origin", "HEAD:main", cwd=desk)

    def config(self, served: FakeSite, *, site: str = "", more: str = "") -> None:
        """sokbo.toml beside the checkout: the local site, its live check forced on."""
        lines = [
            "[site]", 'posts_dir = "site/_posts"', f'url = "{served.url}"', "live_check = true",
            'permalink = "/:year/:month/:day/:title/"', site,
            "[bot]", "settle_seconds = 0.1", more,
        ]  # fmt: skip
        (self.root / "sokbo.toml").write_text("\n".join(lines) + "\n")


def fresh_post(slug: str) -> tuple[str, str, str]:
    """A post dated a minute ago: its file name, text and the path of its page."""
    when = datetime.now(UTC) - timedelta(minutes=1)
    name = f"{when:%Y-%m-%d}-{slug}.md"
    text = f"---\ntitle: Fresh {slug}\ndate: {when.isoformat(' ', 'seconds')}\n---\nNews.\n"
    return name, text, f"/{when:%Y/%m/%d}/{slug}/"


def logged_at(line: str) -> datetime:
    """The time a log line was written (its asctime, local, to the millisecond)."""
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def test_a_commit_is_pulled_and_pushed_once_its_page_is_live(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """commit → pull (every second) → waiting for the page → deploy → printed, in that order,
    with the times in the log; `sokbo status` shows the post waiting meanwhile."""
    newsroom = Newsroom(tmp_path)
    newsroom.config(fake_site, site="git_pull_seconds = 1")
    service = Console(tmp_path, env={"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"})
    try:
        service.expect_log("live check on")
        service.expect_log(f"It pulls {newsroom.checkout} with git every 1 s.")
        name, text, page = fresh_post("budget")
        newsroom.commit(name, text)
        pulled = service.expect_log("git pull:")
        waiting = service.expect_log(f"waiting for the page of {name[:-3]}")
        status = sokbo("status", cwd=tmp_path).stdout
        assert f"{name[:-3]}  waiting for its page, 0 min" in status
        assert "Fresh budget" not in "\n".join(service.seen["out"])
        deployed_at = datetime.now()
        fake_site.deploy(page)
        service.expect("Fresh budget")
        pushing = service.expect_log(f"pushing {name[:-3]}: its page answers")
        assert logged_at(pulled) <= logged_at(waiting) <= logged_at(pushing)
        assert logged_at(pushing) >= deployed_at - timedelta(milliseconds=5)
        assert logged_at(pushing) - deployed_at < timedelta(seconds=10)  # one probe interval
        assert fake_site.hits(page) >= 2  # missing at first, then live
    finally:
        service.stop()
    assert (newsroom.checkout / "_posts" / name).read_text() == text


def test_a_signed_push_webhook_pulls_at_once_and_a_forged_one_is_refused(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    """No interval: GitHub's push webhook brings the post. A forged signature gets 401."""
    newsroom = Newsroom(tmp_path)
    port = closed_port()
    newsroom.config(fake_site, more=f"[http]\nport = {port}")
    service = Console(
        tmp_path,
        env={"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "SOKBO_WEBHOOK_SECRET": SECRET},
    )
    try:
        service.expect_log(
            ": 1 post (1 published, 0 scheduled, 0 unpublished)"
        )  # one: no "1 posts"
        service.expect_log(f"Webhooks: POST http://127.0.0.1:{port}/webhook/github")
        name, text, page = fresh_post("webhook")
        fake_site.deploy(page)
        newsroom.commit(name, text)
        body = json.dumps({"ref": "refs/heads/main"}).encode()
        assert hook(port, body, "sha256=" + "0" * 64) == 401
        assert not (newsroom.checkout / "_posts" / name).exists()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hook(port, body, signature) == 202
        service.expect("Fresh webhook")
        assert (newsroom.checkout / "_posts" / name).read_text() == text
    finally:
        service.stop()
    log = "\n".join(service.seen["err"])
    assert SECRET not in log


def hook(port: int, body: bytes, signature: str, event: str = "push") -> int:
    """POST a GitHub webhook to sokbo; its HTTP status."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook/github", data=body, method="POST",
        headers={
            "Content-Type": "application/json", "X-GitHub-Event": event,
            "X-GitHub-Delivery": "72d3162e", "X-Hub-Signature-256": signature,
        },
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_pulling_a_folder_that_is_no_checkout_is_a_config_error(tmp_path: Path) -> None:
    """git_pull_seconds on a plain folder: one line saying so, and exit 2."""
    (tmp_path / "posts").mkdir()
    (tmp_path / "sokbo.toml").write_text("[site]\ngit_pull_seconds = 60\n")
    result = sokbo(
        "run",
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"sokbo: bad config: site.git_pull_seconds: {tmp_path / 'posts'} is not in a git "
        "checkout; clone the site's repository there, or leave the key out"
    )
