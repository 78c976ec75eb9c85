"""A fake Telegram Bot API on 127.0.0.1 that the real python-telegram-bot talks to over HTTP.

It answers what sokbo calls, records every request, checks HTML and lengths the way Telegram
does, enforces the rate limits with 429 + retry_after, and can be scripted to fail. As Telegram
does, it takes method names in any case and parameters as a query, a form, multipart with files
(a file in the `photo` field, or named by `attach://<field>` in `media`) or JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.telegram_html import ParseError, length

STRUCTURED = {
    "reply_markup",
    "link_preview_options",
    "media",
    "commands",
    "allowed_updates",
    "scope",
}
METHODS = ("getMe", "deleteWebhook", "setMyCommands", "getUpdates", "getChatMember", "sendMessage",
           "sendPhoto", "editMessageText", "editMessageCaption", "editMessageMedia", "deleteMessage",
           "answerCallbackQuery")  # fmt: skip
MAX_CALLBACK_DATA = 64  # bytes of an inline button's callback_data (Bot API)
CANONICAL = {name.lower(): name for name in METHODS}  # Bot API method names are case-insensitive
BOT = {"id": 4242, "is_bot": True, "first_name": "sokbo", "username": "sokbo_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}  # fmt: skip
IMAGE_ERRORS = ("Bad Request: wrong file identifier/HTTP URL specified",
                "Bad Request: failed to get HTTP URL content", "Bad Request: wrong type of the web page content")  # fmt: skip


@dataclass
class Sent:
    """A message the fake holds, as a chat would show it."""

    chat_id: int
    message_id: int
    text: str  # caption or text, as sent (HTML)
    photo: str | None  # URL or file_id
    params: dict[str, Any]


@dataclass
class FakeTelegram:
    """The fake Bot API: start() it, point `base_url` at `url`, script it, read `requests`."""

    token: str = "123456:TEST-token-not-real"
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: dict[tuple[int, int], Sent] = field(default_factory=dict)
    errors: dict[int, list[tuple[int, str, dict[str, Any]]]] = field(default_factory=dict)
    refused_photos: dict[str, str] = field(default_factory=dict)
    members: dict[tuple[int, int], str] = field(default_factory=dict)
    chat_types: dict[int, str] = field(default_factory=dict)
    overall_per_second: int = 30
    per_chat_interval_s: float = 1.0
    uploads: dict[str, bytes] = field(default_factory=dict)
    limited: int = 0  # messages answered 429 for going over the limits
    is_down: bool = False  # an outage: every call answered 502 Bad Gateway, as a proxy would
    refused_methods: set[str] = field(default_factory=set)  # answered 500, whatever they say
    server_errors: int = 0  # sends answered 500 or 502 by `fail_share`
    _flaky_share: float = 0.0
    _flaky_left: int = 0
    _flaky_rng: random.Random = field(default_factory=random.Random)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _recent: deque[float] = field(default_factory=deque)
    _last_by_chat: dict[int, float] = field(default_factory=dict)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/bot"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, chat_id: int, status: int, description: str, **parameters: Any) -> None:
        """Answer the next call for `chat_id` with this error."""
        self.errors.setdefault(chat_id, []).append((status, description, parameters))

    def fail_share(self, share: float, *, sends: int, seed: int = 0) -> None:
        """Answer a `share` of the next `sends` sends with 500 or 502 (a burst; seeded draws)."""
        self._flaky_share, self._flaky_left = share, sends
        self._flaky_rng = random.Random(seed)

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every call of `method`, in order."""
        return [params for name, params in self.requests if name == method]

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self._updates.append({"update_id": next(self._update_ids), **update})

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = CANONICAL.get(request.match_info["method"].lower(), request.match_info["method"])
        params = await _params(request, self.uploads)
        self.requests.append((method, params))
        if self.is_down:
            return web.Response(status=502, text="Bad Gateway")
        if method in self.refused_methods:
            return _error(500, "Internal Server Error")
        if method not in METHODS:
            return _error(404, "Not Found: method not found")
        handler = getattr(self, f"_{method}")
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    def _getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return BOT

    def _deleteWebhook(self, _params: dict[str, Any]) -> bool:
        return True

    def _setMyCommands(self, _params: dict[str, Any]) -> bool:
        return True

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0) or 0)
        deadline = time.monotonic() + min(float(params.get("timeout", 0) or 0), 1.0)
        while True:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if self._updates or time.monotonic() >= deadline:
                return list(self._updates)
            await asyncio.sleep(0.02)

    def _getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        status = self.members.get((int(params["chat_id"]), int(params["user_id"])), "member")
        user = {"id": int(params["user_id"]), "is_bot": False, "first_name": "user"}
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            member |= {"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                       "can_delete_messages": True, "can_manage_video_chats": True, "can_restrict_members": True,
                       "can_promote_members": False, "can_change_info": True, "can_invite_users": True,
                       "can_post_stories": False, "can_edit_stories": False, "can_delete_stories": False}  # fmt: skip
        return member

    def _scripted(self, chat_id: int) -> web.Response | None:
        queued = self.errors.get(chat_id)
        if queued:
            status, description, parameters = queued.pop(0)
            return _error(status, description, parameters)
        if self._flaky_left > 0:
            self._flaky_left -= 1
            if self._flaky_rng.random() < self._flaky_share:
                self.server_errors += 1
                if self.server_errors % 2:
                    return _error(500, "Internal Server Error")
                return web.Response(status=502, text="Bad Gateway")  # a proxy's page, not JSON
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        last = self._last_by_chat.get(chat_id)
        if len(self._recent) >= self.overall_per_second or (
            last is not None and now - last < self.per_chat_interval_s
        ):
            self.limited += 1
            return _error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        return None

    def _message(
        self, chat_id: int, text: str, photo: str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        now = time.monotonic()  # only messages actually sent count toward the limits
        self._recent.append(now)
        self._last_by_chat[chat_id] = now
        sent = Sent(chat_id, next(self._ids), text, photo, params)
        self.messages[(chat_id, sent.message_id)] = sent
        chat = {
            "id": chat_id,
            "type": self.chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup"),
        }
        body: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": chat,
        }
        if photo is None:
            body["text"] = text
        else:
            body["caption"] = text
            body["photo"] = [
                {"file_id": photo, "file_unique_id": photo[-16:], "width": 800, "height": 450}
            ]
        return body

    def press(self, chat_id: int, message_id: int, row: int, *, user_id: int) -> str:
        """A user presses the button on `row` of a message's inline keyboard: a callback_query
        update; return the query's id."""
        sent = self.messages[(chat_id, message_id)]
        button = sent.params["reply_markup"]["inline_keyboard"][row][0]
        query_id = str(next(self._ids))
        user = {"id": user_id, "is_bot": False, "first_name": "Reader", "language_code": "en"}
        self.push_update({
            "callback_query": {
                "id": query_id, "from": user, "chat_instance": "1",
                "message": self._message_body(sent), "data": button["callback_data"],
            }
        })  # fmt: skip
        return query_id

    def buttons(self, chat_id: int, message_id: int) -> list[str]:
        """The labels of a message's inline keyboard as it stands (none once edited away)."""
        markup = self.messages[(chat_id, message_id)].params.get("reply_markup") or {}
        return [row[0]["text"] for row in markup.get("inline_keyboard", [])]

    def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return bool(params["callback_query_id"])

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        chat_id = int(params["chat_id"])
        if (problem := self._scripted(chat_id)) is not None:
            return problem
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > MAX_CALLBACK_DATA:
                    return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        if (
            refusal := _check_html(params["text"], 4096, "Bad Request: message is too long")
        ) is not None:
            return refusal
        return self._message(chat_id, params["text"], None, params)

    def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        chat_id = int(params["chat_id"])
        if (problem := self._scripted(chat_id)) is not None:
            return problem
        caption = params.get("caption", "")
        if (
            refusal := _check_html(caption, 1024, "Bad Request: message caption is too long")
        ) is not None:
            return refusal
        photo = str(params["photo"])
        if photo in self.refused_photos:
            return _error(400, self.refused_photos[photo])
        return self._message(chat_id, caption, self._file_id(photo), params)

    def _file_id(self, photo: str) -> str:
        """What Telegram keeps of a photo: an upload gets a new file_id; a URL stays as given."""
        if photo.startswith("upload:"):
            return f"AgAC-uploaded-{len(self.uploads)}-{photo[7:]}"
        return photo

    def _edit(
        self, params: dict[str, Any], field_name: str, limit: int
    ) -> dict[str, Any] | web.Response:
        key = (int(params["chat_id"]), int(params["message_id"]))
        sent = self.messages.get(key)
        if sent is None:
            return _error(400, "Bad Request: message to edit not found")
        new = params.get(field_name, "")
        if (refusal := _check_html(new, limit, "Bad Request: message is too long")) is not None:
            return refusal
        if new == sent.text:
            return _error(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            )
        sent.text = new
        sent.params["reply_markup"] = params.get("reply_markup")  # an edit without one drops it
        return self._message_body(sent)

    def _message_body(self, sent: Sent) -> dict[str, Any]:
        chat = {"id": sent.chat_id, "type": "private" if sent.chat_id > 0 else "supergroup"}
        body: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": chat,
        }
        body["caption" if sent.photo else "text"] = sent.text
        if sent.photo:
            body["photo"] = [{"file_id": sent.photo, "file_unique_id": sent.photo[-16:],
                              "width": 800, "height": 450}]  # fmt: skip
        return body

    def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        return self._edit(params, "text", 4096)

    def _editMessageCaption(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        return self._edit(params, "caption", 1024)

    def _editMessageMedia(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        key = (int(params["chat_id"]), int(params["message_id"]))
        sent = self.messages.get(key)
        if sent is None:
            return _error(400, "Bad Request: message to edit not found")
        media = params["media"]
        caption = media.get("caption", "")
        if (
            refusal := _check_html(caption, 1024, "Bad Request: message caption is too long")
        ) is not None:
            return refusal
        photo = str(media["media"])
        if photo.startswith("attach://"):
            return _error(400, "Bad Request: can't find the file attached as " + photo[9:])
        sent.photo, sent.text = self._file_id(photo), caption
        return self._message_body(sent)

    def _deleteMessage(self, params: dict[str, Any]) -> bool | web.Response:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if self.messages.pop(key, None) is None:
            return _error(400, "Bad Request: message to delete not found")
        return True


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _check_html(text: str, limit: int, too_long: str) -> web.Response | None:
    try:
        size = length(text)
    except ParseError as error:
        return _error(400, f"Bad Request: can't parse entities: {error}")
    if size > limit:
        return _error(400, too_long)
    return None


async def _params(request: web.Request, uploads: dict[str, bytes]) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
        return params
    form = await request.post()
    files: dict[str, str] = {}  # multipart field → the file it carries, as "upload:<filename>"
    for name, value in form.items():
        if isinstance(value, web.FileField):
            uploads[value.filename or name] = value.file.read()
            files[name] = params[name] = f"upload:{value.filename or name}"
        elif name in STRUCTURED:
            params[name] = json.loads(str(value))
        else:
            params[name] = str(value)
    return _attached(params, files)


def _attached(params: dict[str, Any], files: dict[str, str]) -> dict[str, Any]:
    """Resolve each `attach://<field>`, a parameter or an InputMedia's media, to that field's file.

    A field so named is no parameter of its own.
    """
    attached: set[str] = set()

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            attached.add(value[9:])
            return files[value[9:]]
        if isinstance(value, dict) and "media" in value:
            return {**value, "media": resolve(value["media"])}
        return value

    resolved = {name: resolve(value) for name, value in params.items()}
    return {name: value for name, value in resolved.items() if name not in attached}
