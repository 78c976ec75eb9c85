"""Pure: a Message → the Telegram Bot API call that shows it (HTML subset, 1,024/4,096 limits)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.i18n import t
from bot.model import Message
from bot.render.text import clean_text, escape_html, escape_html_attribute, truncate, utf16_len

MAX_CAPTION = 1024  # sendPhoto caption, in UTF-16 units after entity parsing (Bot API)
MAX_TEXT = 4096  # sendMessage text, likewise
MAX_TITLE = 256  # a headline longer than this is cut first, so the excerpt keeps some room
MAX_TAGS = 200  # hashtags past this many units are left out
_NOT_HASHTAG = re.compile(r"[^\w]+")  # Telegram hashtags are letters, digits and underscores


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
        return "sendPhoto" if self.photo or self.photo_file else "sendMessage"

    def params(self, chat_id: int | str, *, thread_id: int | None = None, silent: bool = False,
               link_preview: bool = True) -> dict[str, Any]:  # fmt: skip
        """The call's parameters, as the Bot API takes them."""
        params: dict[str, Any] = {"chat_id": chat_id, "parse_mode": "HTML"}
        if self.method == "sendPhoto":
            params["photo"] = (
                self.photo if self.photo_file is None else f"attach://{self.photo_file}"
            )
            params["caption"] = self.text
        else:
            params["text"] = self.text
            params["link_preview_options"] = (
                {"url": self.link_url, "prefer_large_media": True}
                if link_preview
                else {"is_disabled": True}
            )
        params["reply_markup"] = {
            "inline_keyboard": [[{"text": self.button_text, "url": self.button_url}]]
        }
        if thread_id is not None:
            params["message_thread_id"] = thread_id
        if silent:
            params["disable_notification"] = True
        return params


def hashtag(category: str) -> str | None:
    """`#name` made valid for Telegram (Korean kept), or None when nothing valid is left."""
    name = _NOT_HASHTAG.sub("_", clean_text(category)).strip("_")
    if not name or name.isdigit():
        return None
    return f"#{name}"


def _tags(categories: tuple[str, ...]) -> str:
    kept: list[str] = []
    for tag in dict.fromkeys(tag for c in categories if (tag := hashtag(c))):
        if utf16_len(" ".join([*kept, tag])) > MAX_TAGS:
            break
        kept.append(tag)
    return " ".join(kept)


def render(message: Message, *, with_photo: bool = True) -> TelegramMessage:
    """Return the call for `message`: bold linked title, excerpt, hashtags, a Read more button.

    Lengths count what Telegram counts: UTF-16 units of the visible text, after entities.
    """
    photo = message.image_url if with_photo else None
    photo_file = message.image_file if with_photo else None
    limit = MAX_CAPTION if photo or photo_file else MAX_TEXT
    title = truncate(clean_text(message.title), MAX_TITLE)
    tags = _tags(message.categories)
    fixed = utf16_len(title) + (utf16_len(tags) + 2 if tags else 0)
    excerpt = clean_text(message.excerpt)
    room = limit - fixed - 2  # the blank line between title and excerpt
    excerpt = truncate(excerpt, room) if excerpt and room > 0 else ""
    parts = [f'<b><a href="{escape_html_attribute(message.url)}">{escape_html(title)}</a></b>']
    if excerpt:
        parts.append(escape_html(excerpt))
    if tags:
        parts.append(escape_html(tags))
    return TelegramMessage(
        text="\n\n".join(parts),
        photo=photo,
        photo_file=photo_file,
        button_text=t("read_more", message.language),
        button_url=message.url,
        link_url=message.url,
    )
