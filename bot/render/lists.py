"""Pure: a reply with a list of posts as Telegram shows it: HTML with linked titles."""

from __future__ import annotations

from bot.model import Entry, Reply
from bot.render.text import escape_html, escape_html_attribute, truncate, utf16_len

MAX_TEXT = 4096  # sendMessage text, in UTF-16 units of the visible text (Bot API)
MAX_ENTRY_TITLE = 200  # a headline longer than this is cut, so twenty fit in one message


def telegram_html(reply: Reply) -> str:
    """The reply as Telegram HTML: its lines, then each post as a linked title (the admins'
    key beside it) over its date and categories; posts that would pass the limit are left
    out, with "…" saying so."""
    parts = [escape_html(line) for line in reply.lines]
    visible = utf16_len("\n".join(reply.lines))
    for entry in reply.entries:
        html, shown = _entry(entry)
        if visible + utf16_len(shown) + 3 > MAX_TEXT:  # the newline and a last "…" line
            parts.append("…")
            break
        parts.append(html)
        visible += utf16_len(shown) + 1
    return "\n".join(parts)


def _entry(entry: Entry) -> tuple[str, str]:
    """One post's HTML and its visible text (what Telegram counts)."""
    title = truncate(entry.title, MAX_ENTRY_TITLE)
    about = entry.about
    key = "" if entry.key is None else f" [{entry.key}]"
    link = f'<a href="{escape_html_attribute(entry.url)}">{escape_html(title)}</a>'
    code = "" if entry.key is None else f" <code>[{escape_html(entry.key)}]</code>"
    return f"{link}{code}\n<i>{escape_html(about)}</i>", f"{title}{key}\n{about}"
