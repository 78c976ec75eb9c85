"""The Discord platform: the real discord.py HTTP client against the fake Discord REST API.

What the fake receives is compared with the renderer's bodies: the adapter adds nothing else.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.clock import SystemClock
from bot.config import Config, SiteConfig
from bot.delivery import Delivery
from bot.errors import Transient
from bot.model import DiscordOptions, NewPush, Post, PostState, PushKind, Record
from bot.platforms.discord.send import NAME, DiscordPlatform
from bot.publish import Plan
from bot.render.discord import DiscordMessage, render
from bot.render.message import to_message
from bot.sqlite import open_sqlite
from bot.storage import StaticChat, Storage
from tests.fake_discord import FakeDiscord
from tests.fakes import deliver_until_done, until
from tests.test_publish import post
from tests.test_store import rows


@dataclass
class Guild:
    """The fake Discord, sokbo's storage, and delivery through discord.py."""

    api: FakeDiscord
    storage: Storage
    delivery: Delivery
    database: Path
    config: Config
    static: list[StaticChat] = field(default_factory=list)  # the channels "in the config"
    posts: dict[str, Post] = field(default_factory=dict)  # the last version of each post

    async def publish(
        self, key: str, *, kind: PushKind = PushKind.ALERT, **changes: object
    ) -> None:
        """Record post `key` and queue a push of it."""
        now = SystemClock().now()
        base = post(key, at=now, image_url="https://img.example.com/a.jpg")
        changed = replace(base, **changes)  # type: ignore[arg-type]
        self.posts[key] = changed
        record = Record(
            changed, PostState.PUBLISHED, first_seen=now, is_alerted=True, pushed_at=now
        )
        plan = Plan(records=(record,), pushes=(NewPush(key, kind),))
        await self.storage.archive.record_scan(plan, (), now=now, site=None)

    async def channel(self, channel_id: int, options: DiscordOptions | None = None) -> None:
        """Subscribe a Discord channel to everything: by command, or (with options) as
        `[[discord.channels]]` in the config would."""
        now = SystemClock().now()
        if options is None:
            await self.storage.chats.subscribe(NAME, str(channel_id), (), now=now, kind="text")
            return
        self.static.append(StaticChat(NAME, str(channel_id), (), None, "text", options))
        await self.storage.chats.apply_static(self.static, platforms=[NAME], now=now)

    def shown(self, key: str, **changes: object) -> DiscordMessage:
        """Post `key` as the renderer shows it to a channel, as delivery hands it over."""
        post = replace(self.posts[key], **changes)  # type: ignore[arg-type]
        site, language = self.config.site, self.config.bot.language
        return render(to_message(post, kind=PushKind.ALERT, site=site, language=language),
                      colors=COLORS)  # fmt: skip

    def sent(self, verb: str) -> list[tuple[str, dict[str, Any]]]:
        """(path, body) of every request with this HTTP method, in order."""
        return [(path, body) for method, path, body in self.api.requests if method == verb]

    def statuses(self) -> list[tuple[str, str]]:
        """(channel, status) of every outbox row."""
        query = (
            "SELECT t.address, o.status FROM outbox o JOIN targets t ON t.id = o.target_id "
            "ORDER BY o.id"
        )
        return [(str(a), str(s)) for a, s in rows(self.database, query)]

    async def deliver_all(self) -> None:
        """Run delivery until every row is finished."""
        await deliver_until_done(self.delivery, self.database)


COLORS = {"정치": 0x1A5490}


@asynccontextmanager
async def guild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Guild]:
    """A running fake Discord and sokbo's delivery talking to it through discord.py."""
    api = FakeDiscord()
    await api.start()
    monkeypatch.setattr(discord.http.Route, "BASE", api.api_url)
    client = discord.Client(intents=discord.Intents.none())
    config = Config(site=SiteConfig(url="https://news.example.com", name="Test News"))
    try:
        await client.login(api.token)
        async with open_sqlite(tmp_path / "s.db") as storage:
            platform = DiscordPlatform(client, SystemClock(), colors=COLORS)
            delivery = Delivery(
                storage, {NAME: platform}, config, SystemClock(), rng=random.Random(5)
            )
            yield Guild(api, storage, delivery, tmp_path / "s.db", config)
    finally:
        await client.close()
        await api.stop()


async def test_a_post_arrives_as_an_embed_with_a_button_and_no_mentions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The POST is the renderer's body: one embed (title, link, colour, image, footer, time),
    a link button, mentions suppressed."""
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(501)
        await g.publish(
            "story", title="속보 @everyone", excerpt="**굵게** 본문", categories=("정치",)
        )
        await g.deliver_all()
        [(path, body)] = g.sent("POST")
        assert path == "/api/v10/channels/501/messages"
        assert body == g.shown("story").payload(DiscordOptions())
        [embed] = body["embeds"]
        assert (embed["title"], embed["url"], embed["color"]) == (
            "속보 @everyone",
            "https://news.example.com/story/",
            0x1A5490,
        )
        assert embed["description"] == "\\*\\*굵게\\*\\* 본문"
        assert embed["image"] == {"url": "https://img.example.com/a.jpg"}
        assert embed["footer"] == {"text": "Test News"}
        assert body["allowed_mentions"] == {"parse": []}
        [button] = body["components"][0]["components"]
        assert (button["style"], button["url"]) == (5, "https://news.example.com/story/")
        assert g.statuses() == [("501", "sent")]


async def test_a_link_too_long_for_a_button_is_posted_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL over Discord's 512 for a button: the renderer's body, the title linked, no button."""
    url = "https://news.example.com/" + "%EC%86%8D" * 60
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(511)
        await g.publish("long", url=url)
        await g.deliver_all()
        [body] = g.api.bodies("POST")
        assert body == g.shown("long").payload(DiscordOptions())
        assert ("components" in body, body["embeds"][0]["url"]) == (False, url)
        assert g.statuses() == [("511", "sent")]


async def test_a_role_mention_and_local_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target's role is the only mention; a local image is uploaded (multipart, under an ASCII
    name) and shown by attachment://, uploaded again by a correction; an unreadable one is left
    out. Every body is the renderer's for that channel."""
    image = tmp_path / "배너 사진.PNG"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    role = DiscordOptions(mention_role=777)
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(502, role)
        assert rows(g.database, "SELECT mention_role, crosspost, is_static FROM targets") == [
            (777, 0, 1)
        ]
        await g.publish("local", image_file=str(image))
        await g.deliver_all()
        [body] = g.api.bodies("POST")  # the multipart form's payload_json
        assert body == g.shown("local").payload(role)
        assert (body["content"], body["allowed_mentions"]) == (
            "<@&777>",
            {"parse": [], "roles": ["777"]},
        )
        assert body["embeds"][0]["image"] == {"url": "attachment://image.png"}
        assert body["attachments"] == [{"id": 0, "filename": "image.png"}]
        assert g.api.uploads == {"image.png": image.read_bytes()}
        image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 32)
        await g.publish("local", kind=PushKind.CORRECTION, image_file=str(image), title="Fixed")
        await g.deliver_all()
        [edit] = g.api.bodies("PATCH")
        assert edit == g.shown("local").correction()
        [message] = g.api.messages.values()
        assert message["embeds"][0]["title"] == "Fixed"
        assert [a["filename"] for a in message["attachments"]] == ["image.png"]
        assert g.api.uploads == {"image.png": image.read_bytes()}
        image.unlink()
        await g.publish("gone", image_file=str(image), image_url="https://news.example.com/a.png")
        await g.deliver_all()
        without = g.shown("gone", image_file=None)
        assert g.api.bodies("POST")[-1] == without.payload(role)
        assert without.embed["image"] == {"url": "https://news.example.com/a.png"}
        assert [status for _, status in g.statuses()] == ["sent", "sent", "sent"]


async def test_corrections_edit_and_retractions_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correction PATCHes the renderer's correction body onto the message the alert made (its
    snowflake kept as an integer); a retraction deletes that message."""
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(503)
        await g.publish("story")
        await g.deliver_all()
        [message_id] = g.api.messages
        assert rows(g.database, "SELECT ref_address, ref_id FROM outbox") == [("503", message_id)]
        await g.publish("story", kind=PushKind.CORRECTION, title="Corrected")
        await g.deliver_all()
        message_path = f"/api/v10/channels/503/messages/{message_id}"
        assert g.sent("PATCH") == [(message_path, g.shown("story").correction())]
        assert g.api.messages[message_id]["embeds"][0]["title"] == "Corrected"
        await g.storage.outbox.queue("story", PushKind.RETRACTION, now=SystemClock().now())
        await g.deliver_all()
        assert g.sent("DELETE") == [(message_path, {})]
        assert g.api.messages == {}
        assert [status for _, status in g.statuses()] == ["sent", "sent", "sent"]


async def test_an_announcement_channel_publishes_each_post(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With crosspost the body is unchanged, then the message it made is published to followers."""
    crosspost = DiscordOptions(crosspost=True)
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(512, crosspost)
        await g.publish("story")
        await g.deliver_all()
        [body] = [body for path, body in g.sent("POST") if path.endswith("/512/messages")]
        assert body == g.shown("story").payload(crosspost)
        [message_id] = g.api.messages
        await until(lambda: g.api.crossposted == [str(message_id)])
        crossposts = [path for path, _ in g.sent("POST") if path.endswith("/crosspost")]
        assert crossposts == [f"/api/v10/channels/512/messages/{message_id}/crosspost"]


async def test_an_edit_of_a_message_deleted_by_hand_ends_that_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """404 Unknown Message on an edit finishes the correction; the channel stays subscribed."""
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(508)
        await g.publish("story")
        await g.deliver_all()
        g.api.messages.clear()  # a moderator deleted it
        await g.publish("story", kind=PushKind.CORRECTION, title="Again")
        await g.deliver_all()
        assert [status for _, status in g.statuses()] == ["sent", "sent"]
        assert len(g.api.bodies("PATCH")) == 1
        assert rows(g.database, "SELECT is_active FROM targets") == [(1,)]


async def test_a_channel_without_access_or_deleted_is_deactivated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """403 Missing Access and 404 Unknown Channel deactivate the channel."""
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(504)
        await g.channel(505)
        g.api.fail("504", 403, {"message": "Missing Access", "code": 50001})
        g.api.fail("505", 404, {"message": "Unknown Channel", "code": 10003})
        await g.publish("story")
        await g.deliver_all()
        assert rows(g.database, "SELECT address, is_active FROM targets ORDER BY id") == [
            ("504", 0),
            ("505", 0),
        ]


async def test_a_429_and_a_5xx_still_deliver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """discord.py waits out a short 429 and retries a 500 itself; a 503 comes back to sokbo,
    which retries it."""
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(506)
        await g.channel(507)
        g.api.fail(
            "506",
            429,
            {"message": "You are being rate limited.", "retry_after": 0.2, "global": False},
        )
        g.api.fail("507", 500, {"message": "Internal Server Error", "code": 0})  # library retries
        g.api.fail("507", 503, {"message": "Service Unavailable", "code": 0})  # sokbo retries
        await g.publish("story")
        await g.deliver_all()
        assert g.statuses() == [("506", "sent"), ("507", "sent")]
        posts = [path.split("/")[4] for verb, path, _ in g.api.requests if verb == "POST"]
        assert (posts.count("506"), posts.count("507")) == (2, 3)  # 429, ok; 500, 503, ok
        attempts = (
            "SELECT address, attempts FROM outbox o JOIN targets t ON t.id = o.target_id "
            "ORDER BY o.id"
        )
        assert rows(g.database, attempts) == [("506", 1), ("507", 2)]


async def test_a_429_storm_past_the_librarys_retries_is_waited_out_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """discord.py gives up after five 429s; sokbo treats that as a wait, so the post still lands."""
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(509)
        for _ in range(5):
            g.api.fail(
                "509",
                429,
                {"message": "You are being rate limited.", "retry_after": 0.01, "global": False},
            )
        await g.publish("story")
        await g.deliver_all()
        assert g.statuses() == [("509", "sent")]
        assert rows(g.database, "SELECT attempts, last_error FROM outbox") == [(1, None)]


async def test_a_message_discord_refuses_is_rejected_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 is recorded as rejected with Discord's message, not retried; the channel stays."""
    async with guild(tmp_path, monkeypatch) as g:
        await g.channel(510)
        g.api.fail("510", 400, {"message": "Invalid Form Body", "code": 50035})
        await g.publish("story")
        await g.deliver_all()
        assert rows(g.database, "SELECT status, attempts, last_error FROM outbox") == [
            ("rejected", 1, "400: Invalid Form Body")
        ]
        assert rows(g.database, "SELECT is_active FROM targets") == [(1,)]


async def test_the_probe_tells_an_outage_from_an_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`GET /users/@me` answered: Discord is up; the API gone (connection refused): Transient."""
    async with guild(tmp_path, monkeypatch) as g:
        platform = g.delivery.platforms[NAME]
        await platform.probe()
        await g.api.stop()  # nothing listens on its port any more
        with pytest.raises(Transient):
            await platform.probe()
