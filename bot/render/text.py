"""Pure text helpers every renderer needs: clean text, safe truncation, hashtags, escaping."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import regex

ELLIPSIS = "…"
_GRAPHEME = regex.compile(r"\X")
_UNSAFE = re.compile(  # C0/C1 controls but tab and newline, bidi overrides and isolates, BOM
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SENTENCE_END = frozenset(".!?。！？")
_CJK_SENTENCE_END = frozenset("。！？")
_TRAILING_JUNK = frozenset(",;:-–—(/[{·")
MAX_TAGS = 200  # hashtags past this many UTF-16 units are left out: the excerpt keeps its room
_NOT_HASHTAG = re.compile(r"[^\w]+")  # Telegram hashtags are letters, digits and underscores


def clean_text(text: str) -> str:
    """Drop control and bidi-override characters and collapse whitespace to single spaces."""
    return " ".join(_UNSAFE.sub("", text).split())  # str.split's whitespace is regex's `\s`


def utf16_len(text: str) -> int:
    """Return the length of `text` in UTF-16 code units, as Telegram and Discord count."""
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Cut `text` to `limit` UTF-16 units at a sentence or word boundary, ending in `ellipsis`.

    Never splits a grapheme cluster (emoji sequences, Hangul syllables built from jamo).
    """
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(ellipsis)
    if budget <= 0:
        return ellipsis if budget == 0 else ""
    kept: list[str] = []
    used = 0
    following = ""
    for match in _GRAPHEME.finditer(text):
        size = utf16_len(match[0])
        if used + size > budget:
            following = match[0]
            break
        kept.append(match[0])
        used += size
    cut = _boundary(kept, following)
    head = kept[:cut]
    while head and (head[-1].isspace() or head[-1] in _TRAILING_JUNK):
        head.pop()
    return "".join(head) + ellipsis


def _boundary(kept: list[str], following: str) -> int:
    """Return how many graphemes to keep: up to a sentence end, else a word end, else all."""
    if following.isspace():
        return len(kept)
    sentence = word = 0
    for index, grapheme in enumerate(kept):
        after = kept[index + 1] if index + 1 < len(kept) else following
        if grapheme in _CJK_SENTENCE_END or (grapheme in _SENTENCE_END and after.isspace()):
            sentence = index + 1
        if grapheme.isspace():
            word = index
    if sentence and sentence >= len(kept) * 2 // 3:
        return sentence
    if word and word >= len(kept) // 2:
        return word
    return len(kept)


def hashtag(category: str) -> str | None:
    """`#name` made valid for Telegram (Korean kept), or None when nothing valid is left."""
    name = _NOT_HASHTAG.sub("_", clean_text(category)).strip("_")
    if not name or name.isdigit():
        return None
    return f"#{name}"


def hashtags(categories: tuple[str, ...], *, limit: int = MAX_TAGS) -> str:
    """The categories' hashtags, each once, space-separated: as many whole tags, in order, as
    fit within `limit` UTF-16 units."""
    kept: list[str] = []
    for tag in dict.fromkeys(tag for category in categories if (tag := hashtag(category))):
        if utf16_len(" ".join([*kept, tag])) > limit:
            break
        kept.append(tag)
    return " ".join(kept)


# Telegram's HTML (core.telegram.org/bots/api#html-style): "All <, > and & symbols that are not a
# part of a tag or an HTML entity must be replaced with the corresponding HTML entities"; of the
# named entities only &lt; &gt; &amp; &quot; are known. Nothing else is markup there.


def escape_html(text: str) -> str:
    """Escape text for Telegram's HTML: `&`, `<` and `>`, nothing else."""
    return html.escape(text, quote=False)


def escape_html_attribute(text: str) -> str:
    """Escape text for a double-quoted HTML attribute such as `href`: `&`, `<`, `>` and `"`."""
    return escape_html(text).replace('"', "&quot;")


# Discord's Markdown, field by field, as its client parses it: simple-markdown's rules
# (github.com/Khan/simple-markdown) with Discord's own. Which field gets which parser is in
# leovoel/embed-visualizer, src/components/embed.jsx and markdown.jsx ("mostly translated from
# discord's client"): the title and field names `parseEmbedTitle` (inline styles, emoji, links
# as typed; no masked links, no mentions, no blocks), the description and field values
# `parseAllowLinks` (everything, masked links too), the author name and footer plain text. The
# line rules (headings, lists, quotes, subtext) came in 2023 for message content, descriptions
# and field values, not titles (ItzDerock/discord-html-transcripts#157); the footer has no
# Markdown at all (Pycord-Development/pycord#96, Rapptz/discord.py#4059).
#
# simple-markdown's escape rule is `^\\([^0-9A-Za-z\s])`: a backslash hides only the ASCII
# punctuation after it, and before a letter, digit or space it is shown. So `\5.18` shows its
# backslash; an ordered list is escaped after its number, `1\. `, as discord.js does
# (packages/formatters/src/escapers.ts, escapeNumberedList).

# The url rule, `^(https?:\/\/[^\s<]+[^<.,:;"')\]\s])`: a link is taken as typed, backslashes and
# all, so nothing inside one is escaped (discord.py's escape_markdown skips links the same way).
_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")
# strong/em `*`, em/underline `_`, strikethrough `~~`, inline code and code blocks, spoilers `||`,
# and the backslash itself: a literal `\` before punctuation would hide it.
_STYLE = r"[\\*_~`|]"
# `:name:` emoji (embed-visualizer's `emoji` rule, in every parser). Names have a letter but for
# `:+1:` `:-1:` `:100:` `:1234:`, so `x.md:3:` and `10:30:45` are left alone.
_SHORTCODE = r":(?=[0-9_+-]*[A-Za-z][A-Za-z0-9_+-]*:|(?:[+-]1|100|1234):)"
# Custom emoji `<:name:id>` `<a:name:id>` and autolinks `<https://…>`, titles included.
_EMOJI_OR_LINK = r"a?:\w+:\d+>|[^\s:>]+:/[^\s>]*>"
# In full Markdown also mentions `<@id>` `<@!id>` `<@&id>` `<#id>`, commands `</name:id>`,
# timestamps `<t:…>` and guide links `<id:…>` (the Message Formatting table of Discord's API
# reference, discord-api-docs docs/Reference.md).
_TAG = rf"@[!&]?\d+>|#\d+>|/[^>:]+:\d+>|t:-?\d+(?::\w)?>|id:\w+>|{_EMOJI_OR_LINK}"
# Masked links `[text](url)`: descriptions, field values and, since 2023, message content; not
# titles (discord/discord-api-docs#6088).
_LINK = r"[\[\]]"
_TITLE_MARKS = re.compile(rf"{_STYLE}|{_SHORTCODE}|<(?={_EMOJI_OR_LINK})")
_TEXT_MARKS = re.compile(rf"{_STYLE}|{_LINK}|{_SHORTCODE}|<(?={_TAG})")
# At a line's start, each followed by a space: headings `# ` `## ` `### `, subtext `-# `,
# bullets `- ` `* `, ordered items `1. `, quotes `> ` `>>> ` (simple-markdown's list rule
# `^( *)([*-]|\d+\.) `, Discord's heading `^(#{1,3})\s` and quote `^ *>>> |^ *> `). `#1 뉴스`,
# `5.18 기념식` and `-5%` are none of these and stay as they are.
_LINE_START = re.compile(
    r"^([ \t]*)(#{1,3}(?=[ \t])|-(?=#[ \t])|[-*](?=[ \t])|>(?=(?:>>)?[ \t])|\d+(?=\.[ \t]))", re.M
)


def escape_title_markdown(text: str) -> str:
    """Escape text for an embed title or field name: inline styles and emoji only."""
    return _outside_urls(text, _TITLE_MARKS, link=str)


def escape_markdown(text: str, *, link: Callable[[str], str] = str) -> str:
    """Escape text for Discord's full Markdown: a description, a field value, message content.

    Each link is written by `link` (as typed, by default), never escaped.
    """
    return _LINE_START.sub(_escape_line_start, _outside_urls(text, _TEXT_MARKS, link=link))


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker = match.groups()
    if marker.isdigit():
        return f"{indent}{marker}\\"  # `1\. `: a backslash before the digit would show
    return f"{indent}\\{marker}"


def _outside_urls(text: str, marks: re.Pattern[str], *, link: Callable[[str], str]) -> str:
    """A backslash before each of `marks` but inside links, which `link` writes."""
    parts: list[str] = []
    at = 0
    for url in _URL.finditer(text):
        parts += [marks.sub(r"\\\g<0>", text[at : url.start()]), link(url[0])]
        at = url.end()
    parts.append(marks.sub(r"\\\g<0>", text[at:]))
    return "".join(parts)
