"""The judgement of a failed send, as a table: error, attempt, platform hold → what happens."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import (
    MessageGone,
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
from bot.outcome import BACKOFF_CAP, ERROR_CHARS, Outcome, judge

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
RETRY, DEAD, REJECTED = DeliveryStatus.RETRY, DeliveryStatus.DEAD, DeliveryStatus.REJECTED
S = timedelta(seconds=1)


class Top(random.Random):
    """A generator whose every draw is the top of its range: the longest backoff."""

    def random(self) -> float:
        """Just under 1."""
        return 0.999_999


@pytest.mark.parametrize(
    ("error", "attempts", "held", "expected"),
    [
        # A rate limit waits as told and gives its attempt back; a global one holds the platform.
        (RateLimited(30 * S), 1, None, Outcome(RETRY, 0, "rate limited for 30 s (target)", NOW + 30 * S)),
        (RateLimited(30 * S), 5, None, Outcome(RETRY, 4, "rate limited for 30 s (target)", NOW + 30 * S)),
        (RateLimited(9 * S, Scope.PLATFORM), 2, None,
         Outcome(RETRY, 1, "rate limited for 9 s (platform)", NOW + 9 * S, hold_platform_until=NOW + 9 * S)),
        # A moved chat is followed and tried again at once, uncounted.
        (TargetMoved("-100"), 1, None, Outcome(RETRY, 0, "moved to -100", NOW, moved_to="-100")),
        # Timeouts and 5xx back off (2 s, 4 s, … at most), counted, then the delivery is dead.
        (Transient("502"), 1, None, Outcome(RETRY, 1, "502", NOW + 2 * S * 0.999_999)),
        (Unknown("timed out"), 2, None, Outcome(RETRY, 2, "timed out", NOW + 4 * S * 0.999_999)),
        (Transient("502"), 30, None, Outcome(DEAD, 30, "502")),
        (Transient("502"), 5, None, Outcome(DEAD, 5, "502")),
        # No retry is due before the platform's hold ends.
        (Transient("502"), 1, NOW + 60 * S, Outcome(RETRY, 1, "502", NOW + 60 * S)),
        (RateLimited(5 * S), 1, NOW + 60 * S, Outcome(RETRY, 0, "rate limited for 5 s (target)", NOW + 60 * S)),
        # Refused messages and gone chats are never retried.
        (Rejected("400: can't parse"), 1, None, Outcome(REJECTED, 1, "400: can't parse")),
        (MessageGone("not found"), 1, None, Outcome(REJECTED, 1, "not found")),
        (TargetGone("403: blocked"), 1, None, Outcome(REJECTED, 1, "403: blocked", is_gone=True)),
    ],
)  # fmt: skip
def test_judge(error: SendError, attempts: int, held: datetime | None, expected: Outcome) -> None:
    """Each kind of failure, at each point of its life, gets exactly one outcome."""
    outcome = judge(error, attempts=attempts, max_attempts=5, now=NOW, held_until=held, rng=Top())
    assert outcome == expected


def test_backoff_is_capped_and_jittered() -> None:
    """Late retries wait at most the cap; the jitter spreads them over the whole range."""
    waits = [
        judge(Transient("503"), attempts=40, max_attempts=50, now=NOW, rng=random.Random(seed))
        for seed in range(200)
    ]
    delays = [outcome.retry_at - NOW for outcome in waits if outcome.retry_at is not None]
    assert len(delays) == 200
    assert max(delays) <= BACKOFF_CAP
    assert min(delays) < BACKOFF_CAP / 10 < BACKOFF_CAP / 2 < max(delays)


def test_a_long_error_is_cut_to_what_is_kept() -> None:
    """A platform's error text is kept, up to its limit."""
    outcome = judge(Rejected("x" * 5000), attempts=1, max_attempts=5, now=NOW, rng=Top())
    assert outcome.error == "x" * ERROR_CHARS


@pytest.mark.parametrize("error", [Transient("502"), Unknown("timed out")])
def test_an_outage_of_the_platform_spends_no_attempt(error: SendError) -> None:
    """The platform itself down (its probe failed too): retried when it is back, uncounted,
    however many attempts the delivery had."""
    held = NOW + 60 * S
    down = judge(error, attempts=5, max_attempts=5, now=NOW, held_until=held,
                 is_platform_down=True, rng=Top())  # fmt: skip
    assert down == Outcome(RETRY, 4, str(error), held)


def test_a_platform_outage_does_not_excuse_a_refusal() -> None:
    """A message the platform refuses is rejected even while the platform is down."""
    refused = judge(Rejected("400"), attempts=1, max_attempts=5, now=NOW, is_platform_down=True,
                    rng=Top())  # fmt: skip
    assert refused.status is REJECTED
