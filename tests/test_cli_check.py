"""`sokbo check` as a user runs it: a real process, its output and its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, post_file, shipped_site

FIELDS = {
    "path",
    "status",
    "key",
    "title",
    "categories",
    "date",
    "image",
    "url",
    "reason",
    "publish_at",
}


def sokbo(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` with `args` in `cwd` and capture what it prints."""
    environment = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    environment["PYTHONPATH"] = str(REPO)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A site folder with a config and posts: ok, refused, unpublished, scheduled, draft."""
    (tmp_path / "sokbo.toml").write_text(
        '[site]\nposts_dir = "_posts"\nurl = "https://news.example.com"\ntimezone = "Asia/Seoul"\n'
    )
    posts = tmp_path / "_posts"
    (posts / "_drafts").mkdir(parents=True)
    files = {
        "2024-07-13-ok.md": post_file(
            "title: 속보 제목\ncategories: [정치]\nimage: https://x.org/a.jpg", "<p>본문</p>"
        ),
        "2024-07-14-broken.md": post_file("categories: [a]\nimage: [x", ""),
        "2024-07-15-hidden.md": post_file("title: Unpublished\npublished: false"),
        "2099-01-01-later.md": post_file("title: Later\ndate: 2099-01-01 09:00:00 +0900"),
        "_drafts/wip.md": post_file("title: Draft"),
        "latin1.md": "---\ntitle: café\n---\n".encode("latin-1"),
    }
    for name, data in files.items():
        (posts / name).write_bytes(data)
    (posts / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return tmp_path


def rows(output: str) -> dict[str, dict[str, Any]]:
    """Parse JSON lines into rows keyed by file name."""
    parsed = [json.loads(line) for line in output.splitlines()]
    return {Path(row["path"]).name: row for row in parsed}


def test_json_gives_one_line_per_file_with_every_field(folder: Path) -> None:
    """--json prints one object per file with the documented fields and statuses; exit 1."""
    result = sokbo("check", "--json", cwd=folder)
    assert result.returncode == 1, result.stderr
    found = rows(result.stdout)
    assert set(found) == {"2024-07-13-ok.md", "2024-07-14-broken.md", "2024-07-15-hidden.md",
                          "2099-01-01-later.md", "wip.md", "latin1.md"}  # fmt: skip
    for row in found.values():
        assert set(row) >= FIELDS
    ok = found["2024-07-13-ok.md"]
    assert ok["status"] == "ok"
    assert ok["path"] == "_posts/2024-07-13-ok.md"
    assert ok["key"] == "2024-07-13-ok"
    assert ok["title"] == "속보 제목"
    assert ok["categories"] == ["정치"]
    assert ok["date"] == "2024-07-13T00:00:00+09:00"
    assert ok["image"] == "https://x.org/a.jpg"
    assert ok["url"] == "https://news.example.com/%EC%A0%95%EC%B9%98/2024/07/13/ok.html"
    assert ok["reason"] is None
    broken = found["2024-07-14-broken.md"]
    assert broken["status"] == "refused"
    assert broken["reason"].startswith("no title can be recovered: invalid YAML")
    assert broken["line"] == 3
    assert found["latin1.md"]["reason"].startswith("not UTF-8 text")
    assert found["2024-07-15-hidden.md"]["status"] == "skipped"
    assert found["2024-07-15-hidden.md"]["reason"] == "unpublished"
    later = found["2099-01-01-later.md"]
    assert (later["status"], later["reason"]) == ("skipped", "scheduled")
    assert later["publish_at"] == "2099-01-01T09:00:00+09:00"
    assert (found["wip.md"]["status"], found["wip.md"]["reason"]) == (
        "skipped",
        "draft (in _drafts)",
    )


def test_the_report_for_people_counts_and_lists_refusals(folder: Path) -> None:
    """Without --json: a summary line and a table of refused files with their reasons."""
    result = sokbo("check", cwd=folder)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "Checked 6 files in _posts: 1 ok, 3 skipped (1 scheduled), 2 refused."
    assert "Refused files:" in lines
    assert any(line.strip().startswith("_posts/2024-07-14-broken.md:3") for line in lines)
    assert any(
        line.strip().startswith("_posts/latin1.md:2") and "not UTF-8" in line for line in lines
    )


def test_given_files_only_are_checked_and_all_ok_exits_zero(folder: Path) -> None:
    """PATH arguments limit the check; a clean result exits 0."""
    result = sokbo("check", "--json", "_posts/2024-07-13-ok.md", "_posts/image.png", cwd=folder)
    assert result.returncode == 0, result.stderr
    found = rows(result.stdout)
    assert found["2024-07-13-ok.md"]["status"] == "ok"
    assert found["image.png"]["status"] == "skipped"
    assert found["image.png"]["reason"].startswith("not a post file (.png")


def test_a_large_folder_shows_progress(tmp_path: Path) -> None:
    """On a folder of hundreds of posts, progress lines go to stderr, the summary to stdout."""
    posts = tmp_path / "posts"
    posts.mkdir()
    for number in range(450):
        (posts / f"2024-07-13-{number}.md").write_bytes(post_file(f"title: Post {number}"))
    result = sokbo("check", cwd=tmp_path)
    assert result.returncode == 0
    assert "checked 200/450 files" in result.stderr
    assert "checked 450/450 files" in result.stderr
    assert result.stdout.startswith("Checked 450 files in posts: 450 ok, 0 skipped")


def test_a_deeply_nested_post_is_refused_with_its_line(tmp_path: Path) -> None:
    """A post whose front matter nests 5,000 brackets is refused at its line, not read leniently."""
    posts = tmp_path / "posts"
    posts.mkdir()
    hostile = post_file("title: 속보\ncategories: " + "[" * 5000, "<p>본문</p>")
    (posts / "2024-07-13-deep.md").write_bytes(hostile)
    result = sokbo("check", "--json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    row = rows(result.stdout)["2024-07-13-deep.md"]
    assert row["status"] == "refused"
    assert row["reason"] == "YAML nested deeper than 50"
    assert row["line"] == 3


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (
            ["check", "--config", "missing.toml"],
            None,
            "sokbo: bad config: missing.toml: no such config file",
        ),
        (
            ["check"],
            "[bot]\nmax_attempts = 'ten'\n",
            "sokbo: bad config: bot.max_attempts: input should be a valid integer, got 'ten'",
        ),
        (
            ["check"],
            "[site]\nposts_dir = 'nowhere'\n",
            "sokbo: bad config: site.posts_dir: no such folder",
        ),
        (["check", "no/such/file.md"], "", "sokbo: no such file or folder: no/such/file.md"),
        (["check", "--jsn"], "", "unrecognized arguments: --jsn"),
        (["frobnicate"], "", "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_config_or_usage_exits_two(
    tmp_path: Path, args: list[str], config: str | None, message: str
) -> None:
    """A bad config or bad arguments print one clear line and exit 2, with no traceback."""
    if config is not None:
        (tmp_path / "sokbo.toml").write_text(config)
    result = sokbo(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_sample_posts_and_example_config_check_clean(tmp_path: Path) -> None:
    """The shipped posts/ and config.example.toml: no refusals, the future one scheduled."""
    site = shipped_site(tmp_path)
    result = sokbo("check", "--json", "--config", "config.example.toml", cwd=site)
    assert result.returncode == 0, result.stdout + result.stderr
    found = list(rows(result.stdout).values())
    assert len(found) >= 10
    skipped = {row["reason"]: row for row in found if row["status"] == "skipped"}
    assert set(skipped) <= {"scheduled", "unpublished"}
    assert "unpublished" in skipped
    if "scheduled" in skipped:  # the new-year post, until its date comes
        assert datetime.fromisoformat(skipped["scheduled"]["publish_at"]) > datetime.now(UTC)
    languages = {"ko" if any("가" <= c <= "힣" for c in row["title"]) else "en" for row in found}
    assert languages == {"ko", "en"}
    assert any(row["image_file"] for row in found)  # a relative image uploaded from disk
    assert any((row["image"] or "").startswith("https://picsum.photos/") for row in found)


def test_a_token_in_the_environment_never_reaches_the_output(folder: Path) -> None:
    """Tokens stay out of everything check prints."""
    token = "123456789:" + "A" * 35
    result = sokbo("check", "--json", cwd=folder, env={"TELEGRAM_BOT_TOKEN": token})
    assert token not in result.stdout + result.stderr
