"""Pure: a Message → the block of terminal text the console prints for it."""

from __future__ import annotations

from bot.i18n import t
from bot.model import Message, PushKind
from bot.render.text import clean_text, hashtags, truncate

MAX_EXCERPT = 400  # a terminal block stays a glance, not an article

_MARKS = {PushKind.CORRECTION: "(edit) ", PushKind.RETRACTION: "(retracted) "}


def render(message: Message) -> str:
    """Return the console block: `[key] title`, then excerpt, tags, date, link and image."""
    head = f"[{message.key}] {_MARKS.get(message.kind, '')}{clean_text(message.title)}"
    if message.kind is PushKind.RETRACTION:
        return head
    lines = [head]
    if message.excerpt:
        lines.append(truncate(clean_text(message.excerpt), MAX_EXCERPT))
    tags = hashtags(message.categories)  # as Telegram and Discord show them
    when = message.date.strftime("%Y-%m-%d %H:%M %z" if message.is_timed else "%Y-%m-%d")
    lines.append(" · ".join(part for part in (tags, when, message.site_name) if part))
    lines.append(f"{t('link', message.language)}: {message.url}")
    image = message.image_file or message.image_url
    if image:
        lines.append(f"{t('image', message.language)}: {image}")
    return "\n".join(lines)
