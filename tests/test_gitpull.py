"""The git puller on real repositories in tmp_path: what reaches the checkout, what admins hear."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from bot.gitpull import (
    CREDENTIALS,
    DIVERGED,
    DUBIOUS,
    HOST_KEY,
    IN_THE_WAY,
    LOCKED,
    OTHER,
    PULL_TIMEOUT_S,
    RECOVERED,
    UNREACHABLE,
    Pulled,
    Puller,
    describe,
    find_checkout,
    git_environment,
    pull,
)
from tests.conftest import NOW
from tests.fakes import FakeClock, settle, until

FIRST = "_posts/2026-11-20-first.md"
HAS_PROC = Path("/proc/self/cwd").exists()


@dataclass
class Repos:
    """A bare remote, sokbo's checkout of it, and a writer's clone that publishes posts."""

    remote: Path
    checkout: Path
    writer: Path
    environ: dict[str, str]

    def git(self, folder: Path, *args: str) -> str:
        """Run git in `folder` the way a person would, and return what it printed."""
        done = subprocess.run(
            ["git", *args], cwd=folder, env=self.environ, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def commit(self, folder: Path, name: str, text: str) -> str:
        """Write `name` in `folder` and commit it; return the new HEAD."""
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
        self.git(folder, "add", name)
        self.git(folder, "commit", "-q", "-m", f"Add {name}")
        return self.git(folder, "rev-parse", "HEAD")

    def publish(self, name: str, text: str = "---\ntitle: News\n---\nBody.\n") -> str:
        """Commit a post in the writer's clone and push it; return the remote's new HEAD."""
        self.git(self.writer, "pull", "-q", "--ff-only")
        head = self.commit(self.writer, name, text)
        self.git(self.writer, "push", "-q", "origin", "main")
        return head

    def head(self) -> str:
        """The checkout's HEAD commit."""
        return self.git(self.checkout, "rev-parse", "HEAD")

    def files(self) -> dict[str, str]:
        """Every file in the checkout's work tree and its text."""
        return {
            str(path.relative_to(self.checkout)): path.read_text(encoding="utf-8")
            for path in sorted(self.checkout.rglob("*"))
            if path.is_file() and ".git" not in path.relative_to(self.checkout).parts
        }


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    """A remote with one post, cloned; git sees none of this machine's configuration."""
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Reporter",
        "GIT_AUTHOR_EMAIL": "reporter@example.com",
        "GIT_COMMITTER_NAME": "Reporter",
        "GIT_COMMITTER_EMAIL": "reporter@example.com",
    }
    made = Repos(tmp_path / "site.git", tmp_path / "checkout", tmp_path / "writer", environ)
    made.git(tmp_path, "init", "-q", "--bare", "-b", "main", str(made.remote))
    made.git(tmp_path, "clone", "-q", str(made.remote), str(made.writer))
    made.commit(made.writer, FIRST, "---\ntitle: First\n---\nFirst post.\n")
    made.git(made.writer, "push", "-q", "origin", "main")
    made.git(tmp_path, "clone", "-q", str(made.remote), str(made.checkout))
    return made


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_pushed_post_arrives_and_a_second_pull_changes_nothing(repos: Repos) -> None:
    """A post pushed to the remote is in the checkout after a pull; pulling again moves nothing."""
    was = repos.head()
    pushed = repos.publish("_posts/2026-11-22-fresh.md", "Fresh news.\n")

    pulled = await pull(repos.checkout, environ=repos.environ)

    assert (pulled.is_ok, pulled.is_changed, pulled.error) == (True, True, None)
    assert (pulled.was, pulled.head) == (was[:7], pushed[:7])
    assert repos.head() == pushed
    assert repos.files()["_posts/2026-11-22-fresh.md"] == "Fresh news.\n"
    again = await pull(repos.checkout, environ=repos.environ)
    assert (again.is_ok, again.is_changed, again.error, again.head) == (
        True,
        False,
        None,
        pushed[:7],
    )


async def test_find_checkout_finds_the_top_from_posts_and_none_elsewhere(
    repos: Repos, tmp_path: Path
) -> None:
    """From `_posts` the checkout's top is found; a plain folder, or no git at all, gives None."""
    plain = tmp_path / "plain"
    plain.mkdir()
    no_git = {**repos.environ, "PATH": str(plain)}

    found = await find_checkout(repos.checkout / "_posts", environ=repos.environ)

    assert found == repos.checkout
    assert await find_checkout(plain, environ=repos.environ) is None
    assert await find_checkout(tmp_path / "missing", environ=repos.environ) is None
    assert await find_checkout(repos.checkout / "_posts", environ=no_git) is None


@pytest.mark.parametrize(
    ("local", "remote"),
    [(FIRST, FIRST), ("_posts/2026-11-21-local.md", "_posts/2026-11-21-remote.md")],
    ids=["same file", "different files"],
)
async def test_a_diverged_checkout_is_left_exactly_as_it_was(
    repos: Repos, local: str, remote: str
) -> None:
    """A checkout with a commit of its own is not reset or merged: the pull fails and says why."""
    mine = repos.commit(repos.checkout, local, "Edited on the server.\n")
    repos.publish(remote, "Edited upstream.\n")
    files = repos.files()

    pulled = await pull(repos.checkout, environ=repos.environ)

    assert (pulled.is_ok, pulled.is_changed) == (False, False)
    assert pulled.error == f"{DIVERGED}: Not possible to fast-forward, aborting."
    assert repos.head() == mine
    assert repos.git(repos.checkout, "status", "--porcelain") == ""
    assert repos.files() == files


async def test_a_held_lock_fails_the_pull_and_changes_nothing(repos: Repos) -> None:
    """While another git holds index.lock the pull fails naming the lock, and leaves it be."""
    was, files = repos.head(), repos.files()
    repos.publish("_posts/2026-11-22-fresh.md")
    lock = repos.checkout / ".git" / "index.lock"
    lock.touch()

    pulled = await pull(repos.checkout, environ=repos.environ)

    assert pulled.error == f"{LOCKED}: Unable to create '{lock}': File exists."
    assert (repos.head(), repos.files()) == (was, files)
    assert lock.exists()


async def test_local_changes_in_the_way_are_kept(repos: Repos) -> None:
    """An edit by hand to a file the pull would change stays; the pull names the file."""
    (repos.checkout / FIRST).write_text("Fixed by hand.\n", encoding="utf-8")
    repos.publish(FIRST, "Fixed upstream.\n")
    was = repos.head()

    pulled = await pull(repos.checkout, environ=repos.environ)

    expected = "Your local changes to the following files would be overwritten by merge: " + FIRST
    assert pulled.error == f"{IN_THE_WAY}: {expected}"
    assert repos.head() == was
    assert (repos.checkout / FIRST).read_text(encoding="utf-8") == "Fixed by hand.\n"


@asynccontextmanager
async def asking_for_credentials() -> AsyncIterator[str]:
    """An HTTP remote on 127.0.0.1 that answers every request 401 Basic; yields its URL."""

    async def refuse(_request: web.Request) -> web.Response:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="x"'})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/site.git"
    finally:
        await runner.cleanup()


async def test_a_remote_asking_for_credentials_fails_at_once(repos: Repos) -> None:
    """A remote that wants a password gets no prompt: the pull fails quickly, saying so."""
    async with asking_for_credentials() as url:
        repos.git(repos.checkout, "remote", "set-url", "origin", url)
        pulled = await pull(repos.checkout, environ=repos.environ)

    host = url.removesuffix("/site.git")
    reason = f"could not read Username for '{host}': terminal prompts disabled"
    assert pulled.error == f"{CREDENTIALS}: {reason}"
    assert pulled.took_s < PULL_TIMEOUT_S / 10


async def test_an_unreachable_remote_is_told_as_such(repos: Repos) -> None:
    """A remote whose port is closed fails as unreachable, in a line that reads the same twice."""
    url = f"http://127.0.0.1:{free_port()}/site.git"
    repos.git(repos.checkout, "remote", "set-url", "origin", url)

    first = await pull(repos.checkout, environ=repos.environ)
    second = await pull(repos.checkout, environ=repos.environ)

    assert first.error is not None
    assert first.error.startswith(f"{UNREACHABLE}: unable to access '{url}/': Failed to connect")
    assert " ms" not in first.error
    assert second.error == first.error


def git_processes_in(folder: Path) -> set[int]:
    """Pids of the live processes working in `folder` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder and is_alive(int(entry.name)):
                    found.add(int(entry.name))
            except OSError:
                continue  # gone meanwhile, or not ours to read
    return found


def is_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextmanager
def silent_remote() -> Iterator[str]:
    """An HTTP remote that takes the connection and never answers; yields its URL.

    The socket listens but never accepts: the kernel completes the handshake, git sends its
    request into the backlog, and no answer ever comes.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/site.git"


@pytest.mark.skipif(not HAS_PROC, reason="finds git's processes through /proc")
async def test_a_silent_remote_is_killed_at_the_timeout(repos: Repos) -> None:
    """A remote that never answers: git and what it started are killed at the timeout."""
    with silent_remote() as url:
        repos.git(repos.checkout, "remote", "set-url", "origin", url)
        pulling = asyncio.create_task(pull(repos.checkout, environ=repos.environ, timeout_s=1.0))
        await until(lambda: len(git_processes_in(repos.checkout)) >= 2)  # git pull, git fetch, …
        started = git_processes_in(repos.checkout)
        pulled = await pulling

    assert pulled.error == "timed out: git pull ran over 1 s and was stopped"
    assert 1.0 <= pulled.took_s < 5.0
    assert not any(is_alive(pid) for pid in started)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
async def test_a_checkout_owned_by_another_user_is_found_and_refused(repos: Repos) -> None:
    """git refuses a checkout of another owner: it is still found, and each pull says why."""
    for path in [repos.checkout, *repos.checkout.rglob("*")]:
        os.lchown(path, 65534, 65534)

    found = await find_checkout(repos.checkout / "_posts", environ=repos.environ)
    pulled = await pull(repos.checkout, environ=repos.environ)

    assert found == repos.checkout
    reason = f"detected dubious ownership in repository at '{repos.checkout}'"
    assert pulled.error == f"{DUBIOUS}: {reason}"


async def test_the_checkouts_ssh_command_is_used_in_batch_mode(
    repos: Repos, tmp_path: Path
) -> None:
    """core.sshCommand (a key chosen for this checkout) is honoured, with BatchMode added."""
    ssh = tmp_path / "bin" / "ssh"
    ssh.parent.mkdir()
    ssh.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "ssh-args"}\nexit 255\n')
    ssh.chmod(0o755)
    repos.git(repos.checkout, "config", "core.sshCommand", f"{ssh} -i /keys/site")
    repos.git(repos.checkout, "remote", "set-url", "origin", "ssh://git@git.example.com/site.git")

    pulled = await pull(repos.checkout, environ=repos.environ)

    said = (tmp_path / "ssh-args").read_text()
    assert said.startswith("-i /keys/site -o BatchMode=yes ")
    assert "git@git.example.com" in said
    assert pulled.error == f"{UNREACHABLE}: Could not read from remote repository."


DUBIOUS_TEXT = """\
fatal: detected dubious ownership in repository at '/srv/site'
To add an exception for this directory, call:

\tgit config --global --add safe.directory /srv/site
"""
DIVERGED_TEXT = """\
From /srv/site.git
   2158884..a74b216  main       -> origin/main
fatal: Not possible to fast-forward, aborting.
"""
SSH_REFUSED_TEXT = """\
ssh: connect to host 127.0.0.1 port 1: Connection refused
fatal: Could not read from remote repository.

Please make sure you have the correct access rights
and the repository exists.
"""
PUBLICKEY_TEXT = """\
git@github.com: Permission denied (publickey).\r
fatal: Could not read from remote repository.

Please make sure you have the correct access rights
and the repository exists.
"""
LOCK_TEXT = """\
error: Unable to create '/srv/site/.git/index.lock': File exists.

Another git process seems to be running in this repository, e.g.
an editor opened by 'git commit'. Please make sure all processes
are terminated then try again. If it still fails, a git process
may have crashed in this repository earlier:
remove the file manually to continue.
"""
UNTRACKED_TEXT = """\
error: The following untracked working tree files would be overwritten by merge:
\t_posts/a.md
\t_posts/b.md
Please move or remove them before you merge.
Aborting
"""


@pytest.mark.parametrize(
    ("stderr", "returncode", "expected"),
    [
        (DUBIOUS_TEXT, 128, f"{DUBIOUS}: detected dubious ownership in repository at '/srv/site'"),
        (DIVERGED_TEXT, 128, f"{DIVERGED}: Not possible to fast-forward, aborting."),
        (
            "fatal: unable to access 'https://git.example.com/site.git/': Could not resolve host: git.example.com\n",
            128,
            f"{UNREACHABLE}: unable to access 'https://git.example.com/site.git/': Could not resolve host: git.example.com",
        ),
        (
            "fatal: unable to access 'http://127.0.0.1:1/site.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server\n",
            128,
            f"{UNREACHABLE}: unable to access 'http://127.0.0.1:1/site.git/': Failed to connect to 127.0.0.1 port 1: Couldn't connect to server",
        ),
        (
            SSH_REFUSED_TEXT,
            128,
            f"{UNREACHABLE}: ssh: connect to host 127.0.0.1 port 1: Connection refused",
        ),
        (
            "fatal: unable to access 'https://git.example.com/site.git/': Operation timed out after 300021 milliseconds with 0 out of 0 bytes received\n",
            128,
            f"{UNREACHABLE}: unable to access 'https://git.example.com/site.git/': Operation timed out",
        ),
        (
            "fatal: could not read Username for 'https://github.com': terminal prompts disabled\n",
            128,
            f"{CREDENTIALS}: could not read Username for 'https://github.com': terminal prompts disabled",
        ),
        (PUBLICKEY_TEXT, 128, f"{CREDENTIALS}: git@github.com: Permission denied (publickey)."),
        (
            "Host key verification failed.\r\nfatal: Could not read from remote repository.\n",
            128,
            f"{HOST_KEY}: Host key verification failed.",
        ),
        (LOCK_TEXT, 128, f"{LOCKED}: Unable to create '/srv/site/.git/index.lock': File exists."),
        (
            UNTRACKED_TEXT,
            1,
            f"{IN_THE_WAY}: The following untracked working tree files would be overwritten by merge: _posts/a.md",
        ),
        (
            "fatal: refusing to merge unrelated histories\n",
            128,
            f"{OTHER}: refusing to merge unrelated histories",
        ),
        ("hint: something\nwarning: odd\n", 1, f"{OTHER}: warning: odd"),
        ("", 1, f"{OTHER}: git exited with 1 and said nothing"),
    ],
    ids=[
        "dubious",
        "diverged",
        "dns",
        "http refused",
        "ssh refused",
        "http timeout",
        "prompt",
        "publickey",
        "host key",
        "lock",
        "untracked",
        "unrelated",
        "no fatal",
        "silent",
    ],
)
def test_describe_names_the_kind_and_gits_telling_line(
    stderr: str, returncode: int, expected: str
) -> None:
    """Git's output becomes one line: what kind of failure, then the line that shows it."""
    assert describe(stderr, returncode) == expected


@pytest.mark.parametrize(
    ("environ", "ssh"),
    [
        ({}, "ssh -o BatchMode=yes"),
        ({"GIT_SSH_COMMAND": "ssh -i /keys/site"}, "ssh -i /keys/site -o BatchMode=yes"),
        ({"GIT_SSH_COMMAND": "ssh -o batchmode=yes -i /k"}, "ssh -o batchmode=yes -i /k"),
        (git_environment({}), "ssh -o BatchMode=yes"),
        ({"GIT_SSH": "/usr/bin/plink"}, None),
        ({"GIT_SSH": "/usr/bin/plink", "GIT_SSH_COMMAND": "ssh"}, "ssh -o BatchMode=yes"),
    ],
    ids=["default", "kept", "already batch", "twice", "GIT_SSH program", "command wins"],
)
def test_git_environment_never_prompts(environ: dict[str, str], ssh: str | None) -> None:
    """Git runs with prompts off, English messages, and ssh in batch mode added once."""
    env = git_environment({"PATH": "/usr/bin", "LC_ALL": "ko_KR.UTF-8", **environ})

    assert env["PATH"] == "/usr/bin"
    assert (env["GIT_TERMINAL_PROMPT"], env["GCM_INTERACTIVE"], env["LC_ALL"]) == (
        "0",
        "never",
        "C",
    )
    assert env.get("GIT_SSH_COMMAND") == ssh


@dataclass
class Gate:
    """A hold() that records what the checkout looked like on entry and exit, and can block."""

    watched: Path
    is_open: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[tuple[bool, bool]] = field(default_factory=list)  # (on entry, on exit) per pull
    entered: int = 0

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait until open, then note whether `watched` exists before and after the pull."""
        self.entered += 1
        await self.is_open.wait()
        before = self.watched.exists()
        try:
            yield
        finally:
            self.seen.append((before, self.watched.exists()))


@dataclass
class Running:
    """A Puller running in a task, and what it reported."""

    puller: Puller
    clock: FakeClock
    notices: list[str]
    pulls: list[Pulled]

    async def nth(self, count: int) -> Pulled:
        """Wait until `count` pulls have ended and return the last of them."""
        await until(lambda: len(self.pulls) >= count)
        return self.pulls[count - 1]


@asynccontextmanager
async def puller(
    repos: Repos, *, every_s: float | None = None, gate: Gate | None = None, **environ: str
) -> AsyncIterator[Running]:
    """Run a Puller on the checkout until the block ends."""
    notices: list[str] = []
    pulls: list[Pulled] = []
    clock = FakeClock(NOW)
    made = Puller(
        repos.checkout, clock, every_s=every_s, environ={**repos.environ, **environ},
        hold=None if gate is None else gate.hold,
        on_notice=notices.append, on_pulled=pulls.append,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(made.run(stop))
    try:
        yield Running(made, clock, notices, pulls)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_a_failure_is_told_once_until_it_is_fixed(
    repos: Repos, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same failure twice is one notice; the fix is one "works again"; a new failure is told."""
    caplog.set_level(logging.DEBUG, logger="bot.gitpull")
    gone = tmp_path / "gone.git"
    failed = f"git pull failed: {UNREACHABLE}: '{gone}' does not appear to be a git repository"
    repos.git(repos.checkout, "remote", "set-url", "origin", str(gone))
    async with puller(repos) as running:
        await running.nth(1)
        running.puller.request()
        await running.nth(2)
        assert running.notices == [failed]

        repos.git(repos.checkout, "remote", "set-url", "origin", str(repos.remote))
        pushed = repos.publish("_posts/2026-11-22-fresh.md")
        running.puller.request()
        await running.nth(3)
        assert running.notices == [failed, RECOVERED]
        assert running.puller.last == running.pulls[2]
        assert repos.head() == pushed

        repos.git(repos.checkout, "remote", "set-url", "origin", str(gone))
        running.puller.request()
        await running.nth(4)
        assert running.notices == [failed, RECOVERED, failed]

    logged = [(record.levelname, record.getMessage()) for record in caplog.records]
    warned = f"git pull failed in {repos.checkout}: {failed.removeprefix('git pull failed: ')}"
    moved = [message for level, message in logged if message.startswith("git pull: ")]
    assert [message for level, message in logged if level == "WARNING"] == [warned, warned]
    assert ("INFO", f"{RECOVERED} in {repos.checkout}") in logged
    assert len(moved) == 1
    assert moved[0].startswith(f"git pull: {running.pulls[2].was} -> {pushed[:7]} in ")


async def test_requests_during_a_pull_make_exactly_one_more_pull(repos: Repos) -> None:
    """Five requests while a pull runs make one more pull; then a request pulls at once, and so
    does the interval."""
    gate = Gate(repos.checkout / "_posts" / "2026-11-22-fresh.md")
    async with puller(repos, every_s=3600.0, gate=gate) as running:
        await until(lambda: gate.entered == 1)
        for _ in range(5):
            running.puller.request()
        gate.is_open.set()
        await running.nth(2)
        await until(lambda: bool(running.clock.wake_times))
        await settle()
        assert (gate.entered, len(running.pulls)) == (2, 2)

        repos.publish("_posts/2026-11-22-fresh.md")
        running.puller.request()
        assert (await running.nth(3)).is_changed

        repos.publish("_posts/2026-11-22-later.md")
        await until(lambda: bool(running.clock.wake_times))
        running.clock.advance(seconds=3600)
        assert (await running.nth(4)).is_changed
        assert (repos.checkout / "_posts" / "2026-11-22-later.md").exists()
        assert gate.seen == [(False, False), (False, False), (False, True), (True, True)]


async def test_the_watcher_is_held_around_every_pull_even_a_failed_one(
    repos: Repos, tmp_path: Path
) -> None:
    """hold() is entered before git writes files and exited after, also when the pull fails."""
    fresh = repos.checkout / "_posts" / "2026-11-22-fresh.md"
    gate = Gate(fresh)
    gate.is_open.set()
    repos.publish("_posts/2026-11-22-fresh.md")
    async with puller(repos, gate=gate) as running:
        assert (await running.nth(1)).is_changed
        repos.git(repos.checkout, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
        running.puller.request()
        assert not (await running.nth(2)).is_ok

    assert gate.seen == [(False, True), (True, True)]


async def test_a_missing_git_is_told_like_any_failure(repos: Repos, tmp_path: Path) -> None:
    """Without git on the PATH the puller keeps running and tells admins once."""
    empty = tmp_path / "empty"
    empty.mkdir()
    gate = Gate(tmp_path / "unused")
    gate.is_open.set()
    async with puller(repos, gate=gate, PATH=str(empty)) as running:
        await running.nth(1)
        running.puller.request()
        await running.nth(2)

    assert running.notices == [
        "git pull failed: cannot run git: [Errno 2] No such file or directory: 'git'"
    ]
    assert len(gate.seen) == 2
