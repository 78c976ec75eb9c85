"""Telegram through python-telegram-bot: delivery's Platform, and its errors translated."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LinkPreviewOptions,
    ReplyParameters,
)
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
from bot.render.telegram import TelegramMessage, render
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
        self._uploading: dict[str, asyncio.Lock] = {}  # the first send of an image uploads it
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
    ) -> TelegramReply | None:
        """Answer in a chat, ahead of pushes, a 429 waited out; None if it never went."""
        answering = (
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        )
        return await send_reply(
            lambda: self.bot.send_message(
                chat_id, text, reply_parameters=answering, message_thread_id=thread_id
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
        try:
            sent = await self._send(call, target)
        except TelegramError as error:
            if not (call.method == "sendPhoto" and _is_image_refusal(error)):
                raise translate(error) from None
            log.info("image refused post=%s (%s): sent as text", message.key, error.message)
            self._refused.add(str(image))
            call = render(message, with_photo=False)
            try:
                sent = await self._send(call, target)
            except TelegramError as retry_error:
                raise translate(retry_error) from None
        # The ref keeps what the message shows, so that a correction knows what to edit.
        photo = (call.photo_file or call.photo or "") if call.method == "sendPhoto" else None
        return MessageRef(NAME, target.address, sent.message_id, photo)

    async def _send(self, call: TelegramMessage, target: Target) -> TelegramReply:
        chat_id = _chat_id(target.address)
        options = target.options
        if not isinstance(options, TelegramOptions):
            options = TelegramOptions()
        common: dict[str, Any] = {
            "chat_id": chat_id,
            "parse_mode": ParseMode.HTML,
            "reply_markup": _button(call),
            "message_thread_id": options.thread_id,
            "disable_notification": options.is_silent,
        }
        if call.method == "sendMessage":
            preview = (
                LinkPreviewOptions(url=call.link_url, prefer_large_media=True)
                if options.link_preview
                else LinkPreviewOptions(is_disabled=True)
            )
            return await self.bot.send_message(
                text=call.text, link_preview_options=preview, **common
            )
        if call.photo_file is None:
            assert call.photo is not None  # a sendPhoto has one or the other
            return await self.bot.send_photo(photo=call.photo, caption=call.text, **common)
        async with self._uploading.setdefault(call.photo_file, asyncio.Lock()):
            # Sends to other chats wait for the first upload, then reuse its file_id.
            cached = self._file_ids.get(call.photo_file)
            if cached is None:
                with Path(call.photo_file).open("rb") as image:
                    sent = await self.bot.send_photo(photo=image, caption=call.text, **common)
                if sent.photo:
                    self._file_ids[call.photo_file] = sent.photo[-1].file_id
                return sent
        return await self.bot.send_photo(photo=cached, caption=call.text, **common)

    async def edit(self, ref: MessageRef, message: Message) -> None:
        """Edit a sent message (its image too when that changed); "not modified" is success."""
        is_photo = ref.photo is not None
        call = render(message, with_photo=is_photo)
        chat_id, number, markup = _chat_id(ref.address), ref.message_id, _button(call)
        new_image = call.photo_file or call.photo
        try:
            if is_photo and new_image and new_image != ref.photo:
                media = InputMediaPhoto(
                    self._media(call), caption=call.text, parse_mode=ParseMode.HTML
                )
                await self.bot.edit_message_media(
                    media, chat_id=chat_id, message_id=number, reply_markup=markup
                )
            elif is_photo:
                await self.bot.edit_message_caption(
                    chat_id=chat_id, message_id=number, caption=call.text,
                    parse_mode=ParseMode.HTML, reply_markup=markup,
                )  # fmt: skip
            else:
                await self.bot.edit_message_text(
                    call.text, chat_id=chat_id, message_id=number,
                    parse_mode=ParseMode.HTML, reply_markup=markup,
                )  # fmt: skip
        except TelegramError as error:
            if isinstance(error, BadRequest) and NOT_MODIFIED in error.message.lower():
                return
            raise translate(error) from None

    def _media(self, call: TelegramMessage) -> str | bytes:
        """The new image of a correction: its file_id if uploaded before, else URL or bytes."""
        if call.photo_file is None:
            assert call.photo is not None  # only called for a photo
            return call.photo
        return self._file_ids.get(call.photo_file) or Path(call.photo_file).read_bytes()

    async def delete(self, ref: MessageRef, message: Message) -> None:
        """Delete a sent message (a retraction)."""
        del message
        try:
            await self.bot.delete_message(chat_id=_chat_id(ref.address), message_id=ref.message_id)
        except TelegramError as error:
            raise translate(error) from None


def _button(call: TelegramMessage) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(call.button_text, url=call.button_url)]])


def _chat_id(address: str) -> int | str:
    """A numeric chat id, or an @username as it is."""
    return int(address) if address.lstrip("-").isdigit() else address
