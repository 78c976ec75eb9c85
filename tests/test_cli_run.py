"""`sokbo run` and `sokbo status` as processes: the service, its lock, its clean stop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli_check import sokbo
from tests.test_cli_console import Console

DEADLINE_S = 20.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Console]:
    """`sokbo run` on a folder with two existing posts and a config."""
    (tmp_path / "sokbo.toml").write_text(
        '[site]\nposts_dir = "posts"\nurl = "https://news.example.com"\n[bot]\nsettle_seconds = 0.1\n'
    )
    posts = tmp_path / "posts"
    posts.mkdir()
    for name in ("2026-01-01-a.md", "2026-01-02-b.md"):
        (posts / name).write_text(f"---\ntitle: {name}\n---\nBody.\n")
    running = Console(tmp_path)
    yield running
    if running.process.poll() is None:
        running.stop()


def status(folder: Path) -> dict[str, Any]:
    """`sokbo status --json`, parsed."""
    result = sokbo("status", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_run_watches_records_and_stops_cleanly(service: Console, tmp_path: Path) -> None:
    """The service baselines, records a new post's push, answers status, and stops on SIGTERM."""
    service.expect_log("archived post=2026-01-02-b")
    service.expect_log("watching")
    date = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(" ", "seconds")
    (tmp_path / "posts" / "fresh.md").write_text(f"---\ntitle: Fresh\ndate: {date}\n---\nNews.\n")
    (tmp_path / "posts" / "later.md").write_text(
        "---\ntitle: Later\ndate: 2099-01-01 09:00:00 +0900\n---\n"
    )
    (tmp_path / "posts" / "broken.md").write_bytes("---\ntitle: café\n---\n".encode("latin-1"))
    service.expect_log("new post=fresh")
    service.expect_log("alert post=fresh reaches 1 of 1 chats")
    service.expect_log("delivered alert post=fresh to=console:stdout")
    service.expect_log("refused broken.md:2: not UTF-8 text (byte 0xE9 cannot be decoded)")
    current = status(tmp_path)  # read while the service runs
    assert current["posts"] == {
        "known": 4,
        "published": 3,
        "scheduled": 1,
        "unpublished": 0,
        "gone": 0,
    }
    assert current["scheduled"] == [{"key": "later", "at": "2099-01-01T09:00:00+09:00"}]
    assert current["pushes_pending"] == 0  # fanned out to the console at once, and delivered
    assert current["deliveries"]["sent"] == 1
    assert [r["path"] for r in current["refused"]] == ["broken.md"]
    why = {d["key"]: (d["verdict"], d["reason"], d["alert"]) for d in current["recent"]}
    assert why["fresh"] == ("new", None, "(its alert went to 1 of 1 chats)")
    assert why["later"] == ("scheduled", "at=2099-01-01T09:00:00+09:00", None)
    assert "2026-01-02-b" not in why  # the archive: one log line says it for all
    assert service.stop() == 0
    service.expect_log("sokbo stopped")
    assert not (tmp_path / "sokbo.db-wal").exists()  # the last connection closed and checkpointed


def test_a_second_service_on_the_same_database_refuses_to_start(
    service: Console, tmp_path: Path
) -> None:
    """Two services would push everything twice: the second exits 2 with a clear message."""
    service.expect_log("watching")
    second = sokbo("run", cwd=tmp_path)
    assert second.returncode == 2
    assert "another sokbo is already running on" in second.stderr
    assert f"(pid {service.process.pid})" in second.stderr
    assert "Traceback" not in second.stderr


def test_status_says_why_a_post_was_not_pushed(service: Console, tmp_path: Path) -> None:
    """A post three days old when it appears is recorded, not pushed; the log and `sokbo
    status` say why, with the setting that decided it."""
    service.expect_log("watching")
    date = (datetime.now(UTC) - timedelta(days=3)).isoformat(" ", "seconds")
    (tmp_path / "posts" / "stale.md").write_text(f"---\ntitle: Stale\ndate: {date}\n---\nOld.\n")
    logged = service.expect_log("too-old post=stale")
    assert "older than bot.max_age_hours = 24 h when first seen; recorded, not pushed" in logged
    text = sokbo("status", cwd=tmp_path).stdout
    assert "Recent decisions (why each post was or was not pushed):" in text
    [line] = [line for line in text.splitlines() if "  too-old  stale  " in line]
    assert line.endswith(
        "older than bot.max_age_hours = 24 h when first seen; recorded, not pushed (/repost KEY sends it)"
    )


def test_status_reads_as_text(service: Console, tmp_path: Path) -> None:
    """Without --json, status is lines for people."""
    service.expect_log("watching")
    lines = sokbo("status", cwd=tmp_path).stdout.splitlines()
    assert lines[1] == "Posts: 2 known: 2 published, 0 scheduled, 0 unpublished, 0 gone"
    assert lines[2] == "Pushes pending: 0"
    assert "Refused files: 0" in lines


def test_status_without_a_database_says_so(tmp_path: Path) -> None:
    """Before the first run there is nothing to report, and status says why."""
    result = sokbo("status", cwd=tmp_path)
    assert result.returncode == 2
    assert "no database at" in result.stderr
    assert "sokbo run` creates it" in result.stderr
