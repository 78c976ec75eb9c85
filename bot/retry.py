"""Pure: a failed send's outcome, attempt number and time → when to try again, or give up."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bot.errors import RateLimited, SendError, TargetMoved, Transient, Unknown

BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=15)


def next_attempt(
    error: SendError, *, attempts: int, max_attempts: int, now: datetime, rng: random.Random
) -> datetime | None:
    """Return when to retry after `error` on attempt `attempts`, or None to give up.

    A rate limit waits as told and is not a failed attempt; a moved target is tried again at
    once. Timeouts and transient errors
    back off exponentially with full jitter, capped, and count toward `max_attempts`.
    Anything else (rejected, target gone) is not retried.
    """
    if isinstance(error, RateLimited):
        return now + error.after
    if isinstance(error, TargetMoved):
        return now
    if not isinstance(error, Transient | Unknown) or attempts >= max_attempts:
        return None
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (1 << min(attempts - 1, 20)))
    return now + ceiling * rng.random()
