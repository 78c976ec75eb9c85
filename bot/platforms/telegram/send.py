"""Telegram through python-telegram-bot: delivery's Platform, and its errors translated.

A push, correction or retraction is the call `bot.render.telegram` gives, sent as it is; the
one change made here is the upload: a local image's `attach://<path>` becomes the file the
first time, and the file_id Telegram gave it afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, ReplyParameters
from telegram import Message as TelegramReply
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.clock import Clock
from bot.config import TelegramSettings
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
from bot.model import Message, MessageRef, Target, TelegramOptions
from bot.ratelimit import Pacer
from bot.render.telegram import render, render_delete, render_edit, upload_of
from bot.replies import send_reply

NAME = "telegram"
PRIVATE_INTERVAL = timedelta(seconds=1)  # Bot API FAQ: about one message a second per chat
GROUP_INTERVAL = timedelta(seconds=3)  # … and 20 a minute in a group or channel
GROUP_KINDS = frozenset({"group", "supergroup", "channel"})
# What Telegram says when it cannot use an image; the post then goes as text.
IMAGE_REFUSALS = (
    "wrong file identifier/http url specified",
    "failed to get http url content",
    "wrong type of the web page content",
    "image_process_failed",
    "photo_invalid_dimensions",
    "wrong remote file identifier",
)
NOT_MODIFIED = "message is not modified"
# InputMedia names an uploaded file by its multipart field, attach://<field> (Bot API,
# "Sending files"); a sendPhoto upload is the `photo` field itself.
MEDIA_FIELD = "photo_upload"

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a reply's links are for tapping, not previews

log = logging.getLogger(__name__)


MESSAGE_GONE = (  # an edit or deletion that can no longer happen
    "message to edit not found",
    "message to delete not found",
    "message can't be edited",
    "message can't be deleted",
)


def translate(error: TelegramError) -> SendError:  # noqa: PLR0911 - one return per error kind
    """Map a python-telegram-bot error to what delivery does about it.

    Order matters: the library nests BadRequest and TimedOut under NetworkError.
    """
    if isinstance(error, ChatMigrated):
        return TargetMoved(str(error.new_chat_id))
    if isinstance(error, RetryAfter):
        after = error.retry_after
        return RateLimited(after if isinstance(after, timedelta) else timedelta(seconds=after))
    if isinstance(error, Forbidden):
        return TargetGone(error.message)
    if isinstance(error, BadRequest):
        text = error.message.lower()
        if "chat not found" in text:
            return TargetGone(error.message)
        if any(gone in text for gone in MESSAGE_GONE):
            return MessageGone(error.message)
        return Rejected(error.message)
    if isinstance(error, TimedOut):
        return Unknown(error.message)
    if isinstance(error, NetworkError):
        return Transient(error.message)
    return Rejected(error.message)


def _translate(error: Exception) -> SendError | None:
    """A Bot API error as a SendError; None for anything else."""
    if isinstance(error, BadRequest) and NOT_MODIFIED in error.message.lower():
        return Rejected(error.message)  # an edit to the same text: nothing more to do
    return translate(error) if isinstance(error, TelegramError) else None


def _is_image_refusal(error: TelegramError) -> bool:
    return isinstance(error, BadRequest) and any(s in error.message.lower() for s in IMAGE_REFUSALS)


class TelegramPlatform:
    """Sends posts as native Telegram messages, paced under the Bot API's limits."""

    name = NAME

    def __init__(self, bot: Bot, settings: TelegramSettings, clock: Clock) -> None:
        self.bot = bot
        self.clock = clock
        self.pacer = Pacer(clock, per_second=settings.per_second, interval=PRIVATE_INTERVAL)
        self._file_ids: dict[str, str] = {}  # a local image uploaded once, reused for every chat
        self._uploading: dict[str, asyncio.Lock] = {}  # the first call with an image uploads it
        self._refused: set[str] = set()  # images Telegram would not take: it remembers for days

    async def ready(self, target: Target) -> None:
        """Wait for this chat's slot: 28.5/s overall, 1/s per chat, 20/min per group."""
        interval = GROUP_INTERVAL if target.kind in GROUP_KINDS else None
        await self.pacer.wait(target.address, interval=interval)

    async def reply(
        self,
        chat_id: int | str,
        text: str,
        *,
        kind: str = "private",
        reply_to: int | None = None,
        thread_id: int | None = None,
        html: str | None = None,
        buttons: InlineKeyboardMarkup | None = None,
    ) -> TelegramReply | None:
        """Answer in a chat (as `html` when given, else plain `text`), without link previews,
        ahead of pushes, a 429 waited out; None if it never went."""
        answering = (
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        )
        return await send_reply(
            lambda: self.bot.send_message(
                chat_id, text if html is None else html, reply_parameters=answering,
                message_thread_id=thread_id, link_preview_options=NO_PREVIEW,
                parse_mode=None if html is None else ParseMode.HTML, reply_markup=buttons,
            ),
            pacer=self.pacer, clock=self.clock, key=str(chat_id), translate=_translate,
            what=f"telegram: reply in chat {chat_id}",
            interval=GROUP_INTERVAL if kind in GROUP_KINDS else None,
        )  # fmt: skip

    async def edit_reply(self, sent: TelegramReply, text: str) -> bool:
        """Make a sent reply say `text` (a /repost's progress), paced like a reply."""
        edited = await send_reply(
            lambda: sent.edit_text(text),
            pacer=self.pacer, clock=self.clock, key=str(sent.chat_id), translate=_translate,
            what=f"telegram: progress in chat {sent.chat_id}",
        )  # fmt: skip
        return edited is not None

    async def send(self, target: Target, message: Message) -> MessageRef:
        """Send a photo and caption, or text with a link preview; text too if the image fails."""
        image = message.image_file or message.image_url
        call = render(message, with_photo=image not in self._refused)
        chat_id, options = _chat_id(target.address), _options(target)
        try:
            sent = await self._call(call.method, call.params(chat_id, options))
        except TelegramError as error:
            if not (call.method == "sendPhoto" and _is_image_refusal(error)):
                raise translate(error) from None
            log.info("image refused post=%s (%s): sent as text", message.key, error.message)
            self._refused.add(str(image))
            call = render(message, with_photo=False)
            try:
                sent = await self._call(call.method, call.params(chat_id, options))
            except TelegramError as retry_error:
                raise translate(retry_error) from None
        assert isinstance(sent, TelegramReply)  # a send is answered with the message sent
        # The ref keeps what the message shows, so that a correction knows what to edit.
        return MessageRef(NAME, target.address, sent.message_id, call.image)

    async def edit(self, ref: MessageRef, message: Message) -> None:
        """Edit a sent message (its image too when that changed); "not modified" is success."""
        chat_id = _chat_id(ref.address)
        method, params = render_edit(message, chat_id, message_id=ref.message_id, shown=ref.photo)
        try:
            await self._call(method, params)
        except TelegramError as error:
            if isinstance(error, BadRequest) and NOT_MODIFIED in error.message.lower():
                return
            raise translate(error) from None

    async def delete(self, ref: MessageRef, message: Message) -> None:
        """Delete a sent message (a retraction)."""
        del message
        method, params = render_delete(_chat_id(ref.address), message_id=ref.message_id)
        try:
            await self._call(method, params)
        except TelegramError as error:
            raise translate(error) from None

    async def probe(self) -> None:
        """Ask the Bot API who the bot is (getMe): the cheapest call that needs the API up."""
        try:
            await self.bot.get_me()
        except TelegramError as error:
            raise translate(error) from None

    async def _call(self, method: str, params: dict[str, Any]) -> TelegramReply | bool:
        """Make the rendered call; a local image is uploaded once, then reused by file_id."""
        path = upload_of(params)
        if path is None:
            return await self._request(method, params)
        async with self._uploading.setdefault(path, asyncio.Lock()):
            # Sends to other chats wait for the first upload, then reuse its file_id.
            file_id = self._file_ids.get(path)
            if file_id is None:
                with Path(path).open("rb") as image:
                    sent = await self._request(method, _with_upload(params, InputFile(image)))
                if isinstance(sent, TelegramReply) and sent.photo:
                    self._file_ids[path] = sent.photo[-1].file_id
                return sent
        return await self._request(method, _with_upload(params, file_id))

    async def _request(self, method: str, params: dict[str, Any]) -> TelegramReply | bool:
        """Send `params` as they are; the Bot API answers with a Message, or True."""
        # Method names are case-insensitive (Bot API, "Making requests"); lower case keeps the
        # library from warning that it has a method of that name, which builds its own params.
        result: TelegramReply | bool = await self.bot.do_api_request(
            method.lower(), api_kwargs=params, return_type=TelegramReply
        )
        return result


def _with_upload(params: dict[str, Any], upload: InputFile | str) -> dict[str, Any]:
    """`params` with their UPLOAD stand-in replaced by the file itself, or by its file_id."""
    if "photo" in params:
        return {**params, "photo": upload}
    if isinstance(upload, str):
        return {**params, "media": {**params["media"], "media": upload}}
    media = {**params["media"], "media": f"attach://{MEDIA_FIELD}"}
    return {**params, "media": media, MEDIA_FIELD: upload}


def _options(target: Target) -> TelegramOptions:
    """The chat's options (topic, sound, preview); the defaults if it has none."""
    return target.options if isinstance(target.options, TelegramOptions) else TelegramOptions()


def _chat_id(address: str) -> int | str:
    """A numeric chat id, or an @username as it is."""
    return int(address) if address.lstrip("-").isdigit() else address
