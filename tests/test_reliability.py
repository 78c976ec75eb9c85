"""The reliability harness, small: under each fault every chat gets each post, and a post is
repeated only where it was in flight at a crash. The long form: `python -m tests.reliability`."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bot.delivery import MAX_IN_FLIGHT
from tests.reliability import (
    Result,
    database_deleted,
    database_deleted_then_stopped,
    disk_full,
    kill_rounds,
    platform_outage,
    reply_storm,
    server_errors,
    storage_locked,
)

CHATS = 30


def assert_reliable(result: Result) -> None:
    """Nothing lost, nothing dead, no repeat beyond the sends in flight at a crash."""
    assert (result.lost, result.dead, result.excess) == (0, 0, 0), result
    assert result.duplicates <= result.allowed, result


def test_sokbo_killed_mid_fan_out_resends_only_what_was_in_flight(tmp_path: Path) -> None:
    """`kill -9` mid fan-out, twice: each chat gets each post; repeats ≤ the sends in flight."""
    result = kill_rounds(tmp_path, rounds=2, chats=CHATS, signum=signal.SIGKILL)
    assert_reliable(result)
    assert result.allowed <= 2 * MAX_IN_FLIGHT


def test_sokbo_stopped_mid_fan_out_repeats_nothing(tmp_path: Path) -> None:
    """SIGTERM mid fan-out, twice: in-flight sends finish, the rest go after the restart, once."""
    result = kill_rounds(tmp_path, rounds=2, chats=CHATS, signum=signal.SIGTERM)
    assert_reliable(result)
    assert result.duplicates == 0


def test_bursts_of_server_errors_are_retried_to_every_chat(tmp_path: Path) -> None:
    """500 and 502 to 30 % of a fan-out's sends: each chat gets the post once, none dead."""
    assert_reliable(server_errors(tmp_path, rounds=1, chats=CHATS))


@pytest.mark.parametrize("outage_s", [60, 600])
async def test_an_outage_of_the_platform_loses_nothing(tmp_path: Path, outage_s: int) -> None:
    """Every call failing for a minute or ten: each chat gets the post once, one attempt each."""
    result = await platform_outage(tmp_path, outage_s=outage_s, chats=40)
    assert_reliable(result)
    assert result.attempts == 40


def test_a_database_locked_past_the_busy_timeout_loses_nothing(tmp_path: Path) -> None:
    """Another process holds the database past the busy timeout mid fan-out: sokbo says so
    once, waits, and each chat gets each post once."""
    result = storage_locked(tmp_path, chats=CHATS)
    assert_reliable(result)
    assert result.told == 1


async def test_a_full_disk_loses_nothing(tmp_path: Path) -> None:
    """The disk full with a push queued mid fan-out, then freed: each chat gets both posts once."""
    result = await disk_full(tmp_path, chats=CHATS)
    assert_reliable(result)
    assert result.told == 1


async def test_a_database_deleted_while_running_is_restored(tmp_path: Path) -> None:
    """The file deleted mid fan-out: the keeper restores it; a restart on it finds everything."""
    result = await database_deleted(tmp_path, chats=CHATS)
    assert_reliable(result)
    assert result.told == 1


def test_a_database_deleted_then_stopped_is_saved_before_closing(tmp_path: Path) -> None:
    """`rm sokbo.db` mid fan-out, then a stop before the next check: sokbo restores the file
    as it stops, so the restart knows every chat and finishes the fan-out."""
    assert_reliable(database_deleted_then_stopped(tmp_path, chats=CHATS))


async def test_replies_amid_a_fan_out_each_arrive_once() -> None:
    """benchmark_telegram's pushes and replies at once: every chat gets its one message."""
    assert_reliable(await reply_storm(pushes=CHATS, replies=20))
