"""Pure: what a failed send means for its delivery: when to retry, or how it ends."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import (
    RateLimited,
    Rejected,
    Scope,
    SendError,
    TargetGone,
    TargetMoved,
    Transient,
    Unknown,
)
from bot.model import DeliveryStatus

BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=15)
ERROR_CHARS = 500  # of a platform's error kept on its delivery


@dataclass(frozen=True, slots=True)
class Outcome:
    """A failed attempt, judged: what storage records and what delivery does next."""

    status: DeliveryStatus  # RETRY, DEAD, REJECTED, or CANCELLED (its post was hidden)
    attempts: int  # the attempts that count (a rate limit or a move gives its attempt back)
    error: str
    retry_at: datetime | None = None  # when a RETRY goes again
    is_gone: bool = False  # the chat is gone: deactivate it, reject what it has waiting
    moved_to: str | None = None  # the chat's new address: follow it
    hold_platform_until: datetime | None = None  # a global rate limit: the platform waits


def judge(
    error: SendError,
    *,
    attempts: int,
    max_attempts: int,
    now: datetime,
    held_until: datetime | None = None,
    is_platform_down: bool = False,
    rng: random.Random,
) -> Outcome:
    """Judge attempt number `attempts` (counted at claim), failed with `error`, at `now`.

    A rate limit waits as told and is not a failed attempt; a global one holds the platform.
    A moved chat is followed and tried again at once, uncounted. Timeouts and transient errors
    back off exponentially with full jitter, capped, and count toward `max_attempts`; then the
    delivery is dead — unless the platform itself is down (its probe failed too): an outage
    spends no attempt, and the delivery waits for the platform to answer again. A refusal is
    rejected, a gone chat deactivated; neither is retried. No retry is due before the
    platform's hold (`held_until`) ends.
    """
    why = str(error)[:ERROR_CHARS]
    if is_platform_down and isinstance(error, Transient | Unknown):
        return Outcome(DeliveryStatus.RETRY, attempts - 1, why, _not_before(now, held_until))
    if isinstance(error, TargetGone):
        return Outcome(DeliveryStatus.REJECTED, attempts, why, is_gone=True)
    if isinstance(error, Rejected):
        return Outcome(DeliveryStatus.REJECTED, attempts, why)
    if isinstance(error, RateLimited | TargetMoved):
        hold = now + error.after if isinstance(error, RateLimited) else None
        retry_at = now if hold is None else hold
        return Outcome(
            DeliveryStatus.RETRY, attempts - 1, why, _not_before(retry_at, held_until),
            moved_to=error.address if isinstance(error, TargetMoved) else None,
            hold_platform_until=hold if _is_global(error) else None,
        )  # fmt: skip
    if isinstance(error, Transient | Unknown) and attempts < max_attempts:
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (1 << min(attempts - 1, 20)))
        retry_at = now + ceiling * rng.random()
        return Outcome(DeliveryStatus.RETRY, attempts, why, _not_before(retry_at, held_until))
    return Outcome(DeliveryStatus.DEAD, attempts, why)


def _is_global(error: SendError) -> bool:
    return isinstance(error, RateLimited) and error.scope is Scope.PLATFORM


def _not_before(moment: datetime, held_until: datetime | None) -> datetime:
    return moment if held_until is None else max(moment, held_until)
