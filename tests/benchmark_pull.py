"""Commit to reader at an archive's size: a git host, sokbo pulling it, the live check, timed.

Run it by hand: `python -m tests.benchmark_pull` (10,000 posts; `--sizes 1000,10000`,
`--commits N`, `--idle` adds a minute of idle CPU with `git_pull_seconds = 10`). A bare
repository on disk plays the git host and a local HTTP server the site; sokbo runs as a
user runs it (`python -m bot run` on the console, with `[http]` and SOKBO_WEBHOOK_SECRET).
Each commit adds one post. Timed, from the webhook sent to the post printed:

- push webhook, page already live: git pull + the folder read again + one probe + the print;
- page_build webhook, the post waiting for its page: the probe at once + the print.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.benchmark import Service, link_tree, percentile
from tests.fake_site import FakeSite, closed_port
from tests.fakes import served_in_thread
from tests.sitegen import cached_site

SECRET = "bench-secret"
GIT = {
    "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Desk", "GIT_AUTHOR_EMAIL": "desk@news.test",
    "GIT_COMMITTER_NAME": "Desk", "GIT_COMMITTER_EMAIL": "desk@news.test",
}  # fmt: skip
WITHIN_S = 120.0  # a step not done by then fails the run


def git(*args: str, cwd: Path) -> None:
    """Run git as the newsroom does."""
    subprocess.run(["git", *args], cwd=cwd, env={**GIT, "HOME": str(cwd)}, check=True,
                   capture_output=True, timeout=600)  # fmt: skip


def hook(port: int, event: str, payload: object) -> int:
    """POST a signed GitHub webhook to sokbo; its HTTP status."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook/github", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-GitHub-Event": event,
                 "X-Hub-Signature-256": signature},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


class Newsroom:
    """The git host, the desk that commits, and the site's checkout, at `size` posts."""

    def __init__(self, root: Path, size: int, cache: Path) -> None:
        self.root = root
        desk = root / "desk"
        link_tree(cached_site(cache, size), desk / "_posts")
        git("init", "-q", "-b", "main", cwd=desk)
        git("add", "-A", cwd=desk)
        git("commit", "-q", "-m", "The archive", cwd=desk)
        git("init", "-q", "--bare", "-b", "main", str(root / "origin.git"), cwd=root)
        git("push", "-q", str(root / "origin.git"), "HEAD:main", cwd=desk)
        git("remote", "add", "origin", str(root / "origin.git"), cwd=desk)
        git("clone", "-q", "origin.git", "site", cwd=root)
        self.desk = desk

    def commit(self, number: int) -> tuple[str, str]:
        """Commit and push a post dated a minute ago; its title and its page's path."""
        when = datetime.now(UTC) - timedelta(minutes=1)
        slug = f"commit-{number}"
        text = f"---\ntitle: Commit {number} breaking\ndate: {when.isoformat(' ', 'seconds')}\n"
        text += "categories: [News]\n---\n<p>News.</p>\n"
        (self.desk / "_posts" / f"{when:%Y-%m-%d}-{slug}.md").write_text(text)
        git("add", "-A", cwd=self.desk)
        git("commit", "-q", "-m", f"Post {number}", cwd=self.desk)
        git("push", "-q", "origin", "HEAD:main", cwd=self.desk)
        return f"Commit {number} breaking", f"/{when:%Y/%m/%d}/{slug}/"


def run(size: int, commits: int, cache: Path, *, idle: bool) -> dict[str, object]:
    """One archive size: the service started, `commits` posts each way, figures back (no
    burst limit: the commits come faster than `bot.max_burst` a minute)."""
    site = FakeSite()
    with (
        tempfile.TemporaryDirectory(prefix="sokbo-pull-") as temp,
        served_in_thread(site.start, site.stop),
    ):
        root = Path(temp)
        started = time.monotonic()
        newsroom = Newsroom(root, size, cache)
        made_s = time.monotonic() - started
        port = closed_port()
        every = "git_pull_seconds = 10\n" if idle else ""
        (root / "sokbo.toml").write_text(
            f'[site]\nposts_dir = "site/_posts"\nurl = "{site.url}"\nlive_check = true\n'
            f'permalink = "/:year/:month/:day/:title/"\n{every}'
            f'[bot]\nlanguage = "en"\nmax_burst = 1000000\n[http]\nport = {port}\n'
        )
        env = {"SOKBO_WEBHOOK_SECRET": SECRET, "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
        with Service(root, env=env) as service:
            service.wait_for("watching", stream="err", within_s=WITHIN_S)
            service.wait_for("read the bodies", stream="err", within_s=WITHIN_S)
            pushed, deployed = [], []
            for number in range(commits):
                title, page = newsroom.commit(number)
                site.deploy(page)
                sent = time.monotonic()
                assert hook(port, "push", {"ref": "refs/heads/main"}) == 202
                pushed.append(service.wait_for(title, stream="out", within_s=WITHIN_S) - sent)
            for number in range(commits, 2 * commits):
                title, page = newsroom.commit(number)
                assert hook(port, "push", {"ref": "refs/heads/main"}) == 202
                try:
                    service.wait_for("waiting for the page of", stream="err", within_s=WITHIN_S)
                except TimeoutError:
                    raise TimeoutError(_tail(service)) from None
                site.deploy(page)
                sent = time.monotonic()
                assert hook(port, "page_build", {"build": {"status": "built"}}) == 202
                deployed.append(service.wait_for(title, stream="out", within_s=WITHIN_S) - sent)
            idle_cpu = None
            if idle:
                before = service.cpu_s(), children_cpu_s(service)
                time.sleep(60)
                idle_cpu = {
                    "sokbo": round(service.cpu_s() - before[0], 2),
                    "git": round(children_cpu_s(service) - before[1], 2),
                }
            memory = service.peak_memory_mb()
        return {
            "size": size,
            "repository_made_s": round(made_s, 1),
            "push_to_print_ms": _spread(pushed),
            "deploy_to_print_ms": _spread(deployed),
            "idle_cpu_s_per_min_pulling_every_10s": idle_cpu,
            "peak_memory_mb": round(memory),
        }


def _spread(seconds: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(seconds, 50) * 1000),
        "max": round(max(seconds) * 1000),
        "n": len(seconds),
    }


def children_cpu_s(service: Service) -> float:
    """User plus system CPU time of the children sokbo has waited for (its git pulls)."""
    fields = Path(f"/proc/{service.process.pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _tail(service: Service) -> str:
    return " | ".join(service.tail)


def main() -> None:
    """Parse the options, run each size, print one JSON line per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sokbo-sites")
    args = parser.parse_args()
    if shutil.which("git") is None:
        raise SystemExit("git is needed")
    for size in (int(text) for text in args.sizes.split(",")):
        print(json.dumps(run(size, args.commits, args.cache, idle=args.idle)), flush=True)


if __name__ == "__main__":
    main()
