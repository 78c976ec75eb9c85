"""Pure: a Message → one embed within Discord's limits, and the exact bodies that post or fix it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.i18n import t
from bot.model import DiscordOptions, Entry, Message, Reply
from bot.render.text import (
    MAX_TAGS,
    clean_text,
    escape_markdown,
    escape_title_markdown,
    hashtags,
    truncate,
    utf16_len,
)

# Discord's embed limits (discord.com/developers/docs/resources/message#embed-object-embed-limits)
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FOOTER = 2048
MAX_AUTHOR = 256  # author.name: the categories' hashtags here
MAX_TOTAL = 6000  # title + description + footer + author name (+ fields: none here)
DEFAULT_COLOR = 0xC8102E  # a breaking-news red, when no category has a colour
MAX_CONTENT = 2000  # a message's text
MAX_ENTRY_TITLE = 200  # a listed post's headline: twenty fit in a few messages
MAX_LINE = 900  # a reply's line before escaping, so that escaped it still fits
MAX_BUTTON_URL = 512  # a link button's URL
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")


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


def _fit(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """Cut plain text so that, escaped by `escape`, it stays within `limit` units."""
    budget = limit
    while budget > 0:
        escaped = escape(truncate(text, budget))
        excess = utf16_len(escaped) - limit
        if excess <= 0:
            return escaped
        budget -= excess
    return ""


def render(message: Message, *, colors: Mapping[str, int] | None = None) -> DiscordMessage:
    """Return the embed: categories, linked title, description, image, colour, footer, time.

    Each field is escaped for what Discord renders there (see `bot.render.text`): the title's
    inline Markdown, the description's full Markdown; the author name (the categories'
    hashtags, as Telegram's caption ends with) and the footer show plain text, as sent.
    """
    footer = truncate(clean_text(message.site_name), MAX_FOOTER)
    title = _fit(clean_text(message.title), MAX_TITLE, escape_title_markdown)
    room = MAX_TOTAL - utf16_len(title) - utf16_len(footer)
    tags = hashtags(message.categories, limit=min(MAX_TAGS, MAX_AUTHOR, room))
    room = min(MAX_DESCRIPTION, room - utf16_len(tags))
    description = _fit(clean_text(message.excerpt), room, escape_markdown)
    embed: dict[str, Any] = {
        "type": "rich",
        "title": title,
        "url": message.url,
        "color": color_of(message.categories, colors or {}),
    }
    if tags:
        embed["author"] = {"name": tags}  # above the title, like a section's kicker
    if message.is_timed:  # a day without a time of day would show as "12:00 AM"
        embed["timestamp"] = message.date.isoformat()
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
    label = t("read_more", message.language)  # a button label is plain text
    button = message.url if len(message.url) <= MAX_BUTTON_URL else None
    return DiscordMessage(embed, label, button, attachment, name)


def attachment_name(path: str) -> str:
    """`image` plus the file's extension: `attachment://` names must be plain ASCII."""
    suffix = os.path.splitext(path)[1].lower()
    return f"image{suffix}" if _SUFFIX.fullmatch(suffix) else "image"


def reply_contents(reply: Reply) -> list[str]:
    """A command's reply as Discord message texts: Markdown escaped, links kept, each ≤ 2,000.

    Links are written `<url>` (a link without a preview, nothing inside it formatted); a list
    of posts gives each as a titled link over a small line of its date and categories; a
    reply longer than one message is split between lines (never inside a post).
    """
    contents: list[str] = []
    current = ""
    pieces = [_reply_line(truncate(line, MAX_LINE)) for line in reply.lines]  # cut, then escape
    pieces += [_entry(entry) for entry in reply.entries]
    for piece in pieces:
        # A line of nothing but Markdown characters can grow past a message when escaped.
        shown = piece if utf16_len(piece) <= MAX_CONTENT else truncate(piece, MAX_CONTENT)
        joined = f"{current}\n{shown}" if current else shown
        if current and utf16_len(joined) > MAX_CONTENT:
            contents.append(current)
            joined = shown
        current = joined
    return [*contents, current] if current else contents


def _entry(entry: Entry) -> str:
    """A post in a list: its title linked (no preview), the admins' key, and a subtext line
    (`-# `) with its date and categories."""
    title = escape_markdown(truncate(entry.title, MAX_ENTRY_TITLE))
    url = entry.url.replace("(", "%28").replace(")", "%29").replace(">", "%3E")
    key = "" if entry.key is None else f" `{entry.key.replace('`', '')}`"
    about = escape_markdown(entry.about)
    return f"[{title}](<{url}>){key}\n-# {about}"


def _reply_line(line: str) -> str:
    """One line of content: full Markdown escaped, each link as `<url>`."""
    return escape_markdown(line, link=lambda url: f"<{url}>")
