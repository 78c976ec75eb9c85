"""Matching categories as typed: folded names, subscriptions that reach a post, suggestions."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from difflib import get_close_matches


def fold(name: str) -> str:
    """A category name as matched: NFC, case-folded."""
    return unicodedata.normalize("NFC", name).casefold().strip()


def reaches(subscribed: Sequence[str], categories: Sequence[str]) -> bool:
    """Whether a subscription to `subscribed` (none: everything) takes a post in `categories`."""
    if not subscribed:
        return True
    wanted = {fold(name) for name in subscribed}
    return any(fold(name) in wanted for name in categories)


def complete_categories(counts: Iterable[tuple[str, int]], typed: str, *, most: int) -> list[str]:
    """Of categories with their counts (most posts first), those containing what was typed
    (after NFC, case-insensitively)."""
    wanted = fold(typed.strip())
    return [name for name, _ in counts if wanted in fold(name)][:most]


def suggest(name: str, names: Iterable[str]) -> list[str]:
    """The names closest to a mistyped one, compared letter by letter (Hangul as jamo)."""
    by_letters = {_letters(known): known for known in names}
    close = get_close_matches(_letters(name), list(by_letters), n=3, cutoff=0.6)
    return [by_letters[letters] for letters in close]


def _letters(name: str) -> str:
    return unicodedata.normalize("NFKD", name.casefold().strip())
