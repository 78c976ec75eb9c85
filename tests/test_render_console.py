"""The console's block for a push: exact text for realistic posts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.model import Message, PushKind
from bot.render.console import render

SEOUL = timezone(timedelta(hours=9))


def message(kind: PushKind = PushKind.ALERT, **changes: object) -> Message:
    """A Korean news push."""
    fields: dict[str, object] = {
        "key": "2024-07-13-2925", "kind": kind, "title": "한미동맹, 여야 모두 탄탄한 지지 기반 갖춰",
        "excerpt": "미국 대선, 한미동맹, 푸틴 방북 등 다양한 이슈가 혼재된 논란이 끊이지 않고 있다.",
        "url": "https://news.example.com/news/2024/07/13/2925.html", "image_url": "https://news.example.com/a.jpg",
        "image_file": None, "categories": ("News", "한미 관계"), "date": datetime(2024, 7, 13, 9, 30, tzinfo=SEOUL),
        "site_name": "koreablockchain", "language": "ko",
    }  # fmt: skip
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


def test_an_alert_block() -> None:
    """First line `[key] title`, then excerpt, tags with date and site, link, image."""
    assert render(message()) == (
        "[2024-07-13-2925] 한미동맹, 여야 모두 탄탄한 지지 기반 갖춰\n"
        "미국 대선, 한미동맹, 푸틴 방북 등 다양한 이슈가 혼재된 논란이 끊이지 않고 있다.\n"
        "#News #한미_관계 · 2024-07-13 09:30 +0900 · koreablockchain\n"
        "링크: https://news.example.com/news/2024/07/13/2925.html\n"
        "이미지: https://news.example.com/a.jpg"
    )


@pytest.mark.parametrize(
    ("kind", "first_line"),
    [
        (PushKind.REPOST, "[2024-07-13-2925] 한미동맹"),
        (PushKind.CORRECTION, "[2024-07-13-2925] (edit) 한미동맹"),
    ],
)
def test_reposts_and_corrections(kind: PushKind, first_line: str) -> None:
    """A correction is marked `(edit)`; a repost looks like the alert."""
    assert render(message(kind)).splitlines()[0].startswith(first_line)


def test_a_retraction_is_one_line() -> None:
    """A retraction says only which post was taken back."""
    assert (
        render(message(PushKind.RETRACTION))
        == "[2024-07-13-2925] (retracted) 한미동맹, 여야 모두 탄탄한 지지 기반 갖춰"
    )


def test_english_labels_a_local_image_and_no_excerpt() -> None:
    """Labels follow the language; a local image file is shown; an empty excerpt is left out."""
    block = render(
        message(language="en", excerpt="", image_file="/site/assets/a.png", categories=())
    )
    assert block.splitlines()[1:] == [
        "2024-07-13 09:30 +0900 · koreablockchain",
        "link: https://news.example.com/news/2024/07/13/2925.html",
        "image: /site/assets/a.png",
    ]


def test_hostile_text_cannot_reach_the_terminal() -> None:
    """Escape sequences and line breaks in a title stay on the first line, harmless."""
    block = render(message(title="evil\x1b[2J\nsecond line", excerpt="x" * 2000))
    assert block.splitlines()[0] == "[2024-07-13-2925] evil[2J second line"
    assert "\x1b" not in block
    assert len(block.splitlines()[1]) <= 400


def test_a_day_without_a_time_shows_the_date_alone() -> None:
    """A post dated by day alone shows no midnight: `2024-07-13`, not `2024-07-13 00:00 +0900`."""
    day = message(date=datetime(2024, 7, 13, tzinfo=SEOUL), is_timed=False)
    assert render(day).splitlines()[2] == "#News #한미_관계 · 2024-07-13 · koreablockchain"
    timed = message(date=datetime(2024, 7, 13, tzinfo=SEOUL))
    assert (
        render(timed).splitlines()[2]
        == "#News #한미_관계 · 2024-07-13 00:00 +0900 · koreablockchain"
    )


def test_tags_are_the_hashtags_telegram_and_discord_show() -> None:
    """Each category once, made a valid hashtag; one of digits alone is left out."""
    block = render(message(categories=("정치", "C++ / Rust", "2024", "정치")))
    assert block.splitlines()[2].startswith("#정치 #C_Rust · 2024-07-13 09:30")
