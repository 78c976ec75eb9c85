"""Telegram updates end to end: the real Application polls the fake Bot API; sokbo answers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.clock import SystemClock
from bot.commands import Commands
from bot.config import Config, Secrets, SiteConfig, TelegramSettings
from bot.delivery import Delivery
from bot.model import NewPush, PostState, PushKind, Record, TelegramOptions
from bot.platforms.telegram import plugin as telegram_plugin
from bot.platforms.telegram.chats import TelegramChats
from bot.platforms.telegram.send import NAME
from bot.publish import Plan
from bot.sqlite import open_sqlite
from bot.storage import Storage
from tests.fake_telegram import BOT, FakeTelegram
from tests.fakes import until
from tests.telegram_html import visible_text
from tests.test_publish import post
from tests.test_store import rows

ADMIN_ID = 999
MESSAGE_IDS = itertools.count(1000)


def command(
    chat: dict[str, Any],
    text: str,
    *,
    user_id: int = 111,
    language: str = "ko",
    sender_chat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message update carrying a command, as Telegram sends it."""
    name_length = len(text.split(maxsplit=1)[0])
    message: dict[str, Any] = {
        "message_id": next(MESSAGE_IDS), "date": 1_763_780_000, "chat": chat, "text": text,
        "from": {"id": user_id, "is_bot": False, "first_name": "Reader", "language_code": language},
        "entities": [{"type": "bot_command", "offset": 0, "length": name_length}],
    }  # fmt: skip
    if sender_chat is not None:
        message["sender_chat"] = sender_chat
    return {"message": message}


PRIVATE = {"id": 111, "type": "private", "first_name": "Reader"}
GROUP = {"id": -2001, "type": "supergroup", "title": "Newsroom"}


@dataclass
class Live:
    """The fake API, storage, and sokbo's Telegram side running."""

    api: FakeTelegram
    storage: Storage
    database: Path
    chats: TelegramChats

    def replies(self, chat_id: int) -> list[str]:
        """Texts the bot sent to a chat with sendMessage."""
        return [
            call["text"]
            for call in self.api.calls("sendMessage")
            if int(call["chat_id"]) == chat_id
        ]

    async def ask(self, update: dict[str, Any], chat_id: int, count: int = 1) -> list[str]:
        """Send an update and wait for `count` more replies in that chat."""
        before = len(self.replies(chat_id))
        self.api.push_update(update)
        await until(lambda: len(self.replies(chat_id)) >= before + count)
        return self.replies(chat_id)[before:]


@asynccontextmanager
async def live(
    tmp_path: Path, *, refused_methods: frozenset[str] = frozenset(), **telegram: object
) -> AsyncIterator[Live]:
    """Run the Application's polling and delivery against the fake Bot API.

    As the service does, the config's channels are subscribed before the platform starts.
    `refused_methods` are answered 500 by the fake.
    """
    api = FakeTelegram(refused_methods=set(refused_methods))
    await api.start()
    settings = TelegramSettings.model_validate(
        {
            "api_url": api.url,
            "api_file_url": api.url.replace("/bot", "/file/bot"),
            "admins": [ADMIN_ID],
            **telegram,
        }
    )
    config = Config(
        site=SiteConfig(url="https://news.example.com", name="Test News"),
        telegram=settings,
        secrets=Secrets(telegram_token=SecretStr(api.token)),
    )
    clock = SystemClock()
    plugin = telegram_plugin(config, clock)
    stop = asyncio.Event()
    try:
        async with contextlib.AsyncExitStack() as stack, open_sqlite(tmp_path / "s.db") as storage:
            record = Record(post("2026-11-22-story", at=clock.now(), categories=("정치",), image_url="https://img.example.com/a.jpg"),
                            PostState.PUBLISHED, first_seen=clock.now(), is_alerted=True)  # fmt: skip
            await storage.archive.record_scan(
                Plan(records=(record,)), (), now=clock.now(), site=None
            )
            listed = plugin.static_chats()  # as the service does, before the platform starts
            await storage.chats.apply_static(listed, platforms=[NAME], now=clock.now())
            platform = await plugin.connect(stack)
            delivery = Delivery(storage, {NAME: platform}, config, clock)
            commands = Commands(storage, config, clock, nudge=delivery.nudge)
            chats = plugin.chat_side(commands, storage, ready=asyncio.Event())
            await chats.start()
            engine = asyncio.create_task(delivery.run(stop))
            try:
                yield Live(api, storage, tmp_path / "s.db", chats)
            finally:
                stop.set()
                await engine
                await chats.stop()
    finally:
        await api.stop()


async def test_a_reader_subscribes_and_the_next_post_arrives(tmp_path: Path) -> None:
    """/subscribe in a private chat, then a new post: photo, caption and button arrive."""
    async with live(tmp_path) as bot:
        assert await bot.ask(command(PRIVATE, "/subscribe"), 111) == [
            "이 채팅에서 모든 새 글을 알려 드립니다."
        ]
        now = SystemClock().now()
        fresh = Record(post("2026-11-22-fresh", at=now, title="속보 <단독>", image_url="https://img.example.com/b.jpg"),
                       PostState.PUBLISHED, first_seen=now, is_alerted=True, pushed_at=now)  # fmt: skip
        await bot.storage.archive.record_scan(
            Plan(records=(fresh,), pushes=(NewPush("2026-11-22-fresh", PushKind.ALERT),)),
            (),
            now=now,
            site=None,
        )
        await until(lambda: len(bot.api.calls("sendPhoto")) == 1)
        [photo] = bot.api.calls("sendPhoto")
        assert photo["chat_id"] == "111"
        assert visible_text(photo["caption"]).startswith("속보 <단독>")
        assert (
            photo["reply_markup"]["inline_keyboard"][0][0]["url"]
            == "https://news.example.com/2026-11-22-fresh/"
        )
        assert rows(bot.database, "SELECT platform, address, kind FROM targets") == [
            ("telegram", "111", "private")
        ]


async def test_commands_answer_in_the_users_language(tmp_path: Path) -> None:
    """/latest and /category reply in Korean or English by the user's language_code."""
    async with live(tmp_path) as bot:
        [latest] = await bot.ask(command(PRIVATE, "/latest", language="en"), 111)
        assert latest.startswith("Latest posts:")
        [category] = await bot.ask(command(PRIVATE, "/category 정치"), 111)
        assert category.startswith("정치의 최신 글:")
        menus = {call.get("language_code"): call for call in bot.api.calls("setMyCommands")}
        assert set(menus) == {None, "ko"}  # English is the default menu
        readers = ["help", "latest", "categories", "category", "subscribe", "unsubscribe",
                   "subscriptions"]  # fmt: skip
        for menu in menus.values():
            assert [entry["command"] for entry in menu["commands"]] == readers
        assert menus[None]["commands"][1]["description"] == "the newest posts"
        assert menus["ko"]["commands"][4]["description"] == "이 채팅에서 알림 받기"


async def test_lists_are_linked_titles_without_previews_and_keys_for_admins(
    tmp_path: Path,
) -> None:
    """/latest on Telegram: HTML, each title a link over its date and category, no link
    preview; a reader sees no keys, an admin sees each post's key."""
    async with live(tmp_path) as bot:
        await bot.ask(command(PRIVATE, "/latest", language="en"), 111)
        [call] = [c for c in bot.api.calls("sendMessage") if int(c["chat_id"]) == 111]
        assert call["parse_mode"] == "HTML"
        assert call["link_preview_options"] == {"is_disabled": True}
        assert '<a href="https://news.example.com/2026-11-22-story/">' in call["text"]
        assert "2026-11-22-story]" not in visible_text(call["text"])
        admin = {**PRIVATE, "id": ADMIN_ID}
        [listed] = await bot.ask(
            command(admin, "/latest", user_id=ADMIN_ID, language="en"), ADMIN_ID
        )
        assert "[2026-11-22-story]" in visible_text(listed)


async def test_a_typo_is_asked_about_with_buttons_and_a_press_answers_it(tmp_path: Path) -> None:
    """`/subscribe 정지` subscribes nothing: the reply asks, with inline buttons whose data is
    a token (the question stays with sokbo); pressing "Yes, 정치" subscribes to 정치 and turns
    the question into the answer, without buttons. A button of a closed question does nothing."""
    async with live(tmp_path) as bot:
        [asked] = await bot.ask(command(PRIVATE, "/subscribe 정지", language="en"), 111)
        assert asked == "There is no category '정지'. Subscribe to 정치 instead?"
        (chat, message_id), sent = max(bot.api.messages.items())
        assert bot.api.buttons(chat, message_id) == ["Yes, 정치", "No, as I typed it", "Cancel"]
        data = [row[0]["callback_data"] for row in sent.params["reply_markup"]["inline_keyboard"]]
        assert all(len(d.encode()) <= 64 and "정치" not in d for d in data)
        assert await bot.storage.chats.target("telegram", "111") is None
        bot.api.press(chat, message_id, 0, user_id=111)
        await until(lambda: bot.api.messages[(chat, message_id)].text.startswith("This chat"))
        assert bot.api.messages[(chat, message_id)].text == "This chat now gets new posts in: 정치"
        assert bot.api.buttons(chat, message_id) == []
        assert len(bot.api.calls("answerCallbackQuery")) == 1
        target = await bot.storage.chats.target("telegram", "111")
        assert target is not None
        assert target.categories == ("정치",)
        await bot.ask(command(PRIVATE, "/subscribe 정지", language="en"), 111)
        (chat, second), _ = max(bot.api.messages.items())
        bot.api.press(chat, second, 1, user_id=222)  # not the one who asked
        await until(lambda: len(bot.api.calls("answerCallbackQuery")) == 2)
        assert (
            bot.api.calls("answerCallbackQuery")[1]["text"] == "Only the one who asked can answer."
        )
        assert bot.api.buttons(chat, second) == ["Yes, 정치", "No, as I typed it", "Cancel"]


async def test_in_a_group_only_admins_subscribe_and_mentions_of_other_bots_are_ignored(
    tmp_path: Path,
) -> None:
    """A member is refused, an admin (asked with getChatMember) or an anonymous admin succeeds."""
    async with live(tmp_path) as bot:
        bot.api.members[(-2001, 5)] = "administrator"
        [refused] = await bot.ask(command(GROUP, "/subscribe", user_id=4, language="en"), -2001)
        assert refused == "In a group, only the chat's admins can change its subscription."
        [done] = await bot.ask(
            command(GROUP, f"/subscribe@{BOT['username']} 정치", user_id=5, language="en"), -2001
        )
        assert done == "This chat now gets new posts in: 정치"
        [anonymous] = await bot.ask(
            command(GROUP, "/unsubscribe", user_id=1087968824, language="en", sender_chat=GROUP),
            -2001,
        )
        assert anonymous == "This chat gets no more alerts."
        bot.api.push_update(command(GROUP, "/latest@other_bot", language="en"))
        await bot.ask(command(GROUP, "/help", language="en"), -2001)
        assert not any(reply.startswith("Latest posts:") for reply in bot.replies(-2001))


async def test_admin_commands_are_for_configured_admins(tmp_path: Path) -> None:
    """/repost works for a user in telegram.admins and is refused for others."""
    async with live(tmp_path) as bot:
        [refused] = await bot.ask(command(PRIVATE, "/repost 2026-11-22-story", language="en"), 111)
        assert refused == "Only the bot's admins can do that."
        admin_chat = {"id": ADMIN_ID, "type": "private", "first_name": "Editor"}
        [queued] = await bot.ask(
            command(admin_chat, "/repost 2026-11-22-story here", user_id=ADMIN_ID, language="en"),
            ADMIN_ID,
        )
        assert queued == "Reposting 2026-11-22-story here."
        await until(
            lambda: any(int(call["chat_id"]) == ADMIN_ID for call in bot.api.calls("sendPhoto"))
        )


async def test_an_edited_command_is_not_run_again(tmp_path: Path) -> None:
    """Editing a message that held a command never re-runs it."""
    async with live(tmp_path) as bot:
        edited = command(PRIVATE, "/subscribe")["message"]
        bot.api.push_update({"edited_message": {**edited, "edit_date": 1_763_780_100}})
        await bot.ask(command(PRIVATE, "/help", language="en"), 111)
        assert rows(bot.database, "SELECT COUNT(*) FROM subscriptions") == [(0,)]


async def test_a_chat_that_removes_the_bot_is_deactivated(tmp_path: Path) -> None:
    """my_chat_member with the bot kicked: the chat gets nothing more."""
    async with live(tmp_path) as bot:
        bot.api.members[(-2001, 5)] = "administrator"
        await bot.ask(command(GROUP, "/subscribe", user_id=5), -2001)
        me = {**BOT}
        bot.api.push_update({"my_chat_member": {
            "chat": GROUP, "from": {"id": 5, "is_bot": False, "first_name": "Admin"}, "date": 1_763_780_200,
            "old_chat_member": {"status": "member", "user": me},
            "new_chat_member": {"status": "kicked", "user": me, "until_date": 0},
        }})  # fmt: skip
        await until(
            lambda: (
                rows(bot.database, "SELECT is_active FROM targets WHERE address = '-2001'")
                == [(0,)]
            )
        )


async def test_static_channels_come_from_the_config(tmp_path: Path) -> None:
    """[[telegram.channels]] are targets from the start, with their topic and options."""
    channels = [{"chat_id": "@newsroom", "categories": ["정치"], "thread_id": 4, "silent": True}]
    async with live(tmp_path, channels=channels) as bot:
        target = rows(
            bot.database,
            "SELECT address, kind, is_static, thread_id, is_silent, link_preview FROM targets",
        )
        assert target == [("@newsroom", "channel", 1, 4, 1, 1)]
        assert rows(bot.database, "SELECT category FROM subscriptions") == [("정치",)]
        newsroom = await bot.storage.chats.target(NAME, "@newsroom")
        assert newsroom is not None
        assert newsroom.options == TelegramOptions(thread_id=4, is_silent=True, link_preview=True)


async def test_repost_reports_its_progress_by_editing_the_reply(tmp_path: Path) -> None:
    """An admin's /repost reply is edited as the push goes out: "3/3 sent · 0 failed"."""
    async with live(tmp_path) as bot:
        for chat_id in (301, 302, 303):
            reader = {"id": chat_id, "type": "private", "first_name": "R"}
            await bot.ask(command(reader, "/subscribe", user_id=chat_id, language="en"), chat_id)
        admin_chat = {"id": ADMIN_ID, "type": "private", "first_name": "Editor"}
        [queued] = await bot.ask(
            command(admin_chat, "/repost 2026-11-22-story", user_id=ADMIN_ID, language="en"),
            ADMIN_ID,
        )
        assert queued == "Reposting 2026-11-22-story to 3 chat(s)."
        await until(
            lambda: any(
                c["text"].endswith("3/3 sent · 0 failed") for c in bot.api.calls("editMessageText")
            ),
            timeout_s=20,
        )
        assert {int(c["chat_id"]) for c in bot.api.calls("sendPhoto")} == {301, 302, 303}


async def test_admin_notices_go_to_the_notify_chat(tmp_path: Path) -> None:
    """A notice (a refused file, a burst, a dead delivery) is sent to telegram.notify_chat."""
    async with live(tmp_path, notify_chat=-4242) as bot:
        bot.chats.notify("refused posts/x.md:3: invalid YAML")
        await until(lambda: bot.replies(-4242) == ["sokbo: refused posts/x.md:3: invalid YAML"])


STORM = 45  # readers at once: well past Telegram's 30 messages a second


async def test_a_crowd_subscribing_at_once_all_get_their_answer(tmp_path: Path) -> None:
    """45 readers send /subscribe in the same instant: all subscribed, all answered, no 429."""
    async with live(tmp_path) as bot:
        readers = range(5001, 5001 + STORM)
        for reader in readers:
            chat = {"id": reader, "type": "private", "first_name": "Reader"}
            bot.api.push_update(command(chat, "/subscribe", user_id=reader))
        await until(lambda: all(bot.replies(r) for r in readers), timeout_s=30)
        assert all(bot.replies(r) == ["이 채팅에서 모든 새 글을 알려 드립니다."] for r in readers)
        assert bot.api.limited == 0
        subscribed = rows(bot.database, "SELECT COUNT(*) FROM targets WHERE is_active = 1")
        assert subscribed == [(STORM,)]


async def test_commands_during_a_fan_out_are_answered_first(tmp_path: Path) -> None:
    """A post going to 45 chats while 10 of them ask /latest: every push and reply, no 429."""
    async with live(tmp_path) as bot:
        chats = list(range(6001, 6001 + STORM))
        for chat in chats:
            await bot.storage.chats.subscribe(
                NAME, str(chat), (), now=SystemClock().now(), kind="private"
            )
        now = SystemClock().now()
        fresh = Record(post("2026-11-22-wave", at=now, image_url="https://img.example.com/w.jpg"),
                       PostState.PUBLISHED, first_seen=now, is_alerted=True, pushed_at=now)  # fmt: skip
        await bot.storage.archive.record_scan(
            Plan(records=(fresh,), pushes=(NewPush("2026-11-22-wave", PushKind.ALERT),)),
            (),
            now=now,
            site=None,
        )
        bot.chats.commands.nudge()
        askers = chats[-10:]  # the last in line for the push
        for chat in askers:
            asking = {"id": chat, "type": "private", "first_name": "Reader"}
            bot.api.push_update(command(asking, "/latest 1", user_id=chat, language="en"))
        await until(lambda: all(bot.replies(c) for c in askers), timeout_s=30)
        await until(lambda: len(bot.api.calls("sendPhoto")) >= STORM, timeout_s=30)
        assert all(bot.replies(c)[0].startswith("Latest posts:") for c in askers)
        photos = sorted(int(call["chat_id"]) for call in bot.api.calls("sendPhoto"))
        assert photos == chats  # every chat once
        assert bot.api.limited == 0
        # Replies went ahead: each asker had its answer before its push.
        order = [(name, int(params["chat_id"])) for name, params in bot.api.requests
                 if name in ("sendMessage", "sendPhoto")]  # fmt: skip
        for chat in askers:
            assert order.index(("sendMessage", chat)) < order.index(("sendPhoto", chat))


async def test_a_menu_the_api_refuses_leaves_the_commands_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """setMyCommands answered 500 at start: one warning, and typed commands are answered."""
    async with live(tmp_path, refused_methods=frozenset({"setMyCommands"})) as bot:
        assert await bot.ask(command(PRIVATE, "/subscribe"), 111) == [
            "이 채팅에서 모든 새 글을 알려 드립니다."
        ]
    assert [r.getMessage() for r in caplog.records if "menu" in r.getMessage()] == [
        "telegram: command menu not registered: Internal Server Error"
    ]
