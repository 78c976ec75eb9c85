"""Pure: a post's title and excerpt as an alert shows them: its first headline, two sentences."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from bot.render.markup import CLOSING_MARKS
from bot.render.text import ELLIPSIS, truncate, utf16_len

# A push is an alert, not the article: its excerpt is the first two sentences, and at most this
# many UTF-16 units (as Telegram and Discord count; never more graphemes than that). A generator
# whose excerpt is the page's text, price tables and all, would otherwise push ~400 characters.
EXCERPT_MOST = 300
EXCERPT_SENTENCES = 2
_CLOSING = f"[{re.escape(CLOSING_MARKS)}]*+"  # possessive: a mark keeps its closing quotes
# Syllables a Korean sentence ends on ('했다.', '해요.', '있음.'): after one, a period ends the
# sentence even with no space after it, as generators glue them ('표명했다.특히 김 전 지사').
_KOREAN_ENDINGS = "다요죠까음함됨임"
# Each alternative is tried once per mark (a run of '!?' from its start, possessively), so a
# hostile run of marks costs linear time.
_SENTENCE_END = re.compile(
    rf"[。！？]{_CLOSING}"  # full-width marks end a sentence with no space after them
    rf"|(?:(?<![!?])[!?]++|(?<![.\d])\.){_CLOSING}(?=\s|$)"  # not '5.18', '2024. 7.', '...'
    rf"|(?<=[{_KOREAN_ENDINGS}])\.{_CLOSING}(?=[^\s.])"  # glued: '표명했다.특히', '니다.2024년'
)
# Words a period follows without ending the sentence ('Dr. Kim'); initials ('U.S.', 'e.g.')
# are told by their shape, _INITIALS.
_ABBREVIATIONS = frozenset(
    {"Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Jr", "Sr", "vs", "Inc", "Ltd", "Corp", "No", "Vol"}
)
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")
_ABBREVIATION_LOOKBACK = 16  # longer than any listed word or initials: the cost stays constant
_OPENERS = "\"'“‘(["
_WORD_CUT_JUNK = " ,;:-–—(/[{·"  # what a cut at a word leaves dangling before its "…"
# A generator's title of numbered headlines ('1. A! 2. B! 3. C!'): its first marker, then the next.
_FIRST_MARKER = re.compile(r"\s*1([.)])\s+")
_NEXT_MARKER = {".": re.compile(r"\s2\.\s"), ")": re.compile(r"\s2\)\s")}


def first_headline(title: str) -> str:
    """Return the first headline of a title of numbered ones ('1. A! 2. B!' → 'A!'), else it.

    Only a title that starts with `1.` (or `1)`) and holds `2.` (or `2)`) later is a list:
    '5.18 민주화운동', '2024. 7. 12. 뉴스' and a lone '1. 제목' stay whole.
    """
    first = _FIRST_MARKER.match(title)
    if first is None:
        return title
    second = _NEXT_MARKER[first[1]].search(title, first.end())
    if second is None:
        return title
    return title[first.end() : second.start()].strip() or title


def cut_excerpt(text: str) -> str:
    """Cut clean one-line `text` to its first two sentences and EXCERPT_MOST UTF-16 units.

    A cut falls at a sentence's end; when the first sentence alone is too long, at a word's
    end with "…" (inside a word or grapheme only when one word fills the whole limit).
    """
    ends: list[int] = []
    for end in _sentence_ends(text):
        if utf16_len(text[:end]) > EXCERPT_MOST:
            break
        ends.append(end)
        if len(ends) == EXCERPT_SENTENCES:
            return text[:end]
    if utf16_len(text) <= EXCERPT_MOST:
        return text
    return text[: ends[0]] if ends else _cut_at_word(text)


def _sentence_ends(text: str) -> Iterator[int]:
    """Where each sentence of `text` ends (after its mark and closing quotes), in order."""
    for match in _SENTENCE_END.finditer(text):
        if match[0].startswith(".") and _is_abbreviation(text, match.start()):
            continue
        yield match.end()


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the period at `dot` follows an abbreviation or initials rather than a word."""
    start = max(0, dot - _ABBREVIATION_LOOKBACK)
    before = text[start:dot]
    if start and not any(character.isspace() for character in before):
        return False  # a word longer than the lookback: no abbreviation
    word = before.rsplit(maxsplit=1)[-1].lstrip(_OPENERS) if before.strip() else ""
    return word in _ABBREVIATIONS or _INITIALS.fullmatch(word) is not None


def _cut_at_word(text: str) -> str:
    """Cut `text` to EXCERPT_MOST at a word's end with "…", graphemes whole (text.truncate)."""
    head = truncate(text, EXCERPT_MOST).removesuffix(ELLIPSIS)
    inside_word = _is_word(head[-1:]) and _is_word(text[len(head) : len(head) + 1])
    if inside_word and " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(_WORD_CUT_JUNK) + ELLIPSIS


def _is_word(character: str) -> bool:
    """Whether `character` belongs inside a word: a letter, digit or combining mark."""
    if not character:
        return False
    return character.isalnum() or unicodedata.category(character).startswith("M")
