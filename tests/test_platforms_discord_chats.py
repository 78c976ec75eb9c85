"""Discord slash commands end to end: discord.py logs into the fake gateway; sokbo answers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from discord.state import ConnectionState
from pydantic import SecretStr

from bot.clock import SystemClock
from bot.commands import Commands
from bot.config import Config, DiscordSettings, Secrets, SiteConfig
from bot.delivery import Delivery
from bot.errors import PlatformError
from bot.model import NewPush, PostState, PushKind, Record
from bot.platforms.discord import plugin as discord_plugin
from bot.platforms.discord.chats import DEFER_AFTER_S, DiscordChats, role_ids
from bot.platforms.discord.send import NAME, DiscordPlatform, discord_client
from bot.publish import Plan
from bot.sqlite import open_sqlite
from bot.storage import Storage
from tests.fake_discord import FakeDiscord
from tests.fake_discord_gateway import EVERYONE_PERMISSIONS, MANAGE_CHANNELS, Exchange, is_ephemeral
from tests.fakes import until
from tests.test_publish import post
from tests.test_store import rows

GUILD, TEXT, NEWS, OTHER = "800", "801", "802", "803"
ADMIN, EDITOR, READER = "900", "901", "902"
EDITORS = "950"  # a role listed in admin_roles
MANAGER = EVERYONE_PERMISSIONS | MANAGE_CHANNELS


@dataclass
class Live:
    """The fake Discord, sokbo's storage, and sokbo's Discord side running."""

    api: FakeDiscord
    storage: Storage
    database: Path
    chats: DiscordChats
    clock: SystemClock
    tasks: list[asyncio.Task[None]]  # delivery and the gateway, awaited at the end

    async def ask(self, name: str, options: dict[str, Any] | None = None, **how: Any) -> Exchange:
        """Run a slash command in the server's text channel (by default) and wait for the answer."""
        how = {"channel": TEXT, "guild": GUILD, "user": READER} | how
        exchange = await self.api.interact(name, options, **how)
        await until(
            lambda: exchange.answered or exchange.choices is not None or bool(exchange.refused)
        )
        return exchange

    async def publish(self, key: str, *, alert: bool = True, **changes: object) -> None:
        """Record post `key` and queue its alert (or only record it)."""
        now = self.clock.now()
        written = post(key, at=now, **changes)  # type: ignore[arg-type]
        record = Record(
            written, PostState.PUBLISHED, first_seen=now, is_alerted=True, pushed_at=now
        )
        plan = Plan(records=(record,), pushes=(NewPush(key, PushKind.ALERT),) if alert else ())
        await self.storage.archive.record_scan(plan, (), now=now, site=None)
        self.chats.commands.nudge()

    def posted(self, channel: str) -> list[dict[str, Any]]:
        """Bodies of the messages posted to a channel."""
        return [
            body
            for verb, path, body in self.api.requests
            if verb == "POST" and path == f"/api/v10/channels/{channel}/messages"
        ]


def text(exchange: Exchange) -> str:
    """What the user reads, all messages joined, as Discord shows Markdown escapes."""
    return re.sub(r"\\(.)", r"\1", "\n".join(m["content"] for m in exchange.messages))


@asynccontextmanager
async def live(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    defer_after_s: float = DEFER_AFTER_S,
    **settings: object,
) -> AsyncIterator[Live]:
    """Run sokbo's Discord side (gateway, commands, delivery) against the fake."""
    api = FakeDiscord()
    api.gateway.add_guild(
        GUILD, {TEXT: "text", NEWS: "news", OTHER: "text"}, {EDITORS: EVERYONE_PERMISSIONS}
    )
    await api.start()
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # restored after
    websocket = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(websocket, "DEFAULT_GATEWAY", websocket.DEFAULT_GATEWAY)
    discord_settings = DiscordSettings.model_validate(
        {"api_url": api.api_url, "gateway_url": api.gateway_url, "admins": [int(ADMIN)],
         "admin_roles": [int(EDITORS)], "colors": {"정치": "#1a5490"}, **settings}
    )  # fmt: skip
    config = Config(
        site=SiteConfig(url="https://news.example.com", name="Test News"),
        discord=discord_settings,
        secrets=Secrets(discord_token=SecretStr(api.token)),
    )
    clock = SystemClock()
    stop = asyncio.Event()
    try:
        async with (
            discord_client(discord_settings, api.token) as client,
            open_sqlite(tmp_path / "s.db") as storage,
        ):
            listed = discord_plugin(config, clock).static_chats()  # `[[discord.channels]]`
            await storage.chats.apply_static(listed, platforms=[NAME], now=clock.now())
            platform = DiscordPlatform(client, clock, colors=discord_settings.color_table)
            delivery = Delivery(storage, {NAME: platform}, config, clock)
            commands = Commands(storage, config, clock, nudge=delivery.nudge)
            chats = DiscordChats(
                platform, commands, storage, config, clock, defer_after_s=defer_after_s
            )
            tasks = [asyncio.create_task(delivery.run(stop)), asyncio.create_task(chats.run(stop))]
            await until(lambda: bool(api.gateway.sessions))
            bot = Live(api, storage, tmp_path / "s.db", chats, clock, tasks)
            await bot.publish(
                "2026-11-22-story", alert=False, title="국회 본회의 통과", categories=("정치",),
                image_url="https://img.example.com/a.jpg",
            )  # fmt: skip
            try:
                yield bot
            finally:
                stop.set()
                await asyncio.gather(*tasks)
    finally:
        await api.stop()


async def test_the_bot_logs_in_without_privileged_intents_and_registers_described_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IDENTIFY asks for guilds only; every command and option is described, in Korean too."""
    async with live(tmp_path, monkeypatch) as bot:
        [identify] = bot.api.gateway.identified
        assert identify["intents"] == discord.Intents(guilds=True).value
        assert bot.api.gateway.heartbeats >= 1  # the first heartbeat goes right after HELLO
        names = {command["name"] for command in bot.api.commands}
        assert names == {"latest", "categories", "category", "subscribe", "unsubscribe",
                         "subscriptions", "help", "repost", "retract", "pause", "resume",
                         "status"}  # fmt: skip
        category = bot.api.command("category")
        assert category["description_localizations"]["ko"] == "카테고리의 최신 글"
        name_option, count_option = category["options"]
        assert (name_option["name"], name_option["required"], name_option["autocomplete"]) == (
            "name",
            True,
            True,
        )
        assert (count_option["min_value"], count_option["max_value"]) == (1, 20)
        assert count_option["description_localizations"]["ko"] == "글 수 (1-20, 기본 5)"


async def test_a_channel_manager_subscribes_and_the_next_post_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/subscribe by a member with Manage Channels; the next post lands as an embed, no mentions."""
    async with live(tmp_path, monkeypatch) as bot:
        answer = await bot.ask("subscribe", user=EDITOR, permissions=MANAGER)
        assert text(answer) == "이 채팅에서 모든 새 글을 알려 드립니다."
        assert not is_ephemeral(answer.messages[0])
        await bot.publish("2026-11-22-next", title="새 소식", categories=("정치",),
                          image_url="https://img.example.com/b.jpg")  # fmt: skip
        await until(lambda: len(bot.posted(TEXT)) == 1)
        [body] = bot.posted(TEXT)
        [embed] = body["embeds"]
        assert (embed["title"], embed["color"]) == ("새 소식", 0x1A5490)
        assert embed["image"] == {"url": "https://img.example.com/b.jpg"}
        assert (
            body["components"][0]["components"][0]["url"]
            == "https://news.example.com/2026-11-22-next/"
        )
        assert body["allowed_mentions"] == {"parse": []}
        assert rows(bot.database, "SELECT address, kind FROM targets") == [(TEXT, "text")]


async def test_subscribing_needs_manage_channels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord hides /subscribe from members without the permission; sokbo checks it again."""
    async with live(tmp_path, monkeypatch) as bot:
        subscribe = bot.api.command("subscribe")
        assert not bot.api.gateway.visible_to(subscribe, EVERYONE_PERMISSIONS)
        assert bot.api.gateway.visible_to(subscribe, MANAGER)
        answer = await bot.ask(
            "subscribe", user=READER, permissions=EVERYONE_PERMISSIONS, overridden=True
        )  # the server opened /subscribe to everyone
        assert text(answer) == "그룹에서는 채팅 관리자만 구독을 바꿀 수 있습니다."
        assert is_ephemeral(answer.messages[0])
        assert rows(bot.database, "SELECT COUNT(*) FROM subscriptions") == [(0,)]


async def test_autocomplete_offers_categories_and_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typing a category or a post offers matches; a chosen one is checked again on use."""
    async with live(tmp_path, monkeypatch) as bot:
        await bot.publish("2026-11-21-sport", title="결승전", categories=("스포츠",))
        typed = await bot.ask("category", {"name": "정"}, focused="name")
        assert typed.choices == [{"name": "정치", "value": "정치"}]
        several = await bot.ask(
            "subscribe", {"categories": "정치 스"}, focused="categories", permissions=MANAGER
        )
        assert several.choices == [{"name": "정치 스포츠", "value": "정치 스포츠"}]
        keys = await bot.ask("repost", {"post": "결승"}, focused="post", user=ADMIN)
        assert keys.choices == [{"name": "결승전 · 2026-11-21-sport", "value": "2026-11-21-sport"}]
        unknown = await bot.ask("category", {"name": "정티"})
        assert text(unknown) == "'정티' 카테고리가 없습니다.\n혹시 이것인가요? 정치"


async def test_replies_follow_the_users_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An English client gets English; listings keep links clickable without previews."""
    async with live(tmp_path, monkeypatch) as bot:
        answer = await bot.ask("latest", {"n": 3}, locale="en-US")
        lines = answer.messages[0]["content"].split("\n")
        assert lines[0] == "Latest posts:"
        assert lines[1].startswith("[")  # the title, linked
        assert lines[1].endswith("국회 본회의 통과](<https://news.example.com/2026-11-22-story/>)")
        assert lines[2].startswith("-# ")  # its date and categories, small
        assert "2026-11-22-story" not in lines[2]  # no key for a reader


async def test_admin_commands_are_for_configured_admins_and_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/status answers admins by id or role, privately; others are refused."""
    async with live(tmp_path, monkeypatch) as bot:
        refused = await bot.ask("status", user=READER, permissions=MANAGER)
        assert text(refused) == "봇 관리자만 쓸 수 있는 명령입니다."
        by_id = await bot.ask("status", user=ADMIN, locale="en-US")
        assert text(by_id).startswith("queued ")
        by_role = await bot.ask("status", user=EDITOR, roles=(EDITORS,), locale="en-US")
        assert text(by_role).startswith("queued ")
        elsewhere = await bot.ask(
            "status", user=EDITOR, roles=(EDITORS,), guild="870", channel="871"
        )
        assert text(elsewhere).startswith("대기 ")  # a server sokbo has not been sent yet
        assert all(is_ephemeral(e.messages[0]) for e in (refused, by_id, by_role, elsewhere))
        assert bot.api.command("status").get("default_member_permissions") is None  # all see it


async def test_a_typo_is_asked_about_with_buttons_and_a_press_answers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/subscribe categories:정지` subscribes nothing and asks, with buttons whose custom_id
    is a token; pressing "Yes, 정치" subscribes to 정치 and turns the question into the answer,
    without buttons; someone else's press is told it is not theirs."""
    async with live(tmp_path, monkeypatch) as bot:
        await bot.publish(
            "2026-11-22-politics", alert=False, title="정치 소식", categories=("정치",)
        )
        asked = await bot.ask(
            "subscribe", {"categories": "정지"}, permissions=MANAGER, locale="en-US"
        )
        [message] = asked.messages
        assert message["content"] == "There is no category '정지'. Subscribe to 정치 instead?"
        buttons = [item for row in message["components"] for item in row["components"]]
        assert [b["label"] for b in buttons] == ["Yes, 정치", "No, as I typed it", "Cancel"]
        assert all("정치" not in b["custom_id"] for b in buttons)
        assert await bot.storage.chats.target("discord", TEXT) is None
        other = await bot.api.gateway.press(
            message, 0, channel=TEXT, guild=GUILD, user="999", locale="en-US"
        )
        await until(lambda: other.answered)
        assert text(other) == "Only the one who asked can answer."
        pressed = await bot.api.gateway.press(
            message, 0, channel=TEXT, guild=GUILD, user=READER, permissions=MANAGER, locale="en-US"
        )
        await until(lambda: pressed.answered)
        assert pressed.callback_type == 7  # the question's own message is updated
        assert text(pressed) == "This chat now gets new posts in: 정치"
        assert pressed.messages[0]["components"] == []
        target = await bot.storage.chats.target("discord", TEXT)
        assert target is not None
        assert target.categories == ("정치",)


async def test_a_category_named_like_a_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/category name:2013 is the category 2013, not a count."""
    async with live(tmp_path, monkeypatch) as bot:
        await bot.publish("2013-05-01-archive", alert=False, title="옛 글", categories=("2013",))
        answer = await bot.ask("category", {"name": "2013"})
        title, listed, about = text(answer).split("\n")
        assert title == "2013의 최신 글:"
        assert listed == "[옛 글](<https://news.example.com/2013-05-01-archive/>)"
        assert about.startswith("-# ")
        assert about.endswith(" · 2013")


async def test_repost_reports_its_progress_by_editing_the_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin's /repost reply is edited as the push goes out: "2/2 sent · 0 failed"."""
    async with live(tmp_path, monkeypatch) as bot:
        for channel in (TEXT, OTHER):
            await bot.ask("subscribe", channel=channel, permissions=MANAGER)
        answer = await bot.ask("repost", {"post": "2026-11-22-story"}, user=ADMIN, locale="en-US")
        assert text(answer) == "Reposting 2026-11-22-story to 2 chat(s)."
        await until(lambda: text(answer).endswith("2/2 sent · 0 failed"), timeout_s=20)
        assert is_ephemeral(answer.messages[0])
        assert len(bot.posted(TEXT)) == len(bot.posted(OTHER)) == 1


async def test_slow_answers_are_deferred_and_stay_private_when_they_should(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deferred at once: the "thinking…" reply is replaced; a private answer is not left
    public."""
    async with live(tmp_path, monkeypatch, defer_after_s=0) as bot:
        listing = await bot.ask("latest")
        assert listing.callback_type == 5  # deferred
        assert text(listing).startswith("최신 글")
        assert not is_ephemeral(listing.messages[0])
        mistake = await bot.ask("category", {"name": "날씨"})
        assert (mistake.callback_type, mistake.deleted_original) == (5, True)
        [only] = mistake.messages
        assert is_ephemeral(only)
        assert text(mistake) == "'날씨' 카테고리가 없습니다.\n/categories 로 목록을 보세요."
        assert listing.refused == mistake.refused == []


async def test_an_answer_after_the_deadline_is_refused_and_the_bot_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake drops interactions not answered in time, as Discord does; the next one works."""
    async with live(tmp_path, monkeypatch) as bot:
        bot.api.gateway.deadline_s = 0.0
        late = await bot.ask("help")
        assert late.refused == [404]
        assert late.messages == []
        bot.api.gateway.deadline_s = 3.0
        assert text(await bot.ask("help")).startswith("Test News의 속보 봇입니다.")


async def test_a_deleted_channel_is_deactivated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHANNEL_DELETE on the gateway, or a 404 on the next send: that channel gets no more
    pushes."""
    async with live(tmp_path, monkeypatch) as bot:
        for channel in (TEXT, OTHER):
            await bot.ask("subscribe", channel=channel, permissions=MANAGER)
        await bot.api.delete_channel(TEXT, GUILD)
        await until(
            lambda: (
                rows(bot.database, "SELECT address FROM targets WHERE is_active = 1") == [(OTHER,)]
            )
        )
        bot.api.deleted.add(OTHER)  # deleted while sokbo was not looking: 404 Unknown Channel
        await bot.publish("2026-11-22-next")
        await until(
            lambda: rows(bot.database, "SELECT COUNT(*) FROM targets WHERE is_active = 1") == [(0,)]
        )
        assert bot.posted(TEXT) == []


async def test_removed_from_a_server_its_channels_are_deactivated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kicked from a server (GUILD_DELETE): none of its channels get pushes any more."""
    async with live(tmp_path, monkeypatch) as bot:
        for channel in (TEXT, OTHER):
            await bot.ask("subscribe", channel=channel, permissions=MANAGER)
        await bot.api.gateway.remove_from_guild(GUILD)
        active = "SELECT COUNT(*) FROM targets WHERE is_active = 1"
        await until(lambda: rows(bot.database, active) == [(0,)])


async def test_anyone_subscribes_in_a_direct_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a DM with the bot no permission is needed; pushes go to that DM channel."""
    async with live(tmp_path, monkeypatch) as bot:
        answer = await bot.ask("subscribe", {"categories": "정치"}, channel="850", guild=None,
                               permissions=0, locale="en-GB")  # fmt: skip
        assert text(answer) == "This chat now gets new posts in: 정치"
        await bot.publish("2026-11-22-next", categories=("정치",))
        await until(lambda: len(bot.posted("850")) == 1)
        assert rows(bot.database, "SELECT address, kind FROM targets") == [("850", "private")]


async def test_the_gateway_resumes_after_a_reconnect_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECONNECT closes the session; discord.py resumes at resume_gateway_url; commands still
    work."""
    async with live(tmp_path, monkeypatch) as bot:
        await bot.api.gateway.ask_to_reconnect()
        await until(lambda: bot.api.gateway.resumed == 1)
        assert len(bot.api.gateway.identified) == 1  # resumed, not a new session
        assert text(await bot.ask("help", locale="en-US")).startswith("Breaking-news alerts")


async def test_a_session_discord_ends_for_good_stops_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Close code 4004 (the token was reset): discord.py closes the client; sokbo says why."""
    async with live(tmp_path, monkeypatch) as bot:
        await bot.api.gateway.end_sessions(4004)
        gateway = bot.tasks.pop()
        with pytest.raises(PlatformError, match=r"discord: the gateway ended the session .*4004"):
            await gateway


async def test_announcement_channels_publish_until_the_limit_then_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `[[discord.channels]]` entry with crosspost publishes each push; at the publish limit
    pushes are still delivered, unpublished, and sokbo stops asking until the limit resets."""
    channels = [{"channel_id": int(NEWS), "crosspost": True}]
    async with live(tmp_path, monkeypatch, channels=channels) as bot:
        bot.api.publish_limit = 1
        assert rows(bot.database, "SELECT address, is_static, crosspost FROM targets") == [
            (NEWS, 1, 1)
        ]
        await bot.publish("2026-11-22-a")
        await until(lambda: len(bot.api.crossposted) == 1)
        await bot.publish("2026-11-22-b")
        await until(lambda: len(bot.api.limited) == 1)  # the second publish: 429, about an hour
        await bot.publish("2026-11-22-c")
        sent = "SELECT COUNT(*) FROM outbox WHERE status = 'sent'"
        await until(lambda: rows(bot.database, sent) == [(3,)], timeout_s=15)
        crossposts = [path for _, path, _ in bot.api.requests if path.endswith("/crosspost")]
        assert len(crossposts) == 2  # the third was not asked for: it was decided before sending
        assert len(bot.posted(NEWS)) == 3


async def test_admin_notices_go_to_the_notify_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notice (a refused file, a burst, a dead delivery) is posted to discord.notify_channel."""
    async with live(tmp_path, monkeypatch, notify_channel=int(OTHER)) as bot:
        bot.chats.notify("refused posts/x.md:3: invalid YAML")
        await until(lambda: len(bot.posted(OTHER)) == 1)
        [body] = bot.posted(OTHER)
        assert body["content"] == "sokbo: refused posts/x.md:3: invalid YAML"
        assert body["allowed_mentions"] == {"parse": []}


async def test_role_ids_are_read_from_the_interactions_member() -> None:
    """A member's role ids come as the interaction sent them; a user outside a server has none."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    state = ConnectionState(
        dispatch=lambda *_: None, handlers={}, hooks={}, http=http, intents=discord.Intents.none()
    )
    server: Any = {"id": "870", "name": "News", "roles": [], "channels": []}  # as the gateway
    who: Any = {
        "id": "5",
        "username": "ed",
        "discriminator": "0",
        "avatar": None,
        "global_name": None,
    }
    joined: Any = {"user": who, "roles": [EDITORS, "951"], "joined_at": None, "deaf": False,
                   "mute": False, "flags": 0}  # fmt: skip
    member = discord.Member(data=joined, guild=discord.Guild(data=server, state=state), state=state)
    try:
        assert role_ids(member) == {int(EDITORS), 951}
        assert role_ids(discord.User(state=state, data=who)) == frozenset()
    finally:
        await http.close()
