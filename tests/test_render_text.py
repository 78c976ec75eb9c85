"""Text tools: truncation in UTF-16 units at boundaries, cleaning, hashtags, escaping; with properties."""

from __future__ import annotations

import html
import re

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from bot.render.text import (
    ELLIPSIS,
    MAX_TAGS,
    clean_text,
    escape_html,
    escape_html_attribute,
    escape_markdown,
    escape_title_markdown,
    hashtag,
    hashtags,
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


def test_escape_html_attribute_escapes_only_what_ends_a_double_quoted_value() -> None:
    """`&`, `<`, `>` and `"`; an apostrophe inside double quotes is left alone."""
    assert escape_html_attribute("https://x.org/?a=1&b=\"2\"&c='3'<>") == (
        "https://x.org/?a=1&amp;b=&quot;2&quot;&amp;c='3'&lt;&gt;"
    )


@pytest.mark.parametrize(
    ("category", "tag"),
    [("News", "#News"), ("한미 관계", "#한미_관계"), ("C++ / Rust", "#C_Rust"), ("2024", None), ("!!!", None),
     ("Café-Bar", "#Café_Bar"), ("وبلاگ", "#وبلاگ"), ("5.18 민주화운동", "#5_18_민주화운동")],
)  # fmt: skip
def test_hashtags_are_valid_for_telegram(category: str, tag: str | None) -> None:
    """Letters, digits and underscores only, never digits alone."""
    assert hashtag(category) == tag


def test_hashtags_are_unique_whole_and_within_their_limit() -> None:
    """Each tag once, in order; the first that would pass the limit ends the list, never cut."""
    assert hashtags(("정치", "경제", "정치", "2024", "국제 관계")) == "#정치 #경제 #국제_관계"
    assert hashtags(("정치", "경제"), limit=7) == "#정치 #경제"  # 3 + 1 + 3 units
    assert hashtags(("정치", "경제"), limit=6) == "#정치"
    assert hashtags(("정치",), limit=2) == ""
    many = tuple(f"분야{n:03}" for n in range(100))  # "#분야000": 6 units, 7 with its space
    assert hashtags(many) == " ".join(f"#분야{n:03}" for n in range(28))  # 195 ≤ 200 < 202
    assert utf16_len(hashtags(many)) <= MAX_TAGS


URL = "https://news.example.com/2024/05/18/a_b_c/?x=*y*"

# (text, as an embed title or field name, as a description, field value or message content):
# a backslash only before what Discord would otherwise render in that field, and never before a
# letter, digit or space, where Discord shows it.
FIELDS = [
    ("5.18 민주화운동 기념식", "5.18 민주화운동 기념식", "5.18 민주화운동 기념식"),
    ("4.10 총선 D-1", "4.10 총선 D-1", "4.10 총선 D-1"),
    ("6.25 전쟁 74주년", "6.25 전쟁 74주년", "6.25 전쟁 74주년"),
    ("1. 임영웅", "1. 임영웅", "1\\. 임영웅"),  # an ordered list only in full Markdown
    ("12. 결승", "12. 결승", "12\\. 결승"),
    ("#1 뉴스", "#1 뉴스", "#1 뉴스"),  # a heading needs a space after its #s
    ("# 속보", "# 속보", "\\# 속보"),
    ("### 속보", "### 속보", "\\### 속보"),
    ("-# 작은 글씨", "-# 작은 글씨", "\\-# 작은 글씨"),
    ("> 인용", "> 인용", "\\> 인용"),
    (">>> 인용", ">>> 인용", "\\>>> 인용"),
    (">5% 상승", ">5% 상승", ">5% 상승"),
    ("- 목록", "- 목록", "\\- 목록"),
    ("-5% 하락", "-5% 하락", "-5% 하락"),
    ("* 목록", "\\* 목록", "\\* 목록"),
    ("*속보*", "\\*속보\\*", "\\*속보\\*"),
    ("**굵게** __밑줄__", "\\*\\*굵게\\*\\* \\_\\_밑줄\\_\\_", "\\*\\*굵게\\*\\* \\_\\_밑줄\\_\\_"),
    ("a_b ~~c~~ ||d|| `e`", "a\\_b \\~\\~c\\~\\~ \\|\\|d\\|\\| \\`e\\`",
     "a\\_b \\~\\~c\\~\\~ \\|\\|d\\|\\| \\`e\\`"),
    ("[기사](https://evil.example)", "[기사](https://evil.example)",
     "\\[기사\\](https://evil.example)"),  # masked links: not in titles
    (f"원문: {URL} 참고", f"원문: {URL} 참고", f"원문: {URL} 참고"),  # links as typed
    ("<@123> <@&4> <#5> <t:1700000000:R> </help:6>", "<@123> <@&4> <#5> <t:1700000000:R> </help:6>",
     "\\<@123> \\<@&4> \\<#5> \\<t:1700000000:R> \\</help:6>"),  # no mentions in titles
    ("<:kr:123> :smile:", "\\<\\:kr:123> \\:smile:", "\\<\\:kr:123> \\:smile:"),
    ("<탄탄한> 지지 & 기반 <b>", "<탄탄한> 지지 & 기반 <b>", "<탄탄한> 지지 & 기반 <b>"),
    ("C:\\temp \\*", "C:\\\\temp \\\\\\*", "C:\\\\temp \\\\\\*"),
    ("09:30:15 속보: 정치", "09:30:15 속보: 정치", "09:30:15 속보: 정치"),
    ("posts/x.md:3: invalid", "posts/x.md:3: invalid", "posts/x.md:3: invalid"),
    (":tada: :8ball: :+1: :100:", "\\:tada: \\:8ball: \\:+1: \\:100:", "\\:tada: \\:8ball: \\:+1: \\:100:"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "title", "full"), FIELDS)
def test_discord_escapes_what_each_field_renders(text: str, title: str, full: str) -> None:
    """A title escapes inline Markdown and emoji; full Markdown adds lines, masked links and
    mentions; a letter, digit or space never follows an added backslash."""
    assert escape_title_markdown(text) == title
    assert escape_markdown(text) == full


def test_line_rules_apply_at_every_lines_start() -> None:
    """Indented and later lines are lines too; the middle of a line is not."""
    assert escape_markdown("# a\n  - b\n10. c\nd - e # f > g 1. h") == (
        "\\# a\n  \\- b\n10\\. c\nd - e # f > g 1. h"
    )


def test_links_can_be_written_another_way() -> None:
    """Message content writes links `<url>`: no preview, nothing in them escaped."""
    assert escape_markdown(f"*a* {URL}.", link=lambda url: f"<{url}>") == f"\\*a\\* <{URL}>."


def shown_by_discord(markdown: str) -> str:
    """The text Discord shows for escaped text: a backslash hides the punctuation after it."""
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", markdown)


@given(st.text())
def test_discord_shows_exactly_the_text_escaped(text: str) -> None:
    """Discord's escape rule undoes ours character for character: no stray backslash shows."""
    if re.search(r"https?://", text):  # links are kept as typed: tested above
        return
    assert shown_by_discord(escape_markdown(text)) == text
    assert shown_by_discord(escape_title_markdown(text)) == text
