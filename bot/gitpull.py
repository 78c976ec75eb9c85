"""Keeps the site's git checkout current: `git pull --ff-only` that never prompts, never
overlaps, and reports each distinct failure once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from bot.clock import Clock, sleep_or

# A pull that takes longer is killed: a hung network, or a prompt we could not prevent.
PULL_TIMEOUT_S = 120.0
LOOKUP_TIMEOUT_S = 30.0  # rev-parse and config read local files; this only guards a stuck disk
SHORT = 7  # characters of a commit shown in logs, as git abbreviates a small repository's
LONGEST_LINE = 300  # characters of git's own line kept in an error (a notice is one line)
RECOVERED = "git pull works again"

# `pull` never resets, stashes or rebases, whatever the checkout's config says
# (pull.rebase, merge.autoStash): these flags win over config.
PULL = ("pull", "--ff-only", "--no-rebase", "--no-autostash")

# Kinds of failure, each with what an admin can do about it; the first whose pattern is found
# in git's output names the failure, and the line it was found on is git's most telling line.
DUBIOUS = (
    "git refuses the folder (safe.directory: dubious ownership;"
    " run sokbo as the checkout's owner or add the folder to safe.directory)"
)
LOCKED = "another git holds the lock (index.lock; if no git is running, remove the lock file)"
DIVERGED = (
    "diverged: the checkout has commits the remote does not"
    " (sokbo never resets it; merge or reset it by hand)"
)
IN_THE_WAY = (
    "local changes in the way: the pull would overwrite files changed in the checkout"
    " (sokbo never stashes them; commit or remove them by hand)"
)
CREDENTIALS = (
    "credentials needed: git would have to ask for them"
    " (give the user sokbo runs as a credential helper or an SSH key)"
)
HOST_KEY = "ssh does not know the remote's host key (connect once by hand to add it to known_hosts)"
UNREACHABLE = "cannot reach the remote"
OTHER = "git pull failed"
KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        (DUBIOUS, r"dubious ownership|safe\.directory"),
        (LOCKED, r"\.lock'?: File exists|index\.lock|cannot lock ref"),
        (DIVERGED, r"Not possible to fast-forward|Diverging branches|have diverged"),
        (IN_THE_WAY, r"would be overwritten by merge"),
        (
            CREDENTIALS,
            r"could not read (Username|Password)|terminal prompts disabled|Authentication failed"
            r"|Permission denied \(|returned error: 40[13]|Invalid username or password",
        ),
        (HOST_KEY, r"Host key verification failed"),
        (
            UNREACHABLE,
            r"Could not resolve|Connection refused|Couldn't connect|Failed to connect|timed out"
            r"|Network is unreachable|No route to host|unable to access|Connection reset"
            r"|does not appear to be a git|Could not read from remote|repository '.*' not found"
            r"|closed by remote",
        ),
    )
)
# curl puts how long it waited into its errors; dropped so that one failure reads the same twice.
TIMING = re.compile(r" after \d+ (ms|milliseconds)( with \d+ (out of -?\d+ )?bytes received)?")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pulled:
    """What one pull did."""

    is_ok: bool
    is_changed: bool  # HEAD moved
    error: str | None  # one line an admin can act on
    took_s: float
    head: str | None = None  # the short commit after the pull
    was: str | None = None  # the short commit before it


def git_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment git runs in: `environ`, with every way of prompting turned off."""
    env = {
        **environ,
        "GIT_TERMINAL_PROMPT": "0",  # no username/password prompt on the terminal
        "GCM_INTERACTIVE": "never",  # Git Credential Manager: no dialog either
        "LC_ALL": "C",  # git's messages in English, so `describe` can read them
    }
    if "GIT_SSH_COMMAND" in environ or "GIT_SSH" not in environ:
        # GIT_SSH names a program of the user's (plink takes no -o), so it is left alone.
        ssh = environ.get("GIT_SSH_COMMAND", "ssh")
        env["GIT_SSH_COMMAND"] = ssh if "batchmode" in ssh.lower() else f"{ssh} -o BatchMode=yes"
    return env


def describe(stderr: str, returncode: int) -> str:
    """Git's error output as one line: the kind of failure, then git's most telling line."""
    lines = [line.rstrip() for line in stderr.splitlines()]
    for kind, pattern in KINDS:
        for number, line in enumerate(lines):
            if pattern.search(line):
                return f"{kind}: {_telling(lines, number)}"
    said = [n for n, line in enumerate(lines) if line.startswith(("fatal:", "error:"))]
    said = said or [n for n, line in enumerate(lines) if line.strip()]
    if not said:
        return f"{OTHER}: git exited with {returncode} and said nothing"
    return f"{OTHER}: {_telling(lines, said[-1])}"


def _telling(lines: list[str], number: int) -> str:
    """Line `number` without git's prefix, with the first item of a list it introduces."""
    line = lines[number].strip()
    for prefix in ("fatal: ", "error: ", "remote: "):
        line = line.removeprefix(prefix)
    following = lines[number + 1] if number + 1 < len(lines) else ""
    if line.endswith(":") and following[:1].isspace() and following.strip():
        line = f"{line} {following.strip()}"  # "… overwritten by merge: _posts/a.md"
    line = TIMING.sub("", line)
    return line if len(line) <= LONGEST_LINE else line[: LONGEST_LINE - 1] + "…"


def _timed_out(timeout_s: float) -> str:
    return f"timed out: git pull ran over {timeout_s:g} s and was stopped"


async def _git(
    folder: Path, *args: str, env: Mapping[str, str], timeout_s: float
) -> tuple[int, str, str] | None:
    """Run git in `folder` without a terminal: (returncode, stdout, stderr), None on timeout.

    git runs in a session of its own, so that a timeout ends what it started too (`git pull`
    runs `git fetch`, which runs a remote helper or ssh): all of them by git's pid.
    """
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=folder, env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        return None
    finally:
        if process.returncode is None:  # timed out, or the caller was cancelled
            _kill(process)
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill git and everything it started, by its pid (its session's process group id)."""
    if sys.platform == "win32":
        process.kill()
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def find_checkout(folder: Path, *, environ: Mapping[str, str]) -> Path | None:
    """The top of the git work tree holding `folder`; None when in none (or git is missing)."""
    try:
        ran = await _git(
            folder, "rev-parse", "--show-toplevel",
            env=git_environment(environ), timeout_s=LOOKUP_TIMEOUT_S,
        )  # fmt: skip
    except OSError:
        return None
    if ran is None:
        return None
    returncode, stdout, stderr = ran
    if returncode == 0:
        return Path(stdout.strip())
    if "dubious ownership" in stderr:
        # It is a checkout; git refuses it. Found anyway, so that each pull says why it fails.
        return next((top for top in (folder, *folder.parents) if (top / ".git").exists()), None)
    return None


async def _head(checkout: Path, env: Mapping[str, str]) -> str | None:
    ran = await _git(
        checkout, "rev-parse", "--verify", "-q", "HEAD", env=env, timeout_s=LOOKUP_TIMEOUT_S
    )
    return ran[1].strip() if ran is not None and ran[0] == 0 else None


async def _ssh_command(checkout: Path, environ: Mapping[str, str]) -> Mapping[str, str]:
    """`environ`, with the checkout's core.sshCommand as GIT_SSH_COMMAND when it has one.

    git_environment sets GIT_SSH_COMMAND to add BatchMode, and that variable would override
    core.sshCommand (an SSH key chosen for this checkout); so the config is read here, on each
    pull (a few milliseconds, and it follows a change), and put in the variable it would lose to.
    """
    if "GIT_SSH_COMMAND" in environ:
        return environ  # it wins over core.sshCommand for git too
    ran = await _git(
        checkout, "config", "--get", "core.sshCommand",
        env=git_environment(environ), timeout_s=LOOKUP_TIMEOUT_S,
    )  # fmt: skip
    if ran is None or ran[0] != 0 or not ran[1].strip():
        return environ
    return {**environ, "GIT_SSH_COMMAND": ran[1].strip()}


async def pull(
    checkout: Path, *, environ: Mapping[str, str], timeout_s: float = PULL_TIMEOUT_S
) -> Pulled:
    """Run `git pull --ff-only` in `checkout` once, killed past `timeout_s`; rewrite nothing."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        env = git_environment(await _ssh_command(checkout, environ))
        was = await _head(checkout, env)
        ran = await _git(checkout, *PULL, env=env, timeout_s=timeout_s)
        head = await _head(checkout, env)
    except OSError as missing:  # git is not installed, or the checkout is gone
        return Pulled(False, False, f"cannot run git: {missing}", loop.time() - started)
    took_s = loop.time() - started
    short, short_was = _short(head), _short(was)
    if ran is None:
        return Pulled(False, head != was, _timed_out(timeout_s), took_s, short, short_was)
    returncode, _stdout, stderr = ran
    error = None if returncode == 0 else describe(stderr, returncode)
    return Pulled(returncode == 0, head != was, error, took_s, short, short_was)


def _short(commit: str | None) -> str | None:
    return None if commit is None else commit[:SHORT]


class Puller:
    """Pulls on an interval and on request, one at a time, holding the folder's watcher."""

    def __init__(
        self,
        checkout: Path,
        clock: Clock,
        *,
        every_s: float | None,
        environ: Mapping[str, str],
        hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
        on_notice: Callable[[str], None] = lambda _t: None,
        on_pulled: Callable[[Pulled], None] = lambda _p: None,
        timeout_s: float = PULL_TIMEOUT_S,
    ) -> None:
        self.checkout = checkout
        self.clock = clock
        self.every_s = every_s
        self.environ = environ
        self.hold = hold if hold is not None else contextlib.nullcontext
        self.on_notice = on_notice  # tells admins of a failure, once, and of the recovery
        self.on_pulled = on_pulled
        self.timeout_s = timeout_s
        self._requested = asyncio.Event()  # set by a request; cleared as a pull starts
        self._told: str | None = None  # the failure admins were told of, until a success
        self._last: Pulled | None = None

    @property
    def last(self) -> Pulled | None:
        """The latest pull's outcome, None before the first ends."""
        return self._last

    def request(self) -> None:
        """Pull as soon as possible: at once when idle, else once more after the pull under way."""
        self._requested.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Pull at start, on request, and every `every_s` (None: only on request) until `stop`."""
        while not stop.is_set():
            self._requested.clear()  # requests from now on want a pull after this one
            await self._pull_once()
            await sleep_or(self.clock, self.every_s, stop, self._requested)

    async def _pull_once(self) -> None:
        async with self.hold():
            pulled = await pull(self.checkout, environ=self.environ, timeout_s=self.timeout_s)
        self._last = pulled
        self._report(pulled)
        self.on_pulled(pulled)

    def _report(self, pulled: Pulled) -> None:
        if pulled.error is not None:
            if pulled.error != self._told:
                log.warning("git pull failed in %s: %s", self.checkout, pulled.error)
                self.on_notice(f"git pull failed: {pulled.error}")
                self._told = pulled.error
            else:
                log.debug("git pull failed again in %s: %s", self.checkout, pulled.error)
            return
        if self._told is not None:
            log.info("%s in %s", RECOVERED, self.checkout)
            self.on_notice(RECOVERED)
            self._told = None
        if pulled.is_changed:
            log.info("git pull: %s -> %s in %.1f s", pulled.was, pulled.head, pulled.took_s)
        else:
            log.debug("git pull: %s is current (%.1f s)", pulled.head, pulled.took_s)
