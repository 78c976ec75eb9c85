"""Finding posts and categories among the records: by key, newest first, as typed."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from difflib import get_close_matches

from bot.model import PostState, Record


def fold(name: str) -> str:
    """A category name as matched: NFC, case-folded."""
    return unicodedata.normalize("NFC", name).casefold().strip()


def reaches(subscribed: Sequence[str], categories: Sequence[str]) -> bool:
    """Whether a subscription to `subscribed` (none: everything) takes a post in `categories`."""
    if not subscribed:
        return True
    wanted = {fold(name) for name in subscribed}
    return any(fold(name) in wanted for name in categories)


def match_posts(records: Iterable[Record], query: str) -> list[Record]:
    """Find posts by key, file path or URL; an exact match wins over partial ones."""
    query = unicodedata.normalize("NFC", query.strip())
    live = [r for r in records if r.state is not PostState.GONE]
    bare = query.split("?", 1)[0].rstrip("/")
    for exact in (
        [r for r in live if r.post.key == query],
        [r for r in live if r.post.path == query or query.endswith("/" + r.post.path)],
        [r for r in live if r.post.url.split("?", 1)[0].rstrip("/") == bare],
    ):
        if exact:
            return exact
    return [r for r in live if query.casefold() in r.post.key.casefold()] if query else []


def newest(records: Iterable[Record], *, category: str | None = None) -> list[Record]:
    """Published posts, newest first, optionally in one category (matched after NFC)."""
    live = [r for r in records if r.state is PostState.PUBLISHED]
    if category is not None:
        live = [r for r in live if category in {fold(c) for c in r.post.categories}]
    return sorted(live, key=lambda r: (r.post.date, r.first_seen, r.post.key), reverse=True)


def category_counts(records: Iterable[Record]) -> list[tuple[str, int]]:
    """Each category of published posts with its count, most posts first."""
    names: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for record in newest(records):
        for name in record.post.categories:
            names.setdefault(fold(name), name)
            counts[fold(name)] += 1
    return sorted(((names[k], n) for k, n in counts.items()), key=lambda item: (-item[1], item[0]))


def complete_categories(records: Iterable[Record], typed: str, *, most: int) -> list[str]:
    """Categories containing what was typed (after NFC, case-insensitively), most posts first."""
    wanted = fold(typed.strip())
    return [name for name, _ in category_counts(records) if wanted in fold(name)][:most]


def complete_posts(records: Iterable[Record], typed: str, *, most: int) -> list[Record]:
    """Live posts whose key or title contains what was typed, newest first."""
    wanted = fold(typed.strip())
    live = [r for r in records if r.state is not PostState.GONE]
    live.sort(key=lambda r: (r.post.date, r.first_seen, r.post.key), reverse=True)
    return [r for r in live if wanted in fold(r.post.key) or wanted in fold(r.post.title)][:most]


def suggest(name: str, names: Iterable[str]) -> list[str]:
    """The names closest to a mistyped one, compared letter by letter (Hangul as jamo)."""
    by_letters = {_letters(known): known for known in names}
    close = get_close_matches(_letters(name), list(by_letters), n=3, cutoff=0.6)
    return [by_letters[letters] for letters in close]


def _letters(name: str) -> str:
    return unicodedata.normalize("NFKD", name.casefold().strip())
