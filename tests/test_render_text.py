"""Text tools: truncation in UTF-16 units at boundaries, cleaning, escaping; with properties."""

from __future__ import annotations

import html

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from bot.render.text import (
    ELLIPSIS,
    clean_text,
    escape_html,
    escape_html_attribute,
    escape_markdown,
    truncate,
    utf16_len,
)

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one grapheme, 11 UTF-16 units
FLAG = "🇰🇷"  # one grapheme, 4 units
GRAPHEME = regex.compile(r"\X")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        (
            "Hello world. This is a test of the truncation helper.",
            30,
            "Hello world. This is a test…",
        ),
        (
            "First sentence here. Second sentence is long.",
            40,
            "First sentence here. Second sentence is…",
        ),
        (
            "First sentence here. Second sentence is long.",
            38,
            "First sentence here. Second sentence…",
        ),
        ("One sentence ends here. And then the next goes on", 30, "One sentence ends here.…"),
        ("한미동맹의 미래 전망은 밝다. 그러나 어려움도 있다.", 20, "한미동맹의 미래 전망은 밝다.…"),
        ("words, separated, by, commas, everywhere", 20, "words, separated…"),
        ("Supercalifragilisticexpialidocious", 10, "Supercali…"),
        ("日本語の文章です。次の文が続きます", 12, "日本語の文章です。…"),
        (FAMILY * 3, 12, FAMILY + ELLIPSIS),
        (FAMILY * 3, 11, ELLIPSIS),
        (FLAG * 5, 10, FLAG * 2 + ELLIPSIS),
        ("abc", 1, ELLIPSIS),
        ("abc", 0, ""),
        ("e\u0301e\u0301e\u0301e\u0301", 5, "e\u0301e\u0301" + ELLIPSIS),
    ],
)
def test_truncate_table(text: str, limit: int, expected: str) -> None:
    """Truncation prefers a sentence end, then a word end, and never splits a grapheme."""
    assert truncate(text, limit) == expected
    assert utf16_len(truncate(text, limit)) <= limit


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_truncate_stays_within_the_limit(text: str, limit: int) -> None:
    """Whatever the text, the result fits the limit in UTF-16 units."""
    assert utf16_len(truncate(text, limit)) <= limit


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_truncate_keeps_whole_graphemes_from_the_start(text: str, limit: int) -> None:
    """A truncated text is the original's first graphemes (minus trailing space) plus "…"."""
    result = truncate(text, limit)
    if result == text:
        return
    assert result.endswith(ELLIPSIS)
    head = result.removesuffix(ELLIPSIS)
    assert text.startswith(head)
    boundaries = {0}
    position = 0
    for match in GRAPHEME.finditer(text):
        position += len(match[0])
        boundaries.add(position)
    assert len(head) in boundaries


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1))
def test_text_that_fits_is_untouched(text: str) -> None:
    """A text within the limit comes back unchanged."""
    assert truncate(text, utf16_len(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  a \n\t b  ", "a b"),
        ("\u202eevil\u202c \u2066iso\u2069", "evil iso"),
        ("bell\x07 esc\x1b[0m", "bell esc[0m"),
        ("keep\u200cZWNJ and 👨\u200d👩", "keep\u200cZWNJ and 👨\u200d👩"),
        ("nbsp\xa0and\u3000ideographic", "nbsp and ideographic"),
        ("\ufeffbom", "bom"),
    ],
)
def test_clean_text(text: str, expected: str) -> None:
    """Controls and bidi overrides go; joiners stay; whitespace collapses."""
    assert clean_text(text) == expected


@given(st.text())
def test_clean_text_leaves_no_controls(text: str) -> None:
    """Cleaned text has no control characters and no runs of whitespace."""
    cleaned = clean_text(text)
    assert not any(ord(char) < 32 or 0x7F <= ord(char) <= 0x9F for char in cleaned)
    assert "  " not in cleaned
    assert cleaned == cleaned.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ('"quoted"', '"quoted"'),
        ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ],
)
def test_escape_html(text: str, expected: str) -> None:
    """Telegram's HTML needs &, < and > escaped in text."""
    assert escape_html(text) == expected


@given(st.text())
def test_escaped_html_round_trips(text: str) -> None:
    """Escaped text and attributes unescape to the original and hold no raw markup."""
    assert html.unescape(escape_html(text)) == text
    assert html.unescape(escape_html_attribute(text)) == text
    assert "<" not in escape_html(text)
    assert '"' not in escape_html_attribute(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*bold* _it_ ~s~ `code` |sp|", "\\*bold\\* \\_it\\_ \\~s\\~ \\`code\\` \\|sp\\|"),
        ("[link](https://x)", "\\[link\\]\\(https://x\\)"),
        ("# heading\n> quote\n- item\n1. one", "\\# heading\n\\> quote\n\\- item\n\\1. one"),
        ("mid-word # and > stay", "mid-word # and > stay"),
        ("<@123> @everyone", "\\<@123> @everyone"),
    ],
)
def test_escape_markdown(text: str, expected: str) -> None:
    """Discord Markdown from posts is escaped so it cannot format, link or mention."""
    assert escape_markdown(text) == expected
