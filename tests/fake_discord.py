"""A fake Discord REST API on 127.0.0.1 for discord.py's HTTP client (messages, edits, deletes).

It records every request, enforces the embed limits with Discord's error shape, and can be
scripted to answer 403/404 for a channel, 429 (with `retry_after` and a `Via` header, as
discord.py expects) or 5xx.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, web

BOT_USER = {"id": "4242", "username": "sokbo", "discriminator": "0", "avatar": None, "bot": True,
            "global_name": None, "flags": 0}  # fmt: skip
LIMITS = {"title": 256, "description": 4096}


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
    _runner: web.AppRunner | None = None
    api_url: str = ""

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._me)
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

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, channel: str, status: int, body: dict[str, Any]) -> None:
        """Answer the next request for `channel` with this error."""
        self.errors.setdefault(channel, []).append((status, body))

    def bodies(self, method: str) -> list[dict[str, Any]]:
        """The JSON bodies of every request with this HTTP method, in order."""
        return [body for verb, _, body in self.requests if verb == method]

    async def _record(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return {}, _json({"message": "401: Unauthorized", "code": 0}, status=401)
        body = await _body(request, self.uploads)
        self.requests.append((request.method, request.path, body))
        queued = self.errors.get(request.match_info.get("channel", ""))
        if queued:
            status, error = queued.pop(0)
            headers = {"Via": "1.1 google"} if status == 429 else {}
            return body, _json(error, status=status, headers=headers)
        return body, None

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
        if (invalid := _check_embeds(body)) is not None:
            return invalid
        message = self._message(request.match_info["channel"], body)
        self.messages[int(message["id"])] = message
        return _json(message)

    async def _edit(self, request: web.Request) -> web.Response:
        body, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        message = self.messages.get(int(request.match_info["message"]))
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        if (invalid := _check_embeds(body)) is not None:
            return invalid
        message["embeds"] = body.get("embeds", message["embeds"])
        message["edited_timestamp"] = datetime.now(UTC).isoformat()
        return _json(message)

    async def _delete(self, request: web.Request) -> web.Response:
        _, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        if self.messages.pop(int(request.match_info["message"]), None) is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return web.Response(status=204)

    def _message(self, channel: str, body: dict[str, Any]) -> dict[str, Any]:
        attachments = [{"id": str(next(self._ids)), "filename": name, "size": len(data),
                        "url": f"https://cdn.example/{name}", "proxy_url": f"https://cdn.example/{name}"}
                       for name, data in self.uploads.items()]  # fmt: skip
        return {
            "id": str(next(self._ids)), "channel_id": channel, "type": 0, "content": body.get("content") or "",
            "author": BOT_USER, "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": attachments, "embeds": body.get("embeds", []), "pinned": False, "flags": 0,
            "components": body.get("components", []), "allowed_mentions": body.get("allowed_mentions"),
        }  # fmt: skip


def _check_embeds(body: dict[str, Any]) -> web.Response | None:
    """400 with Discord's error shape when an embed is over a limit."""
    for index, embed in enumerate(body.get("embeds", [])):
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


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON exactly as discord.py checks for it: `Content-Type: application/json`, no charset."""
    return web.Response(
        body=json.dumps(data).encode(), status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip


async def _body(request: web.Request, uploads: dict[str, bytes]) -> dict[str, Any]:
    if request.method in ("GET", "DELETE") or not request.can_read_body:
        return {}
    if request.content_type.startswith("multipart/"):
        body: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                body.update(json.loads(await part.text()))
            elif part.filename:
                uploads[part.filename] = bytes(await part.read())
        return body
    parsed: dict[str, Any] = await request.json()
    return parsed
