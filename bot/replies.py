"""Replies to readers: paced ahead of pushes, a 429 waited out, dropped after a minute."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from bot.clock import Clock, sleep_or
from bot.errors import RateLimited, SendError, Transient, Unknown
from bot.ratelimit import Pacer

PATIENCE = timedelta(seconds=60)  # a reply that could not go out within this is dropped
FIRST_RETRY_S = 1.0  # then 2, 4 … for a platform error or a timeout

log = logging.getLogger(__name__)

Sent = TypeVar("Sent")


async def send_reply(
    call: Callable[[], Awaitable[Sent]],
    *,
    pacer: Pacer,
    clock: Clock,
    key: str,
    translate: Callable[[Exception], SendError | None],
    what: str,
    interval: timedelta | None = None,
) -> Sent | None:
    """Make `call` (one API request to chat `key`) in an urgent slot; None if it never went.

    `translate` names a platform error (None: not one, raised as it is). A 429 holds the chat
    and is waited out, uncounted; a 5xx, a network error or a timeout is tried again with
    backoff; any other refusal ends the reply. Each way of giving up is one log line.
    """
    deadline = clock.now() + PATIENCE
    retry_s = FIRST_RETRY_S
    last: SendError | None = None
    while (remaining := (deadline - clock.now()).total_seconds()) > 0:
        slot = asyncio.ensure_future(pacer.wait(key, interval=interval, is_urgent=True))
        await sleep_or(clock, remaining, tasks=[slot])
        if not slot.done():
            slot.cancel()
            break
        try:
            return await call()
        except Exception as error:
            problem = translate(error)
            if problem is None:
                raise
        last = problem
        if isinstance(problem, RateLimited):
            pacer.hold(key, clock.now() + problem.after)
        elif isinstance(problem, Transient | Unknown):
            await clock.sleep(min(retry_s, max(remaining, 0.0)))
            retry_s *= 2
        else:
            log.warning("%s not sent: %s", what, problem)
            return None
    log.warning(
        "%s dropped: not sent within %d s (%s)",
        what, PATIENCE.total_seconds(), last or "no free slot",
    )  # fmt: skip
    return None
