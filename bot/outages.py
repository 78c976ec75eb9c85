"""A platform's outage: known by a probe after a failed send, held, probed until it answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock
from bot.errors import SendError

PROBE_FIRST_S = 2.0  # the first wait before probing a platform that is down again …
PROBE_LONGEST_S = 60.0  # … doubling up to this
RECENTLY_UP = timedelta(seconds=2)  # a probe this fresh answers for other failures meanwhile

log = logging.getLogger(__name__)


class Probed(Protocol):
    """What an outage needs of a platform: a cheap call that fails when the platform is away."""

    name: str

    async def probe(self) -> None:
        """Ask the platform something cheap; raise a SendError when it does not answer."""
        ...


class Outages:
    """Which platforms are down: each one held and probed with backoff until it answers."""

    def __init__(
        self,
        clock: Clock,
        *,
        on_notice: Callable[[str], None] = lambda _text: None,
        on_back: Callable[[], None] = lambda: None,
    ) -> None:
        self.clock = clock
        self.on_notice = on_notice  # tells admins when an outage starts and ends
        self.on_back = on_back  # tells delivery to look at the queue again
        self._probing: dict[str, asyncio.Task[None]] = {}
        self._up_at: dict[str, datetime] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def is_down(self, name: str) -> bool:
        """Whether platform `name` is held for an outage now."""
        return name in self._probing

    async def confirm(self, platform: Probed, error: SendError) -> bool:
        """After `error` from a send: is the platform itself down? One probe tells.

        Down, it is held and probed in the background until it answers. Failures that arrive
        together wait for that one probe instead of probing each.
        """
        async with self._locks.setdefault(platform.name, asyncio.Lock()):
            if self.is_down(platform.name):
                return True
            up_at = self._up_at.get(platform.name)
            if up_at is not None and self.clock.now() - up_at < RECENTLY_UP:
                return False
            if (probe_error := await _probe(platform)) is None:
                self._up_at[platform.name] = self.clock.now()
                return False
            self._hold(platform, error, probe_error)
            return True

    def _hold(self, platform: Probed, error: SendError, probe_error: SendError) -> None:
        log.warning(
            "%s does not answer (%s; probe: %s): its deliveries wait, spending no attempts",
            platform.name, error, probe_error,
        )  # fmt: skip
        self.on_notice(f"{platform.name} does not answer ({error}); deliveries wait for it")
        self._probing[platform.name] = asyncio.create_task(self._until_up(platform))

    async def _until_up(self, platform: Probed) -> None:
        started, wait = self.clock.now(), PROBE_FIRST_S
        while True:
            await self.clock.sleep(wait)
            if await _probe(platform) is None:
                break
            wait = min(wait * 2, PROBE_LONGEST_S)
        self._up_at[platform.name] = self.clock.now()
        del self._probing[platform.name]
        seconds = (self.clock.now() - started).total_seconds()
        log.info("%s answers again after %.0f s: deliveries resume", platform.name, seconds)
        self.on_notice(f"{platform.name} answers again after {seconds:.0f} s; deliveries resume")
        self.on_back()

    async def close(self) -> None:
        """Stop probing (sokbo is stopping)."""
        tasks = list(self._probing.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _probe(platform: Probed) -> SendError | None:
    """The error of one probe, or None when the platform answered."""
    try:
        await platform.probe()
    except SendError as error:
        return error
    except Exception:  # a broken probe must not hold a platform for ever: count it as up
        log.exception("probing %s failed unexpectedly", platform.name)
    return None
