"""The watcher on real files in a temp folder: what reaches the store is exactly what should."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.config import BotSettings, SiteConfig
from bot.source import read_outcome
from bot.sqlite import open_sqlite
from bot.tracker import Tracker
from bot.watch import READ_APART_FROM, FolderView, Hold, read_all, watch_folder
from tests.fakes import until
from tests.sitegen import write_site
from tests.test_store import rows

SETTLE_S = 0.1


def text(title: str, *, minutes_ago: int = 1, extra: str = "", body: str = "<p>Body.</p>") -> str:
    """A post dated a few minutes ago, so it is news."""
    date = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(" ", "seconds")
    return f"---\ntitle: {title}\ndate: {date}\ncategories: [News]\n{extra}---\n{body}\n"


@dataclass
class Newsroom:
    """A running watcher + tracker on a temp posts folder, and ways to read its database."""

    posts: Path
    database: Path

    def pushes(self) -> list[tuple[str, str]]:
        """(key, kind) of every push, in order."""
        query = "SELECT p.key, pushes.kind FROM pushes JOIN posts p ON p.id = post_id ORDER BY pushes.id"
        return [(str(key), str(kind)) for key, kind in rows(self.database, query)]

    def states(self) -> dict[str, str]:
        """Each known post's state."""
        return {
            str(key): str(state)
            for key, state in rows(self.database, "SELECT key, state FROM posts")
        }

    def write(self, name: str, content: str) -> Path:
        """Write a post file at once."""
        path = self.posts / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return path

    async def sentinel(self, name: str) -> None:
        """Add a post and wait for its alert: everything written before it has been handled."""
        self.write(name, text(f"Sentinel {name}"))
        key = name.rsplit(".", 1)[0]
        await until(lambda: (key, "alert") in self.pushes())


@asynccontextmanager
async def newsroom(
    tmp_path: Path,
    *,
    existing: dict[str, str] | None = None,
    light: bool = False,
    hold: Hold | None = None,
    **rules: object,
) -> AsyncIterator[Newsroom]:
    """Start sokbo's watcher and tracker on tmp_path/posts; the first scan is the baseline."""
    posts = tmp_path / "posts"
    posts.mkdir()
    for name, content in (existing or {}).items():
        (posts / name).write_text(content, encoding="utf-8")
    site = SiteConfig(posts_dir=posts, url="https://news.example.com", timezone="Asia/Seoul")
    settings = BotSettings.model_validate(
        {"settle_seconds": SETTLE_S, "rescan_seconds": 3600.0, **rules}
    )
    settle_s = settings.settle_seconds
    clock = SystemClock()
    room = Newsroom(posts, tmp_path / "sokbo.db")
    async with open_sqlite(room.database) as storage:
        store = storage.archive
        tracker = Tracker(store, settings, clock)
        view = FolderView(site, clock=clock, settle_s=settle_s, light=light)
        stop = asyncio.Event()
        snapshots = watch_folder(
            view, clock=clock, rescan_s=settings.rescan_seconds, stop=stop, hold=hold
        )
        task = asyncio.create_task(tracker.follow(snapshots))
        await until(
            lambda: (
                room.database.exists()
                and rows(room.database, "SELECT COUNT(*) FROM meta WHERE name = 'baseline_at'")
                == [(1,)]
            )
        )
        try:
            yield room
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)


async def test_the_archive_is_not_pushed_and_a_new_post_is(tmp_path: Path) -> None:
    """Existing posts are the baseline; a post written afterwards gets exactly one alert."""
    existing = {f"2026-11-2{n}-old.md": text(f"Old {n}") for n in range(3)}
    async with newsroom(tmp_path, existing=existing) as room:
        assert room.pushes() == []
        room.write("2026-11-22-fresh.md", text("Fresh"))
        await until(lambda: room.pushes() == [("2026-11-22-fresh", "alert")])
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [("2026-11-22-fresh", "alert"), ("z-sentinel", "alert")]


async def test_files_git_writes_during_a_pull_are_read_once_it_ends(tmp_path: Path) -> None:
    """While a pull holds the folder, nothing git writes is read (not even a file half
    written); when the pull ends the folder is read once and each new post gets its alert."""
    hold = Hold()
    async with newsroom(tmp_path, hold=hold) as room:
        async with hold.held():
            room.write("2026-11-22-pulled-a.md", text("Pulled A"))
            (room.posts / "2026-11-22-pulled-b.md").write_text(text("Pulled B")[:20])
            await asyncio.sleep(10 * SETTLE_S)  # what a write outside a pull waits, ten times
            assert room.pushes() == []
            assert room.states() == {}
            room.write("2026-11-22-pulled-b.md", text("Pulled B"))
        await until(lambda: len(room.pushes()) == 2)
        assert sorted(room.pushes()) == [
            ("2026-11-22-pulled-a", "alert"),
            ("2026-11-22-pulled-b", "alert"),
        ]
        await room.sentinel("z-sentinel.md")  # events flow again after the pull
        assert len(room.pushes()) == 3


async def test_a_post_written_in_chunks_is_read_once_complete(tmp_path: Path) -> None:
    """A file written in several steps is acted on when stable: one alert, the final text."""
    async with newsroom(tmp_path) as room:
        content = text("Chunked", body="<p>First paragraph, written last.</p>")
        with (room.posts / "chunked.md").open("w", encoding="utf-8") as handle:
            for start in range(0, len(content), 20):
                handle.write(content[start : start + 20])
                handle.flush()
                await asyncio.sleep(0.01)  # the writer's pace, not a wait for sokbo
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [("chunked", "alert"), ("z-sentinel", "alert")]
        excerpt = rows(room.database, "SELECT excerpt FROM posts WHERE key = 'chunked'")
        assert excerpt == [("First paragraph, written last.",)]


async def test_an_atomic_rename_is_one_new_post(tmp_path: Path) -> None:
    """Written to a hidden temp file and renamed into place, as editors and git do: one alert."""
    async with newsroom(tmp_path) as room:
        temp = room.write(".2026-11-22-atomic.md.tmp", text("Atomic"))
        os.replace(temp, room.posts / "2026-11-22-atomic.md")
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [("2026-11-22-atomic", "alert"), ("z-sentinel", "alert")]


async def test_a_burst_of_500_files_pushes_max_burst_and_records_the_rest(tmp_path: Path) -> None:
    """A pull of 500 new posts: max_burst alerts within the minute, the other 490 recorded."""
    async with newsroom(tmp_path, max_burst=10) as room:
        for number in range(500):
            room.write(
                f"2026-11-22-bulk-{number:03}.md", text(f"Bulk {number}", minutes_ago=600 - number)
            )
        await until(lambda: len(room.states()) == 500, timeout_s=60)
        await until(
            lambda: (
                rows(room.database, "SELECT COUNT(*) FROM posts WHERE is_alerted = 1") == [(500,)]
            )
        )
        alerts = [key for key, kind in room.pushes() if kind == "alert"]
        assert len(alerts) == 10
        assert len(set(alerts)) == 10
        assert all(key.startswith("2026-11-22-bulk-") for key in alerts)


async def test_a_deleted_and_recreated_folder_pushes_only_what_is_new(tmp_path: Path) -> None:
    """The folder vanishes and comes back (a checkout): old posts return silently, a new one alerts."""
    existing = {f"2026-11-2{n}-old.md": text(f"Old {n}") for n in range(3)}
    async with newsroom(tmp_path, existing=existing) as room:
        shutil.rmtree(room.posts)
        await asyncio.sleep(SETTLE_S)  # let the watcher see it gone (either outcome is fine)
        room.posts.mkdir()
        for name, content in existing.items():
            room.write(name, content)
        room.write("2026-11-22-new.md", text("New after the checkout"))
        await until(lambda: ("2026-11-22-new", "alert") in room.pushes())
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [("2026-11-22-new", "alert"), ("z-sentinel", "alert")]
        assert set(room.states().values()) == {"published"}


async def test_a_renamed_file_is_the_same_post_and_an_edit_is_a_correction(tmp_path: Path) -> None:
    """Moving a pushed post keeps it (no alert); editing its title pushes a correction."""
    async with newsroom(tmp_path) as room:
        room.write("2026-11-22-story.md", text("Story"))
        await until(lambda: room.pushes() == [("2026-11-22-story", "alert")])
        content = (room.posts / "2026-11-22-story.md").read_text(encoding="utf-8")
        (room.posts / "news").mkdir()
        os.replace(room.posts / "2026-11-22-story.md", room.posts / "news" / "2026-11-22-story.md")
        await until(lambda: "news/2026-11-22-story" in room.states())
        room.write(
            "news/2026-11-22-story.md", content.replace("title: Story", "title: Story (corrected)")
        )
        await until(lambda: ("news/2026-11-22-story", "correction") in room.pushes())
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [
            ("news/2026-11-22-story", "alert"),
            ("news/2026-11-22-story", "correction"),
            ("z-sentinel", "alert"),
        ]


async def test_a_deleted_post_is_hidden_and_never_alerts_again(tmp_path: Path) -> None:
    """Deleting a post hides it; putting it back shows it again without a second alert."""
    async with newsroom(tmp_path) as room:
        path = room.write("2026-11-22-story.md", text("Story"))
        await until(lambda: room.pushes() == [("2026-11-22-story", "alert")])
        content = path.read_text(encoding="utf-8")
        path.unlink()
        await until(lambda: room.states() == {"2026-11-22-story": "gone"})
        room.write("2026-11-22-story.md", content)
        await until(lambda: room.states() == {"2026-11-22-story": "published"})
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [("2026-11-22-story", "alert"), ("z-sentinel", "alert")]


@pytest.mark.parametrize("broken", ["---\ntitle: [unclosed\n", b"\xff\xfe\x00\x01"])
async def test_a_broken_file_is_refused_and_fixed_later(
    tmp_path: Path, broken: str | bytes
) -> None:
    """A broken post is recorded as refused (after its grace); fixing it pushes it."""
    async with newsroom(tmp_path) as room:
        path = room.posts / "2026-11-22-broken.md"
        path.write_bytes(broken if isinstance(broken, bytes) else broken.encode())
        await until(
            lambda: rows(room.database, "SELECT path FROM refused") == [("2026-11-22-broken.md",)]
        )
        path.write_text(text("Fixed"), encoding="utf-8")
        await until(lambda: room.pushes() == [("2026-11-22-broken", "alert")])
        assert rows(room.database, "SELECT COUNT(*) FROM refused") == [(0,)]


async def test_a_file_renamed_into_the_folder_needs_no_settling(tmp_path: Path) -> None:
    """With a long settle time, a post written beside and renamed into place is pushed at once;
    one written in place still waits for it."""
    async with newsroom(tmp_path, settle_seconds=10.0) as room:
        temp = room.write(".2026-11-22-atomic.md.tmp", text("Atomic"))
        os.replace(temp, room.posts / "2026-11-22-atomic.md")
        await until(lambda: room.pushes() == [("2026-11-22-atomic", "alert")])
        room.write("2026-11-22-in-place.md", text("In place"))
        temp = room.write(".z.md.tmp", text("Second atomic"))
        os.replace(temp, room.posts / "z.md")
        await until(lambda: ("z", "alert") in room.pushes())
        assert room.pushes() == [("2026-11-22-atomic", "alert"), ("z", "alert")]  # not in place


async def test_a_second_file_with_a_key_takes_over_when_the_first_goes(tmp_path: Path) -> None:
    """Two files claim one key: the first path is the post, the other refused; delete the
    first and the second becomes the post, without a new alert."""
    async with newsroom(tmp_path) as room:
        content = text("Shared", extra="id: shared\npermalink: /shared/\n")
        room.write("a.md", content)
        await until(lambda: room.pushes() == [("shared", "alert")])
        room.write("b.md", content)
        await until(lambda: rows(room.database, "SELECT path FROM refused") == [("b.md",)])
        reason = rows(room.database, "SELECT reason FROM refused")
        assert reason == [("duplicate key 'shared': a.md has it already",)]
        (room.posts / "a.md").unlink()
        await until(lambda: rows(room.database, "SELECT path FROM refused") == [])
        assert rows(room.database, "SELECT path, title, state FROM posts") == [
            ("b.md", "Shared", "published")
        ]
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [("shared", "alert"), ("z-sentinel", "alert")]


async def test_a_first_run_records_front_matter_at_once_then_reads_the_bodies(
    tmp_path: Path,
) -> None:
    """The first run records the archive from its front matter (commands can answer), then
    reads it whole: excerpts and images from the bodies are stored, and nothing is pushed."""
    body = '<p><img src="https://img.example.com/a.jpg"></p>\n<p>From the body.</p>'
    existing = {f"2026-11-2{n}-old.md": text(f"Old {n}", body=body) for n in range(3)}
    async with newsroom(tmp_path, existing=existing, light=True) as room:
        whole = [("From the body.", "https://img.example.com/a.jpg")] * 3
        await until(lambda: rows(room.database, "SELECT excerpt, image_url FROM posts") == whole)
        await until(lambda: len(rows(room.database, "SELECT path FROM files")) == 3)
        await room.sentinel("z-sentinel.md")
        assert room.pushes() == [("z-sentinel", "alert")]


def test_many_files_are_read_in_worker_processes_as_in_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A first read of a large folder, shared among worker processes, gives each file's
    outcome as reading them one by one does, in the same order (a broken file included)."""
    posts = tmp_path / "_posts"
    paths = [str(path) for path in write_site(posts, READ_APART_FROM)]
    (posts / "broken.md").write_bytes(b"\xff\xfe\x00\x01")  # not text: refused
    paths.append(str(posts / "broken.md"))
    site = SiteConfig(posts_dir=posts, url="https://news.example.com", timezone="Asia/Seoul")
    seen_at = datetime(2026, 11, 22, tzinfo=UTC)
    shared = read_all(paths, site=site, seen_at=seen_at)
    one_by_one = [read_outcome(Path(path), site=site, seen_at=seen_at) for path in paths]
    assert [(o.post, str(o.error)) for o in shared] == [(o.post, str(o.error)) for o in one_by_one]
    assert shared[-1].error is not None
    assert shared[0].post is not None
    assert "in one process" not in caplog.text  # the workers did read them


async def test_a_stop_during_the_first_read_records_no_half_folder(tmp_path: Path) -> None:
    """Stopped while the first look reads the folder, the watch ends without a snapshot: a
    folder read half way must never count as the whole (its other posts would look deleted)."""
    posts = tmp_path / "_posts"
    write_site(posts, 300)
    site = SiteConfig(posts_dir=posts, url="https://news.example.com", timezone="Asia/Seoul")
    view = FolderView(site, clock=SystemClock(), settle_s=SETTLE_S)
    stop = asyncio.Event()
    snapshots = watch_folder(view, clock=SystemClock(), rescan_s=3600.0, stop=stop)
    first = asyncio.ensure_future(anext(snapshots, None))
    await asyncio.sleep(0)  # the look has begun
    stop.set()
    assert await first is None


async def test_a_pull_that_brought_nothing_asks_for_no_rescan() -> None:
    """A hold frees the folder when it ends and asks for one rescan, unless the pull changed
    nothing (a pull every minute must not cost a walk of the folder every minute)."""
    hold = Hold()
    async with hold.held():
        assert hold.is_held
        assert not hold.freed.is_set()
    assert hold.freed.is_set()
    hold.brought_nothing()
    assert not hold.take_rescan()
    async with hold.held():
        pass
    assert hold.take_rescan()
    assert not hold.take_rescan()  # once
