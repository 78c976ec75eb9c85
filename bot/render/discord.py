"""Pure: a Message → one embed within Discord's limits, and the exact bodies that post or fix it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.i18n import t
from bot.model import DiscordOptions, Message, Reply
from bot.render.text import clean_text, escape_markdown, truncate, utf16_len

# Discord's embed limits (discord.com/developers/docs/resources/message#embed-object-embed-limits)
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FOOTER = 2048
MAX_TOTAL = 6000  # title + description + footer (+ fields, author: none here)
DEFAULT_COLOR = 0xC8102E  # a breaking-news red, when no category has a colour
MAX_CONTENT = 2000  # a message's text
MAX_LINE = 900  # a reply's line before escaping, so that escaped it still fits
MAX_BUTTON_URL = 512  # a link button's URL
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class DiscordMessage:
    """A message with one embed and a link button; mentions off unless a role is asked for."""

    embed: dict[str, Any]
    button_label: str
    button_url: str | None  # none when the link is too long for a button
    attachment: str | None  # a local image sent with the message and shown by attachment://
    attachment_name: str = ""  # the name it is uploaded under (Discord wants ASCII there)

    def payload(self, options: DiscordOptions) -> dict[str, Any]:
        """The JSON body of `POST /channels/{channel_id}/messages` for a channel's options.

        With a local image it is the multipart form's `payload_json`, naming the file uploaded as
        `files[0]`.
        """
        body: dict[str, Any] = {"embeds": [self.embed], "allowed_mentions": {"parse": []}}
        if components := self._components():
            body["components"] = components
        if options.mention_role is not None:
            body["content"] = f"<@&{options.mention_role}>"
            body["allowed_mentions"] = {"parse": [], "roles": [str(options.mention_role)]}
        if attachments := self._attachments():
            body["attachments"] = attachments
        return body

    def correction(self) -> dict[str, Any]:
        """The JSON body of `PATCH /channels/{channel_id}/messages/{message_id}` (a correction).

        It replaces the embed, the button and the attachments: none left but this one's image.
        """
        return {
            "embeds": [self.embed],
            "components": self._components(),
            "attachments": self._attachments(),
        }

    def _components(self) -> list[dict[str, Any]]:
        if self.button_url is None:
            return []
        button = {"type": 2, "style": 5, "label": self.button_label, "url": self.button_url}
        return [{"type": 1, "components": [button]}]

    def _attachments(self) -> list[dict[str, Any]]:
        """The upload as Discord's multipart form names it: `id` n is the part `files[n]`."""
        if self.attachment is None:
            return []
        return [{"id": 0, "filename": self.attachment_name}]


def color_of(categories: tuple[str, ...], colors: Mapping[str, int]) -> int:
    """The colour of the first category that has one (case-insensitive), else the default."""
    folded = {name.casefold(): value for name, value in colors.items()}
    for category in categories:
        if (value := folded.get(category.casefold())) is not None:
            return value
    return DEFAULT_COLOR


def _fit(text: str, limit: int) -> str:
    """Cut plain text so that, Markdown-escaped, it stays within `limit` units."""
    budget = limit
    while budget > 0:
        escaped = escape_markdown(truncate(text, budget))
        excess = utf16_len(escaped) - limit
        if excess <= 0:
            return escaped
        budget -= excess
    return ""


def render(message: Message, *, colors: Mapping[str, int] | None = None) -> DiscordMessage:
    """Return the embed: linked title, description, image, colour, footer and timestamp."""
    footer = truncate(clean_text(message.site_name), MAX_FOOTER)
    title = _fit(clean_text(message.title), MAX_TITLE)
    room = min(MAX_DESCRIPTION, MAX_TOTAL - utf16_len(title) - utf16_len(footer))
    description = _fit(clean_text(message.excerpt), room)
    embed: dict[str, Any] = {
        "type": "rich",
        "title": title,
        "url": message.url,
        "color": color_of(message.categories, colors or {}),
        "timestamp": message.date.isoformat(),
    }
    if description:
        embed["description"] = description
    if footer:
        embed["footer"] = {"text": footer}
    attachment, name = None, ""
    if message.image_file is not None:
        attachment, name = message.image_file, attachment_name(message.image_file)
        embed["image"] = {"url": f"attachment://{name}"}
    elif message.image_url is not None:
        embed["image"] = {"url": message.image_url}
    label = t("read_more", message.language)
    button = message.url if len(message.url) <= MAX_BUTTON_URL else None
    return DiscordMessage(embed, label, button, attachment, name)


def attachment_name(path: str) -> str:
    """`image` plus the file's extension: `attachment://` names must be plain ASCII."""
    suffix = os.path.splitext(path)[1].lower()
    return f"image{suffix}" if _SUFFIX.fullmatch(suffix) else "image"


def reply_contents(reply: Reply) -> list[str]:
    """A command's reply as Discord message texts: Markdown escaped, links kept, each ≤ 2,000.

    Links are written `<url>` (a link without a preview, nothing inside it formatted); a reply
    longer than one message is split between lines.
    """
    contents: list[str] = []
    current = ""
    for line in reply.lines:
        shown = _reply_line(truncate(line, MAX_LINE))  # cut before escaping: no half escapes
        if utf16_len(shown) > MAX_CONTENT:  # a line of nothing but Markdown characters
            shown = truncate(shown, MAX_CONTENT)
        joined = f"{current}\n{shown}" if current else shown
        if current and utf16_len(joined) > MAX_CONTENT:
            contents.append(current)
            joined = shown
        current = joined
    return [*contents, current] if current else contents


def _reply_line(line: str) -> str:
    parts, at = [], 0
    for link in _URL.finditer(line):
        parts.append(escape_markdown(line[at : link.start()]))
        parts.append(f"<{link.group()}>")
        at = link.end()
    parts.append(escape_markdown(line[at:]))
    return "".join(parts)
