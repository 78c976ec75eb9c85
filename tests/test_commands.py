"""The commands core on each storage backend and a fake clock: parsing, permissions, answers."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.commands import Caller, Command, Commands, Count, parse_command, split_count
from bot.config import Config, SiteConfig
from bot.lookup import complete_categories
from bot.model import Choice, Entry, NewPush, PostState, PushKind, Record, Reply
from bot.publish import Plan
from bot.sqlite import open_sqlite
from bot.storage import Storage
from tests.conftest import Opener, fan_out_queued
from tests.fakes import FakeClock
from tests.test_publish import post

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ADMIN = Caller("fake", "admin-chat", "1", "en", is_bot_admin=True)
READER = Caller("fake", "reader-chat", "2", "en")
KOREAN = Caller("fake", "ko-chat", "3", "ko")
GROUP_MEMBER = Caller("fake", "group", "4", "en", is_private=False)
GROUP_ADMIN = replace(GROUP_MEMBER, user="5", is_chat_admin=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/latest", Command("latest", "")),
        ("/latest 3", Command("latest", "3")),
        ("  /Category  경제 2 ", Command("category", "경제 2")),
        ("/repost 2024-07-13 my post here", Command("repost", "2024-07-13 my post here")),
        ("/help@sokbo_bot", Command("help", "")),
        ("/help@other_bot", None),
        ("hello", None),
        ("/", None),
        ("", None),
    ],
)
def test_parse_command(text: str, expected: Command | None) -> None:
    """Commands are `/name rest`; a mention of another bot is not for us."""
    assert parse_command(text, bot_name="sokbo_bot") == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [("", Count("", None)), ("5", Count("", 5)), ("경제 3", Count("경제", 3)), ("New York", Count("New York", None)),
     ("21", Count("", 20, is_capped=True)), ("0", Count("", 0, is_valid=False)), ("경제 99", Count("경제", 20, is_capped=True))],
)  # fmt: skip
def test_split_count(args: str, expected: Count) -> None:
    """A trailing number is the count: more than 20 is 20, and says so; 0 is no count."""
    assert split_count(args) == expected


def records(*posts: object) -> list[Record]:
    """Published records of the given posts."""
    return [Record(p, PostState.PUBLISHED, first_seen=T0, is_alerted=True) for p in posts]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("2024-07-13-big news", ["2024-07-13-big news"]),
        ("news/2024-07-13-x.md", ["news/2024-07-13-x"]),
        ("posts/news/2024-07-13-x.md", ["news/2024-07-13-x"]),
        ("https://news.example.com/news/2024-07-13-x/?utm_source=a", ["news/2024-07-13-x"]),
        ("2024-07-13", ["2024-07-13-big news", "news/2024-07-13-x"]),
        ("2024-07-13-x.md", []),
        ("nothing", []),
    ],
)
async def test_finding_a_post(open_storage: Opener, query: str, keys: list[str]) -> None:
    """KEY may be the key (spaces and all), the file path, or the URL; partial keys list all."""
    async with open_storage() as storage:
        plan = Plan(records=tuple(records(post("2024-07-13-big news"), post("news/2024-07-13-x"))))
        await storage.archive.record_scan(plan, (), now=T0, site=None)
        found = await storage.archive.find(query)
    assert sorted(r.post.key for r in found) == keys


@asynccontextmanager
async def newsroom(open_storage: Opener) -> AsyncIterator[tuple[Commands, Storage, list[int]]]:
    """Commands over storage holding four published posts, on a fake clock."""
    posts = [
        post("a", title="Budget deal", categories=("정치", "경제"), age=timedelta(hours=4), at=T0),
        post("b", title="Chip exports", categories=("경제",), age=timedelta(hours=3), at=T0),
        post("c", title="Moon probe", categories=("Science",), age=timedelta(hours=2), at=T0),
        post(
            "d", title="New York marathon", categories=("New York",), age=timedelta(hours=1), at=T0
        ),
    ]
    nudges: list[int] = []
    async with open_storage() as storage:
        plan = Plan(records=tuple(records(*posts)))
        await storage.archive.record_scan(plan, (), now=T0, site=None)
        config = Config(site=SiteConfig(url="https://news.example.com", name="Test News"))
        yield (
            Commands(storage, config, FakeClock(T0), nudge=lambda: nudges.append(1)),
            storage,
            nudges,
        )


async def pushes_queued(storage: Storage) -> int:
    """Pushes waiting to go out to chats."""
    return (await storage.reports.summary()).pushes_pending


async def ask(commands: Commands, text: str, caller: Caller = READER) -> str:
    """Send one line as `caller` and return the reply's text."""
    return (await answer(commands, text, caller)).text


async def answer(commands: Commands, text: str, caller: Caller = READER) -> Reply:
    """Send one line as `caller` and return the whole reply."""
    command = parse_command(text)
    assert command is not None
    return await commands.handle(command, caller)


async def test_latest_reads_like_news_with_keys_for_admins_only(open_storage: Opener) -> None:
    """/latest: the newest first, each a titled link with its date, time and categories; the
    key (what /repost takes) only for the bot's admins; /categories counts posts."""
    async with newsroom(open_storage) as (commands, _, _):
        latest = await answer(commands, "/latest 2")
        assert latest.lines == ("Latest posts:",)
        assert latest.entries == (
            Entry("New York marathon", "https://news.example.com/d/", "11-22 08:00", ("New York",)),
            Entry("Moon probe", "https://news.example.com/c/", "11-22 07:00", ("Science",)),
        )
        assert latest.text.splitlines()[1:4] == [
            "• New York marathon",
            "  11-22 08:00 · New York",
            "  https://news.example.com/d/",
        ]
        keyed = await answer(commands, "/latest 2", ADMIN)
        assert [entry.key for entry in keyed.entries] == ["d", "c"]
        assert keyed.text.splitlines()[1] == "• New York marathon [d]"
        assert (
            await ask(commands, "/categories")
            == "Categories:\n경제 (2)\nNew York (1)\nScience (1)\n정치 (1)"
        )
        capped = await answer(commands, "/latest 50")
        assert capped.lines == ("Latest posts: (at most 20 at a time)",)
        assert len(capped.entries) == 4  # every post there is
        assert await ask(commands, "/latest 0") == "n must be from 1 to 20."


async def test_a_post_dated_by_day_lists_the_time_it_was_seen_or_no_time(
    open_storage: Opener,
) -> None:
    """`date: 2026-11-22` is midnight to Jekyll: the list shows when sokbo first saw it on
    that day, or the day alone for a post first seen on a later day."""
    day = datetime(2026, 11, 22, tzinfo=UTC)
    async with open_storage() as storage:
        fresh = Record(post("fresh", date=day), PostState.PUBLISHED, first_seen=T0, is_alerted=True)
        old = Record(
            post("old", date=day - timedelta(days=400)),
            PostState.PUBLISHED,
            first_seen=T0,
            is_alerted=True,
        )
        await storage.archive.record_scan(Plan(records=(fresh, old)), (), now=T0, site=None)
        commands = Commands(storage, Config(), FakeClock(T0), nudge=lambda: None)
        listed = await answer(commands, "/latest")
        assert [entry.when for entry in listed.entries] == ["11-22 09:00", "2025-10-18"]


@pytest.mark.parametrize("name", ["경제", "  경제 ", unicodedata.normalize("NFD", "경제")])
async def test_category_matches_after_nfc(open_storage: Opener, name: str) -> None:
    """Korean names match in either normalisation form."""
    async with newsroom(open_storage) as (commands, _, _):
        reply = await answer(commands, f"/category {name}")
        assert reply.lines == ("Latest in 경제:",)
        assert [entry.title for entry in reply.entries] == ["Chip exports", "Budget deal"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/category science 1", "Latest in Science:"),
        ("/category new york", "Latest in New York:"),
        ("/category 경재", "There is no category '경재'.\nDid you mean: 경제"),
        ("/category scince", "There is no category 'scince'.\nDid you mean: Science"),
        ("/category zzz", "There is no category 'zzz'.\nSee /categories for the list."),
        ("/category", "Name a category: /category NAME [n]"),
    ],
)
async def test_category_names_and_suggestions(
    open_storage: Opener, text: str, expected: str
) -> None:
    """Names match case-insensitively (spaces kept); unknown ones get suggestions."""
    async with newsroom(open_storage) as (commands, _, _):
        assert (await ask(commands, text)).startswith(expected)


async def test_replies_come_in_the_callers_language(open_storage: Opener) -> None:
    """A Korean caller gets Korean; an English one English."""
    async with newsroom(open_storage) as (commands, _, _):
        assert (await ask(commands, "/latest", KOREAN)).startswith("최신 글:")
        assert (await ask(commands, "/help", KOREAN)).startswith("Test News의 속보 봇입니다.")
        assert (await ask(commands, "/nonsense", KOREAN)) == "모르는 명령입니다. /help 를 보세요."


async def test_subscriptions_in_a_private_chat(open_storage: Opener) -> None:
    """Anyone subscribes a private chat, to all posts or to categories, and can undo it."""
    async with newsroom(open_storage) as (commands, storage, _):
        assert (
            await ask(commands, "/subscriptions")
            == "This chat gets no alerts. Start with /subscribe."
        )
        assert (
            await ask(commands, "/subscribe 경제 Science")
            == "This chat now gets new posts in: 경제, Science"
        )
        assert await ask(commands, "/subscriptions") == "This chat gets: Science, 경제"
        assert await ask(commands, "/unsubscribe Science") == "No more alerts for: Science"
        assert await ask(commands, "/subscriptions") == "This chat gets: 경제"
        assert await ask(commands, "/subscribe") == "This chat now gets every new post."
        assert await ask(commands, "/subscriptions") == "This chat gets every new post."
        assert await ask(commands, "/unsubscribe") == "This chat gets no more alerts."
        assert await storage.chats.active_targets() == []


async def test_a_typo_subscribes_to_nothing_until_the_reader_answers(open_storage: Opener) -> None:
    """`/subscribe 경재 Weather`: nothing is subscribed; the reply asks, offering the close
    category, the names as typed (`NAME!`, which a reader may type too), or nothing; each
    answer is a command the reader's chat runs."""
    async with newsroom(open_storage) as (commands, storage, _):
        asked = await answer(commands, "/subscribe 경재 Weather")
        assert asked.lines == (
            "There is no category '경재'. Subscribe to 경제 instead?",
            "No post is in 'Weather' yet. Subscribe anyway?",
        )
        assert asked.choices == (
            Choice("Yes, 경제", "/subscribe 경제"),
            Choice("No, as I typed it", "/subscribe 경재! Weather!"),
            Choice("Cancel"),
        )
        assert await storage.chats.target("fake", "reader-chat") is None
        assert (
            await ask(commands, asked.choices[0].command) == "This chat now gets new posts in: 경제"
        )
        insisted = await ask(commands, asked.choices[1].command)
        assert insisted == (
            "This chat now gets new posts in: 경재, Weather\n"
            "No posts in these categories yet: 경재, Weather"
        )
        target = await storage.chats.target("fake", "reader-chat")
        assert target is not None
        assert sorted(target.categories) == ["Weather", "경재", "경제"]
        korean = await answer(commands, "/subscribe 겅제", replace(READER, language="ko"))
        assert korean.lines == ("'겅제'라는 분류는 없습니다. 경제(으)로 구독할까요?",)
        assert [c.label for c in korean.choices] == ["예, 경제", "아니요, 입력한 대로", "취소"]


async def test_a_partial_key_asks_before_retracting(open_storage: Opener) -> None:
    """`/retract rate-cut` (a part of a key) names the post and asks; the exact key acts."""
    async with open_storage() as storage:
        cut = post("2026-11-22-rate-cut", title="Rate cut", at=T0)
        await storage.archive.record_scan(Plan(records=tuple(records(cut))), (), now=T0, site=None)
        commands = Commands(storage, Config(), FakeClock(T0), nudge=lambda: None)
        asked = await answer(commands, "/retract rate-cut", ADMIN)
        assert asked.lines == ("Retract this post? 2026-11-22-rate-cut — Rate cut",)
        assert asked.choices == (Choice("Yes", "/retract 2026-11-22-rate-cut"), Choice("No"))
        assert await pushes_queued(storage) == 0
        await ask(commands, asked.choices[0].command, ADMIN)
        assert await pushes_queued(storage) == 1  # the retraction


async def test_in_a_group_only_chat_admins_change_the_subscription(open_storage: Opener) -> None:
    """A group member is refused; the group's admin subscribes it."""
    async with newsroom(open_storage) as (commands, _, _):
        assert (
            await ask(commands, "/subscribe", GROUP_MEMBER)
            == "In a group, only the chat's admins can change its subscription."
        )
        assert (
            await ask(commands, "/subscribe", GROUP_ADMIN) == "This chat now gets every new post."
        )
        assert (
            await ask(commands, "/subscriptions", GROUP_MEMBER) == "This chat gets every new post."
        )


@pytest.mark.parametrize("text", ["/repost a", "/retract a", "/pause", "/resume", "/status"])
async def test_admin_commands_refuse_readers(open_storage: Opener, text: str) -> None:
    """Repost, retract, pause, resume and status are for bot admins only."""
    async with newsroom(open_storage) as (commands, storage, _):
        assert await ask(commands, text) == "Only the bot's admins can do that."
        assert await pushes_queued(storage) == 0


async def test_repost_everywhere_or_here(open_storage: Opener) -> None:
    """/repost queues a push for every matching chat, or for this chat alone with `here`."""
    async with newsroom(open_storage) as (commands, storage, nudges):
        await ask(commands, "/subscribe 경제")
        assert await ask(commands, "/repost Budget", ADMIN) == "No post matches 'Budget'."
        assert await ask(commands, "/repost b", ADMIN) == "Reposting b to 1 chat(s)."
        assert (
            await ask(commands, "/repost https://news.example.com/c/ here", ADMIN)
            == "Reposting c here."
        )
        assert await fan_out_queued(storage, now=T0) == 2
        assert [(d.key, d.kind, d.address) for d in await storage.outbox.deliveries()] == [
            ("b", "repost", "reader-chat"),
            ("c", "repost", "admin-chat"),
        ]
        assert nudges == [1, 1]


async def test_retract_cancels_and_queues_a_retraction(open_storage: Opener) -> None:
    """/retract cancels the post's unsent pushes and queues the deletion of sent ones."""
    async with newsroom(open_storage) as (commands, storage, _):
        await ask(commands, "/subscribe")
        await ask(commands, "/repost a", ADMIN)
        await fan_out_queued(storage, now=T0)
        await ask(commands, "/repost a", ADMIN)
        assert (await ask(commands, "/retract a", ADMIN)).startswith("Retracting a")
        assert [(d.kind, d.status) for d in await storage.outbox.deliveries()] == [
            ("repost", "cancelled")
        ]
        assert await pushes_queued(storage) == 1  # the retraction; the second repost is cancelled
        assert (
            await ask(commands, "/retract", ADMIN)
        ) == "Give a post's KEY, path or URL: /retract KEY"


async def test_pause_resume_and_status(open_storage: Opener) -> None:
    """Pause and resume flip what status shows."""
    async with newsroom(open_storage) as (commands, _, _):
        assert (
            await ask(commands, "/pause", ADMIN) == "New alerts are paused; /resume releases them."
        )
        assert (await ask(commands, "/status", ADMIN)).endswith("· PAUSED")
        assert await ask(commands, "/resume", ADMIN) == "Alerts are flowing again."
        assert await ask(commands, "/status", ADMIN) == (
            "queued 0 · sent 0 · retrying 0 · failed 0 · dead 0 · subscribers 0 · "
            "unreadable files 0 · last scan 2026-11-22 09:00:00 UTC"
        )
        korean = await ask(commands, "/status", replace(ADMIN, language="ko"))
        assert korean.endswith("읽지 못한 파일 0 · 마지막 스캔 2026-11-22 09:00:00 UTC")
        assert korean.count("거부") == 1  # rejected messages only


async def test_status_names_the_posts_waiting_for_their_pages(open_storage: Opener) -> None:
    """An alert waiting for its post's page shows in /status with how long it has waited."""
    async with newsroom(open_storage) as (commands, storage, _):
        fresh = Plan(
            records=tuple(records(post("e", title="Fresh", at=T0))),
            pushes=(NewPush("e", PushKind.ALERT),),
        )
        await storage.archive.record_scan(fresh, (), now=T0, site=None, hold_alerts=True)
        commands.clock.advance(minutes=2, seconds=30)  # type: ignore[attr-defined]
        lines = (await ask(commands, "/status", ADMIN)).splitlines()
        assert lines[0].startswith("queued 0 ·")  # waiting is not queued for chats yet
        assert lines[1] == "waiting for their pages: e (2 min)"
        korean = replace(ADMIN, language="ko")
        assert (await ask(commands, "/status", korean)).splitlines()[1] == (
            "페이지를 기다리는 글 1건: e (2분)"
        )


async def test_commands_are_rate_limited_per_user(open_storage: Opener) -> None:
    """A user sending too many commands is told to wait; others are not affected."""
    async with newsroom(open_storage) as (commands, _, _):
        for _ in range(8):
            assert (await ask(commands, "/latest 1")).startswith("Latest posts:")
        assert await ask(commands, "/latest 1") == "Too many commands; try again in 30 s."
        assert (await ask(commands, "/latest 1", KOREAN)).startswith("최신 글:")
        commands.clock.advance(seconds=31)  # type: ignore[attr-defined]
        assert (await ask(commands, "/latest 1")).startswith("Latest posts:")


async def test_completion_of_categories_and_posts(open_storage: Opener) -> None:
    """Autocomplete: categories containing the typed text (NFC, any case); posts by key or title."""
    older = post("2026-11-20-vote", title="Vote passes", categories=("정치", "Economy"))
    newer = post("2026-11-21-final", title="결승전", categories=("정치",), age=timedelta(0))
    gone = replace(records(post("2026-11-19-old", title="Vote recount"))[0], state=PostState.GONE)
    async with open_storage() as storage:
        plan = Plan(records=(*records(older, newer), gone))
        await storage.archive.record_scan(plan, (), now=T0, site=None)
        counts = await storage.archive.categories()
        assert counts == [("정치", 2), ("Economy", 1)]
        assert complete_categories(counts, "", most=25) == ["정치", "Economy"]
        assert complete_categories(counts, unicodedata.normalize("NFD", "정"), most=25) == ["정치"]
        assert complete_categories(counts, "ECON", most=25) == ["Economy"]
        matching = storage.archive.matching
        assert [r.post.key for r in await matching("", most=25)] == [
            "2026-11-21-final",
            "2026-11-20-vote",
        ]
        assert [r.post.key for r in await matching("vote", most=25)] == ["2026-11-20-vote"]
        assert [r.post.key for r in await matching("VOTE", most=25)] == ["2026-11-20-vote"]
        assert [r.post.key for r in await matching("결승", most=1)] == ["2026-11-21-final"]


@pytest.mark.parametrize(
    "text",
    ["/find x", "/throttle", "/listing", "/is_subscribed", "/category_names", "/_help",
     "/__init__", "/handle /latest", "/unpostable a", "/_latest"],
)  # fmt: skip
async def test_only_the_table_is_callable(open_storage: Opener, text: str) -> None:
    """The code's own helpers are not commands: they get the unknown-command reply."""
    async with newsroom(open_storage) as (commands, storage, _):
        reply = await ask(commands, text, ADMIN)
        assert reply.splitlines()[0] == "Unknown command; see /help."
        assert await pushes_queued(storage) == 0


async def test_a_near_miss_suggests_the_command_meant(open_storage: Opener) -> None:
    """A mistyped command name points to the one that was probably meant."""
    async with newsroom(open_storage) as (commands, _, _):
        assert (
            await ask(commands, "/lates 3") == "Unknown command; see /help.\nDid you mean: /latest"
        )
        assert await ask(commands, "/LATEST 1") == await ask(commands, "/latest 1")


LONG = "가" * 10_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/category {LONG}", "That is too long: a command takes at most 1,000 characters."),
        (f"/repost {LONG}", "That is too long: a command takes at most 1,000 characters."),
        (f"/{LONG}", "Unknown command; see /help."),
        ("/category 경제\x00\x00 1", "Latest in 경제:"),
        ("/category \u202e경제\u202c", "Latest in 경제:"),
        ("/lat\x00est 1", "Latest posts:"),
        ("/category x'; DROP TABLE posts; --", "There is no category 'x'; DROP TABLE posts; --'."),
        ("/repost ' OR 1=1 --", "No post matches '' OR 1=1 --'."),
        ("/repost ../../../etc/passwd", "No post matches '../../../etc/passwd'."),
        ("/repost %", "No post matches '%'."),
        ("/latest 0", "n must be from 1 to 20."),
        ("/latest -1", "n must be from 1 to 20."),
        ("/latest 99999999999999999999999999", "Latest posts: (at most 20 at a time)"),
        ("/latest ²", "n must be from 1 to 20."),
        ("/latest ١٢", "n must be from 1 to 20."),
        ("/latest 1e3", "n must be from 1 to 20."),
        ("/category 경제 0", "n must be from 1 to 20."),
        (
            "/subscribe " + " ".join(f"c{n}" for n in range(100)),
            "Name at most 20 categories at once.",
        ),
        (f"/category {'가' * 300}", "There is no category '" + "가" * 39 + "…'."),
    ],
)
async def test_hostile_arguments_get_a_short_answer(
    open_storage: Opener, text: str, expected: str
) -> None:
    """Huge, invisible, SQL, path and out-of-range arguments: a short reply, and nothing stored."""
    async with newsroom(open_storage) as (commands, storage, _):
        reply = await ask(commands, text, ADMIN)
        assert reply.startswith(expected)
        assert len(reply) < 400
        assert not any(unicodedata.category(c) == "Cc" and c != "\n" for c in reply)
        assert "\u202e" not in reply
        assert await pushes_queued(storage) == 0
        assert await storage.chats.active_targets() == []
        assert len(await storage.archive.records()) == 4


async def test_a_failing_command_is_answered_with_an_apology(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A command that raises (here: its SQLite table renamed away) gets an apology and a log line."""
    database = tmp_path / "s.db"
    async with newsroom(lambda: open_sqlite(database)) as (commands, _, _):
        with sqlite3.connect(database) as db:
            db.execute("ALTER TABLE posts RENAME TO posts_away")
        assert (
            await ask(commands, "/latest") == "Something went wrong; please try again in a moment."
        )
        [record] = [r for r in caplog.records if r.name == "bot.commands"]
        assert record.getMessage() == "command /latest failed for fake reader-chat"
        assert record.exc_info is not None
        assert "no such table: posts" in str(record.exc_info[1])
        with sqlite3.connect(database) as db:
            db.execute("ALTER TABLE posts_away RENAME TO posts")
        assert (await ask(commands, "/latest 1")).startswith("Latest posts:")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (PostState.SCHEDULED, "s is scheduled for 2026-11-22 10:00; it goes out by itself then"),
        (PostState.UNPUBLISHED, "s is not published (published: false), so it cannot be reposted."),
    ],
)
async def test_repost_refuses_a_post_that_is_not_published(
    open_storage: Opener, state: PostState, expected: str
) -> None:
    """/repost of a scheduled or unpublished post says why, and queues nothing."""
    async with newsroom(open_storage) as (commands, storage, _):
        later = post("s", age=-timedelta(hours=1), at=T0)
        record = Record(later, state, first_seen=T0, is_alerted=False)
        await storage.archive.record_scan(Plan(records=(record,)), (), now=T0, site=None)
        assert (await ask(commands, "/repost s", ADMIN)).startswith(expected)
        assert await pushes_queued(storage) == 0


async def test_help_lists_the_table_and_admins_see_their_commands(open_storage: Opener) -> None:
    """/help (and /start) show each command's usage and description; admin ones to admins only."""
    async with newsroom(open_storage) as (commands, _, _):
        reader = (await ask(commands, "/start")).splitlines()
        assert reader[1:] == [
            "/help — what this bot does, and its commands",
            "/latest [n] — the newest posts",
            "/categories — the categories and their post counts",
            "/category NAME [n] — the newest posts in a category",
            "/subscribe [category …] — get alerts in this chat",
            "/unsubscribe [category …] — stop alerts in this chat",
            "/subscriptions — what this chat gets",
        ]
        admin = (await ask(commands, "/help", replace(ADMIN, language="ko"))).splitlines()
        assert admin[4] == "/category 이름 [n] — 카테고리의 최신 글"
        assert admin[-5:] == [
            "/repost KEY [here] — 관리자: 글을 다시 보내기",
            "/retract KEY — 관리자: 보낸 알림 지우기",
            "/pause — 관리자: 새 알림 보류",
            "/resume — 관리자: 보류한 알림 보내기",
            "/status — 관리자: 대기열, 전송, 마지막 확인",
        ]
