"""The Telegram platform: the real python-telegram-bot against the fake Bot API over HTTP."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.clock import SystemClock
from bot.config import Config, SiteConfig, TelegramSettings
from bot.delivery import Delivery
from bot.errors import (
    MessageGone,
    RateLimited,
    Rejected,
    SendError,
    TargetGone,
    TargetMoved,
    Transient,
    Unknown,
)
from bot.model import MessageRef, NewPush, PostState, PushKind, Record
from bot.platforms.telegram import NAME, TelegramPlatform, translate
from bot.publish import Plan
from bot.sqlite import open_sqlite
from bot.static_chats import static_chats
from bot.storage import Storage
from tests.fake_telegram import FakeTelegram
from tests.fakes import deliver_until_done
from tests.telegram_html import visible_text
from tests.test_publish import post
from tests.test_store import rows

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Wire:
    """The fake Bot API, storage, and delivery through the real library."""

    api: FakeTelegram
    storage: Storage
    delivery: Delivery
    database: Path
    clock: SystemClock

    async def publish(
        self, key: str, *, kind: PushKind = PushKind.ALERT, **changes: object
    ) -> None:
        """Record post `key` (changes applied) and queue a push of it."""
        now = self.clock.now()
        base = post(key, at=now, image_url="https://img.example.com/a.jpg", categories=("정치",))
        fields = {**{f: getattr(base, f) for f in base.__slots__}, **changes}
        record = Record(
            type(base)(**fields),
            PostState.PUBLISHED,
            first_seen=now,
            is_alerted=True,
            pushed_at=now,
        )
        plan = Plan(records=(record,), pushes=(NewPush(key, kind),))
        await self.storage.archive.record_scan(plan, (), now=now, site=None)

    async def chat(self, chat_id: int, kind: str = "private") -> None:
        """Subscribe a Telegram chat to everything, as /subscribe does."""
        await self.storage.chats.subscribe(NAME, str(chat_id), (), now=self.clock.now(), kind=kind)

    def statuses(self) -> list[tuple[str, str]]:
        """(chat, status) of every outbox row."""
        query = (
            "SELECT t.address, o.status FROM outbox o JOIN targets t ON t.id = o.target_id "
            "ORDER BY o.id"
        )
        return [(str(a), str(s)) for a, s in rows(self.database, query)]

    async def deliver_all(self) -> None:
        """Run delivery until every row is finished."""
        await deliver_until_done(self.delivery, self.database)


@asynccontextmanager
async def wire(tmp_path: Path, **settings: object) -> AsyncIterator[Wire]:
    """A running fake Bot API, and sokbo's delivery talking to it through python-telegram-bot.

    `settings` are `[telegram]`'s; its channels are subscribed first, as the service does.
    """
    api = FakeTelegram()
    await api.start()
    clock = SystemClock()
    config = Config(
        site=SiteConfig(url="https://news.example.com"),
        telegram=TelegramSettings.model_validate(settings),
    )
    bot = Bot(api.token, base_url=api.url, base_file_url=api.url.replace("/bot", "/file/bot"))
    database = tmp_path / "s.db"
    try:
        async with bot, open_sqlite(database) as storage:
            listed = static_chats(config, platforms=[NAME])
            await storage.chats.apply_static(listed, platforms=[NAME], now=clock.now())
            platform = TelegramPlatform(bot, config.telegram, clock)
            delivery = Delivery(storage, {NAME: platform}, config, clock, rng=random.Random(3))
            yield Wire(api, storage, delivery, database, clock)
    finally:
        await api.stop()


async def test_a_post_arrives_as_a_photo_with_caption_and_button(tmp_path: Path) -> None:
    """sendPhoto with the image URL, an HTML caption Telegram accepts, and a Read more button."""
    async with wire(tmp_path) as w:
        await w.chat(111)
        await w.publish("2024-07-13-2925", title="한미동맹 <속보>", excerpt="여야 모두 지지.")
        await w.deliver_all()
        [call] = w.api.calls("sendPhoto")
        assert call["chat_id"] == "111"
        assert call["photo"] == "https://img.example.com/a.jpg"
        assert call["parse_mode"] == "HTML"
        assert visible_text(call["caption"]) == "한미동맹 <속보>\n\n여야 모두 지지.\n\n#정치"
        assert call["reply_markup"] == {
            "inline_keyboard": [
                [{"text": "기사 보기", "url": "https://news.example.com/2024-07-13-2925/"}]
            ]
        }
        assert w.statuses() == [("111", "sent")]
        [(_, message_id)] = w.api.messages  # a correction edits this photo's caption
        [delivered] = await w.storage.outbox.deliveries(key="2024-07-13-2925")
        assert delivered.ref == MessageRef(NAME, "111", message_id, "https://img.example.com/a.jpg")


async def test_a_text_post_in_a_forum_topic_silently(tmp_path: Path) -> None:
    """No image: sendMessage with a link preview, into the channel's topic, without a sound;
    a channel set without link previews gets none."""
    channels = [
        {"chat_id": -1001, "thread_id": 7, "silent": True},
        {"chat_id": -1002, "link_preview": False},
    ]
    async with wire(tmp_path, channels=channels) as w:
        await w.publish("text-only", image_url=None)
        await w.deliver_all()
        calls = {call["chat_id"]: call for call in w.api.calls("sendMessage")}
        assert set(calls) == {"-1001", "-1002"}
        topic = calls["-1001"]
        assert (topic["message_thread_id"], topic["disable_notification"]) == ("7", "true")
        assert topic["link_preview_options"] == {
            "url": "https://news.example.com/text-only/",
            "prefer_large_media": True,
        }
        plain = calls["-1002"]
        assert "message_thread_id" not in plain
        assert plain.get("disable_notification", "false") == "false"
        assert plain["link_preview_options"] == {"is_disabled": True}


async def test_a_local_image_is_uploaded_once_and_reused(tmp_path: Path) -> None:
    """The first chat gets an upload; every other chat gets the same file_id."""
    image = tmp_path / "banner.png"
    image.write_bytes(PNG)
    async with wire(tmp_path) as w:
        for chat_id in (1, 2, 3):
            await w.chat(chat_id)
        await w.publish("local", image_file=str(image))
        await w.deliver_all()
        photos = [call["photo"] for call in w.api.calls("sendPhoto")]
        assert photos[0].startswith("upload:")
        assert len(w.api.uploads) == 1
        assert photos[1] == photos[2]
        assert photos[1].startswith("AgAC-uploaded-")


async def test_a_refused_image_falls_back_to_text(tmp_path: Path) -> None:
    """When Telegram cannot fetch the image, the same post goes as text."""
    async with wire(tmp_path) as w:
        w.api.refused_photos["https://img.example.com/a.jpg"] = (
            "Bad Request: failed to get HTTP URL content"
        )
        await w.chat(5)
        await w.publish("no-image")
        await w.deliver_all()
        assert len(w.api.calls("sendPhoto")) == 1
        [text] = w.api.calls("sendMessage")
        assert visible_text(text["text"]).startswith("Title no-image")
        assert w.statuses() == [("5", "sent")]
        [delivered] = await w.storage.outbox.deliveries(key="no-image")
        assert delivered.ref is not None
        assert delivered.ref.photo is None  # a text message: a correction edits its text


async def test_corrections_edit_and_retractions_delete(tmp_path: Path) -> None:
    """A correction edits the caption; unchanged content is fine; a retraction deletes it."""
    async with wire(tmp_path) as w:
        await w.chat(9)
        await w.publish("story")
        await w.deliver_all()
        await w.publish("story", kind=PushKind.CORRECTION, title="Story (corrected)")
        await w.deliver_all()
        [edit] = w.api.calls("editMessageCaption")
        assert visible_text(edit["caption"]).startswith("Story (corrected)\n\n")
        await w.publish(
            "story", kind=PushKind.CORRECTION, title="Story (corrected)"
        )  # not modified
        await w.storage.outbox.queue("story", PushKind.RETRACTION, now=w.clock.now())
        await w.deliver_all()
        assert len(w.api.calls("deleteMessage")) == 1
        assert w.api.messages == {}
        assert [status for _, status in w.statuses()] == ["sent", "sent", "sent", "sent"]


async def test_a_blocked_chat_is_deactivated_and_a_migrated_group_followed(tmp_path: Path) -> None:
    """403 deactivates the chat; a group upgraded to a supergroup is followed to its new id."""
    async with wire(tmp_path) as w:
        await w.chat(77)
        await w.chat(-55, "group")
        w.api.fail(77, 403, "Forbidden: bot was blocked by the user")
        w.api.fail(
            -55,
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=-1009,
        )
        await w.publish("news")
        await w.deliver_all()
        assert rows(w.database, "SELECT address, is_active FROM targets ORDER BY id") == [
            ("77", 0),
            ("-1009", 1),
        ]
        assert [call["chat_id"] for call in w.api.calls("sendPhoto")] == ["77", "-55", "-1009"]
        assert w.statuses() == [("77", "rejected"), ("-1009", "sent")]


async def test_a_429_storm_and_5xx_still_deliver_everything_in_order(tmp_path: Path) -> None:
    """Rate limits are waited out and server errors retried: each chat gets every post, in order."""
    async with wire(tmp_path) as w:
        for chat_id in range(1, 6):
            await w.chat(chat_id)
        w.api.fail(2, 429, "Too Many Requests: retry after 1", retry_after=1)
        w.api.fail(3, 502, "Bad Gateway")
        w.api.fail(3, 500, "Internal Server Error")
        for key in ("first", "second", "third"):
            await w.publish(key)
        await w.deliver_all()
        for chat_id in range(1, 6):
            delivered = [w.api.messages[k].text for k in sorted(w.api.messages) if k[0] == chat_id]
            assert [visible_text(text).split("\n")[0] for text in delivered] == [
                "Title first",
                "Title second",
                "Title third",
            ]
        assert {status for _, status in w.statuses()} == {"sent"}
        overall = rows(w.database, "SELECT MAX(attempts) FROM outbox")[0][0]
        assert overall == 3  # chat 3: two server errors, then sent; the 429 was not counted
        sent_at = [
            datetime.fromisoformat(str(at))
            for (at,) in rows(w.database, "SELECT sent_at FROM outbox ORDER BY sent_at")
        ]
        assert max(sent_at) - min(sent_at) < timedelta(seconds=30)


async def test_a_correction_with_a_new_image_edits_the_media(tmp_path: Path) -> None:
    """When the image changed, the photo is replaced with editMessageMedia, caption and all."""
    async with wire(tmp_path) as w:
        await w.chat(12)
        await w.publish("pic")
        await w.deliver_all()
        await w.publish(
            "pic",
            kind=PushKind.CORRECTION,
            image_url="https://img.example.com/new.jpg",
            title="New picture",
        )
        await w.deliver_all()
        [edit] = w.api.calls("editMessageMedia")
        assert edit["media"]["media"] == "https://img.example.com/new.jpg"
        assert visible_text(edit["media"]["caption"]).startswith("New picture")
        [shown] = w.api.messages.values()
        assert shown.photo == "https://img.example.com/new.jpg"
        assert w.api.calls("editMessageCaption") == []


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RetryAfter(timedelta(seconds=7)), RateLimited),
        (Forbidden("Forbidden: bot was blocked by the user"), TargetGone),
        (BadRequest("Bad Request: chat not found"), TargetGone),
        (BadRequest("Bad Request: can't parse entities"), Rejected),
        (BadRequest("Bad Request: message to edit not found"), MessageGone),
        (BadRequest("Bad Request: message can't be deleted for everyone"), MessageGone),
        (ChatMigrated(-1009), TargetMoved),
        (TimedOut(), Unknown),
        (NetworkError("Bad Gateway"), Transient),
    ],
)
def test_library_errors_are_translated_by_kind(error: TelegramError, kind: type[SendError]) -> None:
    """Each python-telegram-bot error maps to what delivery does; BadRequest before NetworkError."""
    translated = translate(error)
    assert type(translated) is kind
    if isinstance(translated, RateLimited):
        assert translated.after == timedelta(seconds=7)
    if isinstance(translated, TargetMoved):
        assert translated.address == "-1009"
