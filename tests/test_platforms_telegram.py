"""The Telegram platform: the real python-telegram-bot against the fake Bot API over HTTP."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
from bot.model import (
    Message,
    MessageRef,
    NewPush,
    Post,
    PostState,
    PushKind,
    Record,
    TelegramOptions,
)
from bot.platforms.telegram import plugin as telegram_plugin
from bot.platforms.telegram.send import NAME, TelegramPlatform, translate
from bot.publish import Plan
from bot.render.message import to_message
from bot.render.telegram import render, render_delete, render_edit
from bot.sqlite import open_sqlite
from bot.storage import Storage
from tests.fake_telegram import FakeTelegram, Sent
from tests.fakes import deliver_until_done
from tests.telegram_html import visible_text
from tests.test_publish import post
from tests.test_store import rows

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DEFAULTS = TelegramOptions()


def on_the_wire(params: dict[str, Any], **uploaded: str) -> dict[str, Any]:
    """Rendered `params` as the fake decodes the form the library sends: strings and objects as
    they are, numbers and flags as JSON text; `uploaded` stands in for the `attach://` image."""
    sent = {**params, **uploaded}
    return {name: v if isinstance(v, str | dict) else json.dumps(v) for name, v in sent.items()}


def with_media(params: dict[str, Any], media: str) -> dict[str, Any]:
    """editMessageMedia's `params` with its `attach://` image replaced by `media`."""
    return {**params, "media": {**params["media"], "media": media}}


@dataclass
class Wire:
    """The fake Bot API, storage, and delivery through the real library."""

    api: FakeTelegram
    storage: Storage
    delivery: Delivery
    database: Path
    clock: SystemClock
    config: Config

    async def publish(
        self, key: str, *, kind: PushKind = PushKind.ALERT, **changes: object
    ) -> Post:
        """Record post `key` (changes applied), queue a push of it, and return it."""
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
        return record.post

    def message(self, post: Post, kind: PushKind = PushKind.ALERT) -> Message:
        """What delivery renders for `post` in a chat of the default language."""
        return to_message(post, kind=kind, site=self.config.site, language=self.config.bot.language)

    def message_in(self, chat_id: int) -> Sent:
        """The one message chat `chat_id` shows."""
        [shown] = [sent for sent in self.api.messages.values() if sent.chat_id == chat_id]
        return shown

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
            listed = telegram_plugin(config, clock).static_chats()
            await storage.chats.apply_static(listed, platforms=[NAME], now=clock.now())
            platform = TelegramPlatform(bot, config.telegram, clock)
            delivery = Delivery(storage, {NAME: platform}, config, clock, rng=random.Random(3))
            yield Wire(api, storage, delivery, database, clock, config)
    finally:
        await api.stop()


async def test_a_post_arrives_as_a_photo_with_caption_and_button(tmp_path: Path) -> None:
    """sendPhoto exactly as rendered: the image URL, an HTML caption, a Read more button."""
    async with wire(tmp_path) as w:
        await w.chat(111)
        posted = await w.publish(
            "2024-07-13-2925", title="한미동맹 <속보>", excerpt="여야 모두 지지."
        )
        await w.deliver_all()
        [call] = w.api.calls("sendPhoto")
        assert call == on_the_wire(render(w.message(posted)).params(111, DEFAULTS))
        assert call["photo"] == "https://img.example.com/a.jpg"
        assert visible_text(call["caption"]) == "한미동맹 <속보>\n\n여야 모두 지지.\n\n#정치"
        assert w.statuses() == [("111", "sent")]
        [delivered] = await w.storage.outbox.deliveries(key="2024-07-13-2925")
        message_id = w.message_in(111).message_id  # a correction edits this photo's caption
        assert delivered.ref == MessageRef(NAME, "111", message_id, "https://img.example.com/a.jpg")


async def test_a_text_post_with_a_preview_in_a_chat_a_topic_and_a_quiet_chat(
    tmp_path: Path,
) -> None:
    """No image: sendMessage as rendered for each chat's options: a link preview by default,
    the channel's topic without a sound, no preview where the channel turned it off."""
    channels = [
        {"chat_id": -1001, "thread_id": 7, "silent": True},
        {"chat_id": -1002, "link_preview": False},
    ]
    async with wire(tmp_path, channels=channels) as w:
        await w.chat(5)
        rendered = render(w.message(await w.publish("text-only", image_url=None)))
        await w.deliver_all()
        calls = {call["chat_id"]: call for call in w.api.calls("sendMessage")}
        topic = TelegramOptions(thread_id=7, is_silent=True)
        assert calls == {
            "5": on_the_wire(rendered.params(5, DEFAULTS)),
            "-1001": on_the_wire(rendered.params(-1001, topic)),
            "-1002": on_the_wire(rendered.params(-1002, TelegramOptions(link_preview=False))),
        }
        assert calls["5"]["link_preview_options"] == {
            "url": "https://news.example.com/text-only/",
            "prefer_large_media": True,
        }
        assert (calls["-1001"]["message_thread_id"], calls["-1001"]["disable_notification"]) == (
            "7",
            "true",
        )
        assert calls["-1002"]["link_preview_options"] == {"is_disabled": True}


async def test_a_local_image_is_uploaded_once_and_reused(tmp_path: Path) -> None:
    """The first chat gets the file uploaded, every other chat its file_id; else as rendered."""
    image = tmp_path / "banner.png"
    image.write_bytes(PNG)
    async with wire(tmp_path) as w:
        for chat_id in (1, 2, 3):
            await w.chat(chat_id)
        rendered = render(w.message(await w.publish("local", image_file=str(image))))
        await w.deliver_all()
        expected = {chat: rendered.params(chat, DEFAULTS) for chat in (1, 2, 3)}
        assert expected[1]["photo"] == f"attach://{image}"
        [first, *others] = w.api.calls("sendPhoto")
        uploader = int(first["chat_id"])
        assert first == on_the_wire(expected.pop(uploader), photo="upload:banner.png")
        assert w.api.uploads == {"banner.png": PNG}
        file_id = w.message_in(uploader).photo
        assert file_id is not None
        assert file_id.startswith("AgAC-uploaded-")
        assert {int(call["chat_id"]): call for call in others} == {
            chat: on_the_wire(params, photo=file_id) for chat, params in expected.items()
        }


async def test_a_refused_image_falls_back_to_text(tmp_path: Path) -> None:
    """When Telegram cannot fetch the image, the same post goes as rendered without it."""
    async with wire(tmp_path) as w:
        w.api.refused_photos["https://img.example.com/a.jpg"] = (
            "Bad Request: failed to get HTTP URL content"
        )
        await w.chat(5)
        message = w.message(await w.publish("no-image"))
        await w.deliver_all()
        assert w.api.calls("sendPhoto") == [on_the_wire(render(message).params(5, DEFAULTS))]
        [text] = w.api.calls("sendMessage")
        assert text == on_the_wire(render(message, with_photo=False).params(5, DEFAULTS))
        assert visible_text(text["text"]).startswith("Title no-image")
        assert w.statuses() == [("5", "sent")]
        [delivered] = await w.storage.outbox.deliveries(key="no-image")
        assert delivered.ref is not None
        assert delivered.ref.photo is None  # a text message: a correction edits its text


async def test_corrections_edit_and_retractions_delete(tmp_path: Path) -> None:
    """A correction edits the caption as rendered; unchanged content is fine; a retraction
    deletes the message as rendered."""
    async with wire(tmp_path) as w:
        await w.chat(9)
        await w.publish("story")
        await w.deliver_all()
        message_id = w.message_in(9).message_id
        corrected = await w.publish("story", kind=PushKind.CORRECTION, title="Story (corrected)")
        await w.deliver_all()
        method, params = render_edit(
            w.message(corrected, PushKind.CORRECTION), 9, message_id=message_id,
            shown="https://img.example.com/a.jpg",
        )  # fmt: skip
        assert method == "editMessageCaption"
        assert w.api.calls(method) == [on_the_wire(params)]
        assert visible_text(params["caption"]).startswith("Story (corrected)\n\n")
        await w.publish(
            "story", kind=PushKind.CORRECTION, title="Story (corrected)"
        )  # not modified
        await w.storage.outbox.queue("story", PushKind.RETRACTION, now=w.clock.now())
        await w.deliver_all()
        method, params = render_delete(9, message_id=message_id)
        assert w.api.calls(method) == [on_the_wire(params)]
        assert w.api.messages == {}
        assert [status for _, status in w.statuses()] == ["sent", "sent", "sent", "sent"]


async def test_a_correction_of_a_text_message_edits_its_text(tmp_path: Path) -> None:
    """A message sent as text stays text: editMessageText as rendered, even if an image came."""
    async with wire(tmp_path) as w:
        await w.chat(4)
        await w.publish("plain", image_url=None)
        await w.deliver_all()
        corrected = await w.publish(
            "plain",
            kind=PushKind.CORRECTION,
            title="Plain (corrected)",
            image_url="https://img.example.com/b.jpg",
        )
        await w.deliver_all()
        method, params = render_edit(
            w.message(corrected, PushKind.CORRECTION), 4, message_id=w.message_in(4).message_id,
            shown=None,
        )  # fmt: skip
        assert method == "editMessageText"
        assert w.api.calls(method) == [on_the_wire(params)]
        assert visible_text(w.message_in(4).text).startswith("Plain (corrected)")
        assert w.message_in(4).photo is None


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
    """When the image changed, editMessageMedia as rendered replaces the photo, caption and all."""
    async with wire(tmp_path) as w:
        await w.chat(12)
        await w.publish("pic")
        await w.deliver_all()
        corrected = await w.publish(
            "pic",
            kind=PushKind.CORRECTION,
            image_url="https://img.example.com/new.jpg",
            title="New picture",
        )
        await w.deliver_all()
        method, params = render_edit(
            w.message(corrected, PushKind.CORRECTION), 12, message_id=w.message_in(12).message_id,
            shown="https://img.example.com/a.jpg",
        )  # fmt: skip
        assert method == "editMessageMedia"
        assert w.api.calls(method) == [on_the_wire(params)]
        assert params["media"]["media"] == "https://img.example.com/new.jpg"
        assert visible_text(params["media"]["caption"]).startswith("New picture")
        assert w.message_in(12).photo == "https://img.example.com/new.jpg"
        assert w.api.calls("editMessageCaption") == []


async def test_a_new_local_image_is_uploaded_once_for_every_edit(tmp_path: Path) -> None:
    """A correction to a local image uploads it with the first edit (attach://, as InputMedia
    takes files) and gives the others its file_id; else the edits are as rendered."""
    image = tmp_path / "new.png"
    image.write_bytes(PNG)
    async with wire(tmp_path) as w:
        for chat_id in (21, 22):
            await w.chat(chat_id)
        await w.publish("pic")
        await w.deliver_all()
        corrected = await w.publish("pic", kind=PushKind.CORRECTION, image_file=str(image))
        await w.deliver_all()
        message = w.message(corrected, PushKind.CORRECTION)
        [first, second] = w.api.calls("editMessageMedia")
        rendered = {
            chat: render_edit(message, chat, message_id=w.message_in(chat).message_id,
                              shown="https://img.example.com/a.jpg")[1]
            for chat in (21, 22)
        }  # fmt: skip
        assert rendered[21]["media"]["media"] == f"attach://{image}"
        uploaded = int(first["chat_id"])
        assert first == on_the_wire(with_media(rendered[uploaded], "upload:new.png"))
        assert w.api.uploads == {"new.png": PNG}
        file_id = w.message_in(uploaded).photo
        assert file_id is not None
        assert file_id.startswith("AgAC-uploaded-")
        assert second == on_the_wire(with_media(rendered[int(second["chat_id"])], file_id))
        assert {sent.photo for sent in w.api.messages.values()} == {file_id}


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


async def test_the_probe_tells_an_outage_from_an_answer(tmp_path: Path) -> None:
    """getMe answered: the platform is up; a 502 for everything: a Transient the probe raises."""
    async with wire(tmp_path) as w:
        platform = w.delivery.platforms[NAME]
        await platform.probe()
        w.api.is_down = True
        with pytest.raises(Transient):
            await platform.probe()
        w.api.is_down = False
        await platform.probe()
        assert [method for method, _ in w.api.requests].count("getMe") >= 3
