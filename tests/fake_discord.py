"""A fake Discord on 127.0.0.1 for discord.py: REST (messages, commands, interactions) and gateway.

It records every request, enforces the embed limits with Discord's error shape, channel access
(403 Missing Permissions, 404 Unknown Channel), 50 requests a second, a channel's message limit
(5 per 5 s) and an announcement channel's publish limit, answering 429 with `retry_after` in JSON
and a `Via` header as discord.py expects; it can be scripted to answer any error for a channel.
The gateway and interactions are in `fake_discord_gateway`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from tests.fake_discord_gateway import (
    APPLICATION_ID,
    CHANNEL_TYPES,
    EVERYONE_PERMISSIONS,
    Exchange,
    Gateway,
    check_commands,
    json_response,
    snowflake,
)

BOT_USER = {"id": APPLICATION_ID, "username": "sokbo", "discriminator": "0", "avatar": None, "bot": True,
            "global_name": None, "flags": 0}  # fmt: skip
LIMITS = {"title": 256, "description": 4096}
GLOBAL_PER_S = 50  # a bot's requests in any second
CHANNEL_WINDOW_S, CHANNEL_MESSAGES = 5.0, 5  # a channel's message bucket
PUBLISH_WINDOW_S, PUBLISHES = 3600.0, 10  # an announcement channel's publish limit
T = TypeVar("T")


@dataclass
class FakeDiscord:
    """Start it, set discord.http.Route.BASE to `api_url`, script it, read `requests`."""

    token: str = "fake-discord-token"
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    _ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(9_000_000_000_000_001)
    )
    forbidden: set[str] = field(default_factory=set)  # channels the bot may not post in
    deleted: set[str] = field(default_factory=set)  # channels that no longer exist
    commands: list[dict[str, Any]] = field(default_factory=list)  # the synced slash commands
    crossposted: list[str] = field(default_factory=list)  # ids of published messages
    limited: list[str] = field(default_factory=list)  # paths answered 429 by the fake's limits
    publish_limit: int = PUBLISHES
    gateway: Gateway = field(init=False)
    _sent: dict[str, deque[float]] = field(default_factory=dict)  # recent sends per bucket
    _files: dict[int, dict[str, bytes]] = field(default_factory=dict)  # uploads per request
    _runner: web.AppRunner | None = None
    api_url: str = ""
    gateway_url: str = ""
    loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        self.gateway = Gateway(self.token, BOT_USER)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self.loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_put("/api/v10/applications/{app}/commands", self._sync)
        app.router.add_post("/api/v10/interactions/{id}/{token}/callback", self._callback)
        app.router.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        original = "/api/v10/webhooks/{app}/{token}/messages/@original"
        app.router.add_patch(original, self._edit_original)
        app.router.add_delete(original, self._delete_original)
        app.router.add_post(
            "/api/v10/channels/{channel}/messages/{message}/crosspost", self._crosspost
        )
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_post("/api/v10/channels/{channel}/messages", self._create)
        app.router.add_patch("/api/v10/channels/{channel}/messages/{message}", self._edit)
        app.router.add_delete("/api/v10/channels/{channel}/messages/{message}", self._delete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.api_url = f"http://127.0.0.1:{port}/api/v10"
        self.gateway_url = self.gateway.url = f"ws://127.0.0.1:{port}/gateway"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` in the fake's loop from another thread (when served from a thread)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=10)

    async def interact(
        self, name: str, options: dict[str, Any] | None = None, *, overridden: bool = False,
        **how: Any,
    ) -> Exchange:  # fmt: skip
        """A member runs a slash command (see Gateway.interact), if Discord shows it to them.

        `overridden`: the server opened the command to members its default permissions exclude.
        """
        command = next((c for c in self.commands if c["name"] == name), None)
        assert command is not None, f"/{name} was never registered"
        permissions = how.get("permissions", EVERYONE_PERMISSIONS)
        if how.get("guild") is not None and not overridden:
            assert self.gateway.visible_to(command, permissions), f"Discord hides /{name} here"
        return await self.gateway.interact(name, options, **how)

    async def delete_channel(self, channel: str, guild: str) -> None:
        """Delete a channel: it answers 404 from now on and the gateway says so."""
        self.deleted.add(channel)
        await self.gateway.dispatch("CHANNEL_DELETE", {"id": channel, "type": 0, "guild_id": guild,
                                                       "name": f"c{channel}", "position": 0,
                                                       "permission_overwrites": []})  # fmt: skip

    def command(self, name: str) -> dict[str, Any]:
        """A synced slash command by name."""
        return next(c for c in self.commands if c["name"] == name)

    def fail(self, channel: str, status: int, body: dict[str, Any]) -> None:
        """Answer the next request for `channel` with this error."""
        self.errors.setdefault(channel, []).append((status, body))

    def bodies(self, method: str) -> list[dict[str, Any]]:
        """The JSON bodies of every request with this HTTP method, in order."""
        return [body for verb, _, body in self.requests if verb == method]

    async def _record(
        self, request: web.Request, *, as_bot: bool = True
    ) -> tuple[dict[str, Any], web.Response | None]:
        """Record a request; refuse it as Discord would (auth, scripted, access, limits)."""
        if as_bot and request.headers.get("Authorization") != f"Bot {self.token}":
            return {}, _json({"message": "401: Unauthorized", "code": 0}, status=401)
        body, files = await _body(request)
        self._files[id(request)] = files  # this request's uploads, by file name
        self.uploads.update(files)
        self.requests.append((request.method, request.path, body))
        channel = request.match_info.get("channel", "")
        queued = self.errors.get(channel)
        if queued:
            status, error = queued.pop(0)
            headers = {"Via": "1.1 google"} if status == 429 else {}
            return body, _json(error, status=status, headers=headers)
        if as_bot and (limited := self._limit("global", GLOBAL_PER_S, 1.0, request.path)):
            return body, limited
        if channel in self.deleted:
            return body, _json({"message": "Unknown Channel", "code": 10003}, status=404)
        if channel in self.forbidden:
            return body, _json({"message": "Missing Permissions", "code": 50013}, status=403)
        return body, None

    def _limit(self, bucket: str, most: int, window_s: float, path: str) -> web.Response | None:
        """429 when `bucket` has had `most` requests within `window_s`; else count this one."""
        assert self.loop is not None
        now = self.loop.time()
        sent = self._sent.setdefault(bucket, deque())
        while sent and now - sent[0] >= window_s:
            sent.popleft()
        if len(sent) >= most:
            self.limited.append(path)
            wait = round(window_s - (now - sent[0]), 3)
            is_global = bucket == "global"
            scope = "global" if is_global else "shared"
            return _json({"message": "You are being rate limited.", "retry_after": wait, "global": is_global},
                         status=429, headers={"Via": "1.1 google", "X-RateLimit-Scope": scope})  # fmt: skip
        sent.append(now)
        return None

    async def _me(self, request: web.Request) -> web.Response:
        _, refusal = await self._record(request)
        return refusal or _json(BOT_USER)

    async def _application(self, request: web.Request) -> web.Response:
        _, refusal = await self._record(request)
        owner = {
            "id": "1",
            "username": "editor",
            "discriminator": "0",
            "avatar": None,
            "global_name": None,
        }
        application = {"id": BOT_USER["id"], "name": "sokbo", "icon": None, "description": "", "bot_public": False,
                       "bot_require_code_grant": False, "owner": owner, "verify_key": "0" * 64, "flags": 0, "team": None}  # fmt: skip
        return refusal or _json(application)

    async def _create(self, request: web.Request) -> web.Response:
        body, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        files = self._files.pop(id(request), {})
        if (invalid := _check_embeds(body, files)) is not None:
            return invalid
        channel = request.match_info["channel"]
        limited = self._limit(
            f"messages/{channel}", CHANNEL_MESSAGES, CHANNEL_WINDOW_S, request.path
        )
        if limited is not None:
            return limited
        message = self._message(channel, body, files)
        self.messages[int(message["id"])] = message
        return _json(message)

    async def _edit(self, request: web.Request) -> web.Response:
        body, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        message = self.messages.get(int(request.match_info["message"]))
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        if "attachments" in body:  # the attachments kept: those uploaded with this edit
            message["attachments"] = _attachments(self._files.pop(id(request), {}))
        kept = {a["filename"]: b"" for a in message["attachments"]}
        if (invalid := _check_embeds(body, kept)) is not None:
            return invalid
        message["embeds"] = body.get("embeds", message["embeds"])
        message["components"] = body.get("components", message["components"])
        message["edited_timestamp"] = datetime.now(UTC).isoformat()
        return _json(message)

    async def _delete(self, request: web.Request) -> web.Response:
        _, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        if self.messages.pop(int(request.match_info["message"]), None) is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return web.Response(status=204)

    async def _crosspost(self, request: web.Request) -> web.Response:
        _, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        message = self.messages.get(int(request.match_info["message"]))
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        channel = request.match_info["channel"]
        if self.gateway.channel_type(channel) not in (None, CHANNEL_TYPES["news"]):
            return _json({"message": "Cannot execute action on this channel type", "code": 50024},
                         status=400)  # fmt: skip
        limited = self._limit(
            f"publish/{channel}", self.publish_limit, PUBLISH_WINDOW_S, request.path
        )
        if limited is not None:
            return limited
        self.crossposted.append(str(message["id"]))
        message["flags"] = int(message.get("flags") or 0) | 1  # CROSSPOSTED
        return _json(message)

    async def _sync(self, request: web.Request) -> web.Response:
        body, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        commands: list[dict[str, Any]] = body  # type: ignore[assignment]
        if (problem := check_commands(commands)) is not None:
            return _json({"code": 50035, "message": f"Invalid Form Body: {problem}"}, status=400)
        self.commands = [{**c, "id": snowflake(), "application_id": APPLICATION_ID, "version": snowflake(), "type": c.get("type", 1)}
                         for c in commands]  # fmt: skip
        return _json(self.commands)

    async def _callback(self, request: web.Request) -> web.Response:
        body, refusal = await self._record(request, as_bot=False)
        if refusal is not None:
            return refusal
        token = request.match_info["token"]
        exchange = self.gateway.exchanges.get(token)
        data = body.get("data") or {}
        message = self._message(exchange.channel if exchange else "0", data)
        return self.gateway.callback(token, body, message)

    async def _followup(self, request: web.Request) -> web.Response:
        body, refusal = await self._record(request, as_bot=False)
        if refusal is not None:
            return refusal
        exchange = self.gateway.webhook(request.match_info["token"])
        if exchange is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, status=404)
        message = self._message(exchange.channel, body)
        exchange.followups.append(message)
        return _json(message)

    async def _original(
        self, request: web.Request
    ) -> tuple[dict[str, Any], Exchange | web.Response]:
        """The body, and the interaction whose reply `@original` names (or Discord's refusal)."""
        body, refusal = await self._record(request, as_bot=False)
        if refusal is not None:
            return body, refusal
        exchange = self.gateway.webhook(request.match_info["token"])
        if exchange is None or exchange.original is None or exchange.deleted_original:
            return body, _json({"message": "Unknown Message", "code": 10008}, status=404)
        return body, exchange

    async def _edit_original(self, request: web.Request) -> web.Response:
        body, found = await self._original(request)
        if isinstance(found, web.Response):
            return found
        edited = datetime.now(UTC).isoformat()
        found.original = {**(found.original or {}), **body, "edited_timestamp": edited}
        return _json(found.original)

    async def _delete_original(self, request: web.Request) -> web.Response:
        _, found = await self._original(request)
        if isinstance(found, web.Response):
            return found
        found.deleted_original = True
        return web.Response(status=204)

    def _message(
        self, channel: str, body: dict[str, Any], files: dict[str, bytes] | None = None
    ) -> dict[str, Any]:
        attachments = _attachments(files or {})
        return {
            "id": str(next(self._ids)), "channel_id": channel, "type": 0, "content": body.get("content") or "",
            "author": BOT_USER, "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": attachments, "embeds": body.get("embeds", []), "pinned": False, "flags": 0,
            "components": body.get("components", []), "allowed_mentions": body.get("allowed_mentions"),
        } | ({"flags": int(body["flags"])} if body.get("flags") else {})  # fmt: skip


def _attachments(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [{"id": snowflake(), "filename": name, "size": len(data), "url": f"https://cdn.example/{name}",
             "proxy_url": f"https://cdn.example/{name}"} for name, data in files.items()]  # fmt: skip


def _check_embeds(body: dict[str, Any], files: dict[str, bytes]) -> web.Response | None:
    """400 with Discord's error shape when an embed is over a limit.

    Stricter than Discord: an `attachment://` image that names no attachment of the message (which
    Discord would show outside the embed, or not at all) is refused too, so the bug is loud.
    """
    for index, embed in enumerate(body.get("embeds", [])):
        image = embed.get("image", {}).get("url", "")
        if image.startswith("attachment://") and image.removeprefix("attachment://") not in files:
            return _json({"code": 50035, "message": f"Invalid Form Body: no attachment {image}"},
                         status=400)  # fmt: skip
        if image.startswith("attachment://") and not image.isascii():
            return _json({"code": 50035, "message": f"Invalid Form Body: {image}"}, status=400)
        total = 0
        for name, limit in LIMITS.items():
            size = len(embed.get(name, "").encode("utf-16-le")) // 2
            total += size
            if size > limit:
                return _json(
                    {
                        "code": 50035,
                        "message": "Invalid Form Body",
                        "errors": {
                            "embeds": {
                                str(index): {
                                    name: {
                                        "_errors": [
                                            {
                                                "code": "BASE_TYPE_MAX_LENGTH",
                                                "message": f"Must be {limit} or fewer in length.",
                                            }
                                        ]
                                    }
                                }
                            }
                        },
                    },
                    status=400,
                )
        total += len(embed.get("footer", {}).get("text", "").encode("utf-16-le")) // 2
        if total > 6000:
            return _json(
                {
                    "code": 50035,
                    "message": "Invalid Form Body",
                    "errors": {
                        "embeds": {
                            "_errors": [
                                {
                                    "code": "MAX_EMBED_SIZE_EXCEEDED",
                                    "message": "Embed size exceeds maximum size of 6000",
                                }
                            ]
                        }
                    },
                },
                status=400,
            )
    return None


_json = json_response


async def _body(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON body (or a multipart's payload_json) and the files uploaded with it."""
    if request.method in ("GET", "DELETE") or not request.can_read_body:
        return {}, {}
    if request.content_type.startswith("multipart/"):
        body: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                body.update(json.loads(await part.text()))
            elif part.filename:
                files[part.filename] = bytes(await part.read())
        return body, files
    parsed: dict[str, Any] = await request.json()
    return parsed, {}
