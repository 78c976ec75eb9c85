"""Pure: a Message → the Telegram Bot API calls that show, correct or delete it.

The calls are exactly what the adapter sends (and `sokbo preview` shows), with one stand-in: a
local image to upload is named `attach://<path>` (UPLOAD), which the adapter replaces by the
file itself the first time and by the file_id Telegram gave it afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.i18n import t
from bot.model import Message, TelegramOptions
from bot.render.text import (
    clean_text,
    escape_html,
    escape_html_attribute,
    hashtags,
    truncate,
    utf16_len,
)

MAX_CAPTION = 1024  # sendPhoto caption, in UTF-16 units after entity parsing (Bot API)
MAX_TEXT = 4096  # sendMessage text, likewise
MAX_TITLE = 256  # a headline longer than this is cut first, so the excerpt keeps some room
UPLOAD = "attach://"  # + a local file's path: the image the adapter uploads (or reuses)

Call = tuple[str, dict[str, Any]]  # a Bot API method and its parameters


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    """One Bot API call's content: a photo with a caption, or a text with a link preview."""

    text: str  # HTML
    photo: str | None  # an http(s) URL
    photo_file: str | None  # a local file to upload instead (and reuse by file_id)
    button_text: str
    button_url: str
    link_url: str

    @property
    def method(self) -> str:
        """`sendPhoto` when there is an image, else `sendMessage`."""
        return "sendPhoto" if self.image else "sendMessage"

    @property
    def image(self) -> str | None:
        """The image shown: the local file's path, else the URL; None for a text."""
        return self.photo_file or self.photo

    @property
    def photo_param(self) -> str | None:
        """The photo as a parameter: its URL, or its local file as an UPLOAD stand-in."""
        return self.photo if self.photo_file is None else f"{UPLOAD}{self.photo_file}"

    @property
    def reply_markup(self) -> dict[str, Any]:
        """The Read more button."""
        return {"inline_keyboard": [[{"text": self.button_text, "url": self.button_url}]]}

    def params(self, chat_id: int | str, options: TelegramOptions) -> dict[str, Any]:
        """The parameters of `method` for one chat, with that chat's options applied."""
        params: dict[str, Any] = {"chat_id": chat_id, "parse_mode": "HTML"}
        if self.method == "sendPhoto":
            params["photo"] = self.photo_param
            params["caption"] = self.text
        else:
            params["text"] = self.text
            params["link_preview_options"] = (
                {"url": self.link_url, "prefer_large_media": True}
                if options.link_preview
                else {"is_disabled": True}
            )
        params["reply_markup"] = self.reply_markup
        if options.thread_id is not None:
            params["message_thread_id"] = options.thread_id
        if options.is_silent:
            params["disable_notification"] = True
        return params


def render_edit(
    message: Message, chat_id: int | str, *, message_id: int, shown: str | None
) -> Call:
    """The call that makes a sent message show `message`; `shown` is its image (None: a text).

    A text stays a text and a photo a photo: editMessageText, editMessageCaption when the image
    is the same (or the post lost it), editMessageMedia when the image changed.
    """
    call = render(message, with_photo=shown is not None)
    common = {"chat_id": chat_id, "message_id": message_id, "reply_markup": call.reply_markup}
    if shown is None:
        return "editMessageText", {**common, "text": call.text, "parse_mode": "HTML"}
    caption = _text(message, MAX_CAPTION)  # still a caption, even if the post lost its image
    if call.image is None or call.image == shown:
        return "editMessageCaption", {**common, "caption": caption, "parse_mode": "HTML"}
    media = {"type": "photo", "media": call.photo_param, "caption": caption, "parse_mode": "HTML"}
    return "editMessageMedia", {**common, "media": media}


def render_delete(chat_id: int | str, *, message_id: int) -> Call:
    """The call that deletes a sent message (a retraction)."""
    return "deleteMessage", {"chat_id": chat_id, "message_id": message_id}


def upload_of(params: dict[str, Any]) -> str | None:
    """The local file a call's parameters name for upload (its photo, or its media's), if any."""
    named = params["photo"] if "photo" in params else params.get("media", {}).get("media")
    if isinstance(named, str) and named.startswith(UPLOAD):
        return named.removeprefix(UPLOAD)
    return None


def render(message: Message, *, with_photo: bool = True) -> TelegramMessage:
    """Return the call for `message`: bold linked title, excerpt, hashtags, a Read more button."""
    photo = message.image_url if with_photo else None
    photo_file = message.image_file if with_photo else None
    return TelegramMessage(
        text=_text(message, MAX_CAPTION if photo or photo_file else MAX_TEXT),
        photo=photo,
        photo_file=photo_file,
        button_text=t("read_more", message.language),
        button_url=message.url,
        link_url=message.url,
    )


def _text(message: Message, limit: int) -> str:
    """The HTML within `limit`, counted as Telegram does: UTF-16 units of the visible text."""
    title = truncate(clean_text(message.title), MAX_TITLE)
    tags = hashtags(message.categories)  # plain: Telegram counts the text shown
    fixed = utf16_len(title) + (utf16_len(tags) + 2 if tags else 0)
    excerpt = clean_text(message.excerpt)
    room = limit - fixed - 2  # the blank line between title and excerpt
    excerpt = truncate(excerpt, room) if excerpt and room > 0 else ""
    parts = [f'<b><a href="{escape_html_attribute(message.url)}">{escape_html(title)}</a></b>']
    if excerpt:
        parts.append(escape_html(excerpt))
    if tags:
        parts.append(escape_html(tags))
    return "\n\n".join(parts)
