"""The fake Discord's gateway and interactions: a websocket discord.py logs into, slash commands.

The gateway speaks HELLO, IDENTIFY → READY (with a local `resume_gateway_url`) and GUILD_CREATE,
heartbeats with ACKs, RESUME → RESUMED, and dispatches INTERACTION_CREATE and CHANNEL_DELETE.
Interactions are answered by REST as on Discord: one callback within the deadline (3 s), then
edits and follow-ups through the interaction's webhook.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

APPLICATION_ID = "4242"
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content
EPHEMERAL = 1 << 6
MANAGE_CHANNELS = 1 << 4
EVERYONE_PERMISSIONS = 1 << 11 | 1 << 10  # send messages, view channel
NAME = re.compile(r"^[-_\w]{1,32}$")
CHANNEL_TYPES = {"text": 0, "dm": 1, "news": 5}
_ids = itertools.count(1_300_000_000_000_000_001)


def snowflake() -> str:
    """A fresh id."""
    return str(next(_ids))


@dataclass
class Exchange:
    """One interaction as the user sees it: the reply (or autocomplete choices) and follow-ups."""

    id: str
    token: str
    channel: str
    created: float
    callback_type: int | None = None
    original: dict[str, Any] | None = None  # the reply message, once there is one
    deleted_original: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    refused: list[int] = field(default_factory=list)  # statuses of answers Discord refused
    pressed: dict[str, Any] | None = None  # a button's message (a component interaction)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """What the user can read: the reply (unless deleted) and the follow-ups."""
        first = [] if self.original is None or self.deleted_original else [self.original]
        return first + self.followups

    @property
    def answered(self) -> bool:
        """A reply the user can read (a "thinking…" placeholder is not one)."""
        return any(message.get("content") for message in self.messages)


def is_ephemeral(message: dict[str, Any]) -> bool:
    """Whether only the caller sees the message."""
    return bool(int(message.get("flags") or 0) & EPHEMERAL)


@dataclass
class Gateway:
    """The websocket side of the fake: sessions, dispatch, and the interactions it started."""

    token: str
    bot_user: dict[str, Any]
    heartbeat_ms: int = 41_250
    deadline_s: float = 3.0  # Discord's: answer an interaction within 3 s
    guilds: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: list[web.WebSocketResponse] = field(default_factory=list)
    identified: list[dict[str, Any]] = field(default_factory=list)  # IDENTIFY payloads
    heartbeats: int = 0
    resumed: int = 0
    exchanges: dict[str, Exchange] = field(default_factory=dict)  # by token
    url: str = ""
    loop: asyncio.AbstractEventLoop | None = None
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_guild(self, guild_id: str, channels: dict[str, str], roles: dict[str, int]) -> None:
        """A server with channels (id → "text" | "news") and roles (id → permissions)."""
        self.guilds[guild_id] = _guild(guild_id, channels, roles)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One gateway connection: HELLO, then IDENTIFY or RESUME, then heartbeats."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}})
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            op, data = payload.get("op"), payload.get("d")
            if op == 1:
                self.heartbeats += 1
                await ws.send_json({"op": 11})
            elif op == 2:
                await self._identify(ws, data)
            elif op == 6:
                self.resumed += 1
                self.sessions.append(ws)
                await self._send(ws, "RESUMED", {})
        if ws in self.sessions:
            self.sessions.remove(ws)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if int(data.get("intents", 0)) & PRIVILEGED_INTENTS:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identified.append(data)
        self.sessions.append(ws)
        ready = {
            "v": 10, "user": self.bot_user, "session_id": snowflake(), "session_type": "normal",
            "resume_gateway_url": self.url, "shard": [0, 1], "private_channels": [],
            "guilds": [{"id": guild_id, "unavailable": True} for guild_id in self.guilds],
            "application": {"id": APPLICATION_ID, "flags": 0},
        }  # fmt: skip
        await self._send(ws, "READY", ready)
        for guild in self.guilds.values():
            await self._send(ws, "GUILD_CREATE", guild)

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await ws.send_json({"op": 0, "s": next(self._seq), "t": event, "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every live session."""
        for ws in list(self.sessions):
            await self._send(ws, event, data)

    async def ask_to_reconnect(self) -> None:
        """Send RECONNECT (op 7), as Discord does before it moves a session; clients resume."""
        for ws in list(self.sessions):
            await ws.send_json({"op": 7, "d": None})

    async def end_sessions(self, code: int) -> None:
        """Close every session with a close code (4004: the token was reset)."""
        for ws in list(self.sessions):
            await ws.close(code=code, message=b"Authentication failed.")

    async def remove_from_guild(self, guild_id: str) -> None:
        """The bot is kicked from a server: GUILD_DELETE without `unavailable`."""
        self.guilds.pop(guild_id)
        await self.dispatch("GUILD_DELETE", {"id": guild_id})

    async def interact(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        channel: str,
        guild: str | None = None,
        user: str = "111",
        permissions: int = EVERYONE_PERMISSIONS,
        roles: tuple[str, ...] = (),
        locale: str = "ko",
        focused: str | None = None,
    ) -> Exchange:
        """A user runs `/name options` (or types into option `focused`: autocomplete)."""
        values = [
            {"name": key, "type": _option_type(value), "value": value, **({"focused": True} if key == focused else {})}
            for key, value in (options or {}).items()
        ]  # fmt: skip
        data = {"id": snowflake(), "name": name, "type": 1, "options": values}
        return await self._interaction(
            4 if focused else 2, data, channel=channel, guild=guild, user=user,
            permissions=permissions, roles=roles, locale=locale,
        )  # fmt: skip

    async def press(
        self, message: dict[str, Any], row: int, *, channel: str, guild: str | None = None,
        user: str = "111", permissions: int = EVERYONE_PERMISSIONS, locale: str = "ko",
    ) -> Exchange:  # fmt: skip
        """A user presses the `row`th button of `message` (a component interaction)."""
        button = [item for line in message["components"] for item in line["components"]][row]
        data = {"custom_id": button["custom_id"], "component_type": 2}
        return await self._interaction(
            3, data, channel=channel, guild=guild, user=user, permissions=permissions,
            roles=(), locale=locale, pressed=message,
        )  # fmt: skip

    async def _interaction(
        self, kind: int, data: dict[str, Any], *, channel: str, guild: str | None, user: str,
        permissions: int, roles: tuple[str, ...], locale: str,
        pressed: dict[str, Any] | None = None,
    ) -> Exchange:  # fmt: skip
        """Dispatch INTERACTION_CREATE of `kind` (2 a command, 3 a button, 4 autocomplete)."""
        exchange = Exchange(snowflake(), f"token-{snowflake()}", channel, _now(), pressed=pressed)
        self.exchanges[exchange.token] = exchange
        person = {"id": user, "username": f"user{user}", "discriminator": "0", "avatar": None,
                  "global_name": None, "bot": False}  # fmt: skip
        payload: dict[str, Any] = {
            "id": exchange.id, "application_id": APPLICATION_ID, "token": exchange.token,
            "type": kind, "version": 1, "locale": locale, "data": data,
            "channel_id": channel, "app_permissions": str(EVERYONE_PERMISSIONS),
            "entitlements": [], "attachment_size_limit": 8_388_608,
            "authorizing_integration_owners": {"0": guild or "0"}, "context": 0 if guild else 1,
        }  # fmt: skip
        if guild is None:
            payload["user"] = person
            payload["channel"] = {"id": channel, "type": 1, "recipients": [person]}
        else:
            kind = self.channel_type(channel) or 0
            payload["guild_id"] = guild
            payload["guild_locale"] = "ko"
            payload["channel"] = _channel(channel, guild, kind)
            payload["member"] = {
                "user": person, "roles": list(roles), "joined_at": _iso(), "deaf": False,
                "mute": False, "flags": 0, "permissions": str(permissions), "nick": None,
                "avatar": None, "pending": False,
            }  # fmt: skip
        if pressed is not None:
            payload["message"] = pressed
        await self.dispatch("INTERACTION_CREATE", payload)
        return exchange

    def callback(self, token: str, body: dict[str, Any], message: dict[str, Any]) -> web.Response:
        """`POST /interactions/{id}/{token}/callback`: the one answer, within the deadline."""
        exchange = self.exchanges.get(token)
        if exchange is None or _now() - exchange.created > self.deadline_s:
            if exchange is not None:
                exchange.refused.append(404)
            return json_response({"message": "Unknown interaction", "code": 10062}, status=404)
        if exchange.callback_type is not None:
            exchange.refused.append(400)
            return json_response(
                {"message": "Interaction has already been acknowledged.", "code": 40060},
                status=400,
            )
        kind = int(body["type"])
        exchange.callback_type = kind
        data = body.get("data") or {}
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        answer: dict[str, Any] = {"id": exchange.id, "type": 2,
                                  "response_message_ephemeral": ephemeral}  # fmt: skip
        if kind == 8:
            exchange.choices = data.get("choices", [])
            return json_response({"interaction": answer})
        if kind == 7 and exchange.pressed is not None:  # UPDATE_MESSAGE: the pressed one
            message = {**exchange.pressed, "content": data.get("content", ""),
                       "components": data.get("components") or []}  # fmt: skip
        exchange.original = message
        answer["response_message_id"] = message["id"]
        answer["response_message_loading"] = kind == 5
        return json_response(
            {"interaction": answer, "resource": {"type": kind, "message": message}}
        )

    def webhook(self, token: str) -> Exchange | None:
        """The interaction a webhook token belongs to, once it was acknowledged."""
        exchange = self.exchanges.get(token)
        return exchange if exchange is not None and exchange.callback_type is not None else None

    def channel_type(self, channel: str) -> int | None:
        """A known channel's type (0 text, 5 announcement), None for one in no known server."""
        for guild in self.guilds.values():
            for known in guild["channels"]:
                if known["id"] == channel:
                    return int(known["type"])
        return None

    def visible_to(self, command: dict[str, Any], permissions: int) -> bool:
        """Whether Discord shows a synced command to a member with these permissions."""
        needed = command.get("default_member_permissions")
        return needed is None or int(needed) & permissions == int(needed)


def check_commands(commands: list[dict[str, Any]]) -> str | None:
    """What Discord would refuse in a command list: names, descriptions, option order."""
    for command in commands:
        if not NAME.match(command.get("name", "")) or command["name"] != command["name"].lower():
            return f"invalid command name {command.get('name')!r}"
        texts = [command.get("description", "")]
        texts += list((command.get("description_localizations") or {}).values())
        required_done = False
        for option in command.get("options", []):
            texts.append(option.get("description", ""))
            texts += list((option.get("description_localizations") or {}).values())
            if not NAME.match(option.get("name", "")):
                return f"invalid option name {option.get('name')!r}"
            if option.get("required"):
                if required_done:
                    return f"{command['name']}: required options must come first"
            else:
                required_done = True
        if any(not 1 <= len(text) <= 100 for text in texts):
            return f"{command['name']}: a description is empty or over 100 characters"
    return None


def _option_type(value: object) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    return 3


def _guild(guild_id: str, channels: dict[str, str], roles: dict[str, int]) -> dict[str, Any]:
    everyone = _role(guild_id, "@everyone", EVERYONE_PERMISSIONS)
    return {
        "id": guild_id, "name": "Newsroom", "icon": None, "owner_id": "1", "afk_timeout": 300,
        "roles": [everyone, *(_role(r, f"role{r}", p) for r, p in roles.items())],
        "channels": [_channel(c, guild_id, CHANNEL_TYPES[kind]) for c, kind in channels.items()],
        "emojis": [], "stickers": [], "features": [], "member_count": 2, "members": [],
        "voice_states": [], "presences": [], "threads": [], "stage_instances": [],
        "guild_scheduled_events": [], "soundboard_sounds": [], "unavailable": False,
        "large": False, "joined_at": _iso(), "preferred_locale": "ko", "premium_tier": 0,
        "mfa_level": 0, "verification_level": 0, "explicit_content_filter": 0,
        "default_message_notifications": 0, "system_channel_flags": 0, "nsfw_level": 0,
    }  # fmt: skip


def _role(role_id: str, name: str, permissions: int) -> dict[str, Any]:
    return {"id": role_id, "name": name, "color": 0, "hoist": False, "position": 0,
            "permissions": str(permissions), "managed": False, "mentionable": False, "flags": 0}  # fmt: skip


def _channel(channel_id: str, guild_id: str, kind: int) -> dict[str, Any]:
    return {"id": channel_id, "type": kind, "guild_id": guild_id, "name": f"c{channel_id}",
            "position": 0, "permission_overwrites": [], "parent_id": None, "nsfw": False,
            "topic": None, "last_message_id": None, "rate_limit_per_user": 0}  # fmt: skip


def _now() -> float:
    return asyncio.get_running_loop().time()


def _iso() -> str:
    return datetime.now(UTC).isoformat()


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON exactly as discord.py checks for it: `Content-Type: application/json`, no charset."""
    return web.Response(
        body=json.dumps(data).encode(), status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
