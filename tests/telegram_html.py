"""Telegram's HTML, as the Bot API parses it: what the fake Bot API accepts and how long it is."""

from __future__ import annotations

import html
import re

# https://core.telegram.org/bots/api#html-style
SUPPORTED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
             "tg-spoiler", "span", "blockquote", "tg-emoji"}  # fmt: skip
_TOKEN = re.compile(
    r"<(/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:=\"[^\"]*\"|='[^']*')?)*)\s*>|&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);|[<>&]"
)


class ParseError(ValueError):
    """What Telegram answers 400 with: "Bad Request: can't parse entities: …"."""


def visible_text(markup: str) -> str:
    """Return the text Telegram shows for `markup`, or raise ParseError like the Bot API does."""
    stack: list[str] = []
    parts: list[str] = []
    position = 0
    for match in _TOKEN.finditer(markup):
        parts.append(markup[position : match.start()])
        position = match.end()
        token = match[0]
        if match[2]:
            name = match[2].lower()
            if name not in SUPPORTED:
                raise ParseError(f'unsupported start tag "{name}" at byte offset {match.start()}')
            if match[1]:
                if not stack or stack.pop() != name:
                    raise ParseError(f"unexpected end tag at byte offset {match.start()}")
            else:
                stack.append(name)
        elif match[4]:
            parts.append(html.unescape(token))
        else:
            raise ParseError(f"unescaped {token!r} at byte offset {match.start()}")
    parts.append(markup[position:])
    if stack:
        raise ParseError(f'can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(parts)


def length(markup: str) -> int:
    """The length Telegram enforces: UTF-16 units of the visible text."""
    return len(visible_text(markup).encode("utf-16-le")) // 2
