"""Pure text helpers every renderer needs: clean text, safe truncation, escaping."""

from __future__ import annotations

import html
import re

import regex

ELLIPSIS = "…"
_GRAPHEME = regex.compile(r"\X")
_UNSAFE = re.compile(  # C0/C1 controls but tab and newline, bidi overrides and isolates, BOM
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SENTENCE_END = frozenset(".!?。！？")
_CJK_SENTENCE_END = frozenset("。！？")
_TRAILING_JUNK = frozenset(",;:-–—(/[{·")


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


def escape_html(text: str) -> str:
    """Escape text for Telegram's HTML: `&`, `<` and `>`."""
    return html.escape(text, quote=False)


def escape_html_attribute(text: str) -> str:
    """Escape text for a double-quoted HTML attribute such as `href`."""
    return html.escape(text, quote=True)


_MARKDOWN_ANYWHERE = re.compile(r"([\\*_~`|\[\]()<])")
_MARKDOWN_LINE_START = re.compile(r"^([ \t]*)([#>-]|\d+\.)", re.M)


def escape_markdown(text: str) -> str:
    """Escape text for Discord's Markdown so that a post can't format, link or mention."""
    text = _MARKDOWN_ANYWHERE.sub(r"\\\1", text)
    return _MARKDOWN_LINE_START.sub(r"\1\\\2", text)
