"""The Telegram renderer: exact HTML for realistic posts, and properties for any post."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from bot.model import Message, PushKind, TelegramOptions
from bot.render.telegram import (
    MAX_CAPTION,
    MAX_TEXT,
    render,
    render_delete,
    render_edit,
    upload_of,
)
from bot.render.text import clean_text
from tests.telegram_html import ParseError, length, visible_text

SEOUL = timezone(timedelta(hours=9))
GRAPHEMES = regex.compile(r"\X")
DEFAULTS = TelegramOptions()
URL = 'https://news.example.com/news/2925.html?utm_source=tg&a="b"'
CAPTION = (
    '<b><a href="https://news.example.com/news/2925.html?utm_source=tg&amp;a=&quot;b&quot;">'
    "한미동맹, 여야 모두 &lt;탄탄한&gt; 지지 &amp; 기반</a></b>\n\n"
    "미국 대선, 한미동맹, 푸틴 방북 등 다양한 이슈가 혼재된 논란이 끊이지 않고 있다.\n\n#News #한미_관계"
)
HREF = "https://news.example.com/news/2925.html?utm_source=tg&amp;a=&quot;b&quot;"
BUTTON = {"inline_keyboard": [[{"text": "기사 보기", "url": URL}]]}


def message(**changes: object) -> Message:
    """A Korean news push with an image."""
    fields: dict[str, object] = {
        "key": "2024-07-13-2925", "kind": PushKind.ALERT, "title": "한미동맹, 여야 모두 <탄탄한> 지지 & 기반",
        "excerpt": "미국 대선, 한미동맹, 푸틴 방북 등 다양한 이슈가 혼재된 논란이 끊이지 않고 있다.",
        "url": "https://news.example.com/news/2925.html?utm_source=tg&a=\"b\"", "image_url": "https://news.example.com/a.jpg",
        "image_file": None, "categories": ("News", "한미 관계", "2024"), "date": datetime(2024, 7, 13, 9, 30, tzinfo=SEOUL),
        "site_name": "koreablockchain", "language": "ko",
    }  # fmt: skip
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


def test_a_photo_with_a_caption() -> None:
    """An image post is sendPhoto: bold linked title, excerpt, hashtags, a Read more button."""
    call = render(message())
    assert call.method == "sendPhoto"
    assert call.params(-100123, DEFAULTS) == {
        "chat_id": -100123,
        "parse_mode": "HTML",
        "photo": "https://news.example.com/a.jpg",
        "caption": CAPTION,
        "reply_markup": BUTTON,
    }


def test_a_text_post_with_a_link_preview() -> None:
    """No image: sendMessage whose preview shows the post's link, large."""
    call = render(message(image_url=None))
    assert call.method == "sendMessage"
    assert call.params("@channel", DEFAULTS) == {
        "chat_id": "@channel",
        "parse_mode": "HTML",
        "text": CAPTION,
        "link_preview_options": {"url": URL, "prefer_large_media": True},
        "reply_markup": BUTTON,
    }
    english = render(message(image_url=None, language="en"))
    assert english.reply_markup == {"inline_keyboard": [[{"text": "Read more", "url": URL}]]}


@pytest.mark.parametrize(
    ("options", "added", "preview"),
    [
        (TelegramOptions(thread_id=7), {"message_thread_id": 7}, {"url": URL, "prefer_large_media": True}),
        (TelegramOptions(is_silent=True), {"disable_notification": True}, {"url": URL, "prefer_large_media": True}),
        (TelegramOptions(link_preview=False), {}, {"is_disabled": True}),
        (TelegramOptions(thread_id=7, is_silent=True, link_preview=False),
         {"message_thread_id": 7, "disable_notification": True}, {"is_disabled": True}),
    ],
)  # fmt: skip
def test_a_chats_options_apply_to_its_call(
    options: TelegramOptions, added: dict[str, object], preview: dict[str, object]
) -> None:
    """A forum topic and silence are added; a chat without previews gets none (texts only)."""
    text = render(message(image_url=None))
    base = text.params(-1001, DEFAULTS)
    assert text.params(-1001, options) == {**base, **added, "link_preview_options": preview}
    photo = render(message())
    assert photo.params(-1001, options) == {**photo.params(-1001, DEFAULTS), **added}


def test_a_local_image_is_an_upload() -> None:
    """A checked local file is uploaded (attach://<path>), even when a URL exists."""
    params = render(message(image_file="/site/assets/a.png")).params(1, DEFAULTS)
    assert params["photo"] == "attach:///site/assets/a.png"
    assert upload_of(params) == "/site/assets/a.png"


@pytest.mark.parametrize(
    ("shown", "changes", "method"),
    [
        (None, {}, "editMessageText"),
        (None, {"image_url": None}, "editMessageText"),
        ("https://news.example.com/a.jpg", {}, "editMessageCaption"),
        ("https://news.example.com/a.jpg", {"image_url": None}, "editMessageCaption"),
        ("/site/a.png", {"image_url": None, "image_file": "/site/a.png"}, "editMessageCaption"),
        ("https://news.example.com/old.jpg", {}, "editMessageMedia"),
        ("https://news.example.com/a.jpg", {"image_file": "/site/a.png"}, "editMessageMedia"),
    ],
)  # fmt: skip
def test_an_edit_keeps_the_kind_of_message_sent(
    shown: str | None, changes: dict[str, object], method: str
) -> None:
    """A text stays a text; a photo's caption is edited, and its media when the image changed."""
    assert render_edit(message(**changes), 5, message_id=9, shown=shown)[0] == method


def test_the_edits_of_each_kind() -> None:
    """Each edit carries the same HTML and button as a send, for one message of one chat."""
    target = {"chat_id": 5, "message_id": 9, "reply_markup": BUTTON}
    assert render_edit(message(), 5, message_id=9, shown=None) == (
        "editMessageText",
        {**target, "text": CAPTION, "parse_mode": "HTML"},
    )
    assert render_edit(message(), 5, message_id=9, shown="https://news.example.com/a.jpg") == (
        "editMessageCaption",
        {**target, "caption": CAPTION, "parse_mode": "HTML"},
    )
    media = {
        "type": "photo",
        "media": "https://news.example.com/b.jpg",
        "caption": CAPTION,
        "parse_mode": "HTML",
    }
    new = message(image_url="https://news.example.com/b.jpg")
    assert render_edit(new, 5, message_id=9, shown="https://news.example.com/a.jpg") == (
        "editMessageMedia",
        {**target, "media": media},
    )


def test_a_new_local_image_is_an_upload_in_the_media() -> None:
    """A correction to a local file names it attach://<path> inside the InputMediaPhoto."""
    new = message(image_file="/site/assets/b.png")
    method, params = render_edit(new, 5, message_id=9, shown="https://news.example.com/a.jpg")
    assert method == "editMessageMedia"
    assert params["media"]["media"] == "attach:///site/assets/b.png"
    assert upload_of(params) == "/site/assets/b.png"


def test_a_photo_that_lost_its_image_keeps_a_captions_limit() -> None:
    """The caption of a sent photo stays within 1,024 units, though the post is text now."""
    long = message(image_url=None, excerpt="말 " * 3000)
    _, params = render_edit(long, 5, message_id=9, shown="https://news.example.com/a.jpg")
    assert MAX_TEXT >= length(render(long).text) > MAX_CAPTION >= length(params["caption"])


def test_a_deletion() -> None:
    """A retraction deletes the one message, and names no upload."""
    assert render_delete(-1001, message_id=9) == (
        "deleteMessage",
        {"chat_id": -1001, "message_id": 9},
    )
    assert upload_of(render_delete(-1001, message_id=9)[1]) is None
    assert upload_of(render(message()).params(1, DEFAULTS)) is None


def test_the_text_fallback_for_a_refused_image() -> None:
    """The same post without its photo goes as text, with the 4,096 limit."""
    call = render(message(excerpt="말 " * 3000), with_photo=False)
    assert call.method == "sendMessage"
    assert MAX_CAPTION < length(call.text) <= MAX_TEXT


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("5.18 민주화운동 기념식", "5.18 민주화운동 기념식"),
        ("1. 임영웅", "1. 임영웅"),
        ("#1 뉴스 *속보* _a_ ~b~ |c| `d`", "#1 뉴스 *속보* _a_ ~b~ |c| `d`"),
        ("> 인용 - 목록 \\ [e](f)", "&gt; 인용 - 목록 \\ [e](f)"),
        ("<탄탄한> \"지지\" & '기반'", "&lt;탄탄한&gt; \"지지\" &amp; '기반'"),
    ],
)
def test_html_escapes_only_ampersands_and_angle_brackets(title: str, shown: str) -> None:
    """Telegram's HTML has no Markdown: only `&`, `<`, `>` are escaped, quotes stay in text."""
    text = render(message(title=title, excerpt="", categories=())).text
    assert text == f'<b><a href="{HREF}">{shown}</a></b>'


def test_the_link_escapes_what_ends_its_attribute() -> None:
    """In `href="…"`: `&`, `<`, `>` and `"`; an apostrophe needs nothing."""
    text = render(message(url="https://x.org/?a=1&b='2'", excerpt="", categories=())).text
    assert text.startswith("<b><a href=\"https://x.org/?a=1&amp;b='2'\">")


def test_a_day_without_a_time_changes_nothing() -> None:
    """The caption shows no date (Telegram stamps each message itself): the same either way."""
    day = message(date=datetime(2024, 7, 13, tzinfo=SEOUL), is_timed=False)
    assert render(day).params(1, DEFAULTS) == render(message()).params(1, DEFAULTS)
    assert render(day).text == CAPTION


def test_a_long_excerpt_is_cut_to_the_caption_limit() -> None:
    """The excerpt gives way; the title and tags stay; the cut ends in "…"."""
    call = render(message(excerpt="한미동맹은 굳건하다. " * 200))
    text = visible_text(call.text)
    assert length(call.text) <= MAX_CAPTION
    assert text.startswith("한미동맹, 여야 모두 <탄탄한> 지지 & 기반\n\n")
    assert text.endswith("…\n\n#News #한미_관계")


@given(
    title=st.text(min_size=1, max_size=600),
    excerpt=st.text(max_size=6000),
    categories=st.lists(st.text(max_size=30), max_size=40),
    photo=st.booleans(),
)
def test_any_post_renders_to_html_telegram_accepts_within_the_limit(
    title: str, excerpt: str, categories: list[str], photo: bool
) -> None:
    """Whatever the post says, the HTML parses, fits, and cuts only between graphemes."""
    call = render(message(title=title, excerpt=excerpt, categories=tuple(categories),
                          image_url="https://x.org/a.jpg" if photo else None))  # fmt: skip
    try:
        shown = visible_text(call.text)
    except ParseError as error:  # pragma: no cover - the failure message is the point
        raise AssertionError(f"Telegram would refuse: {error}\n{call.text}") from None
    assert length(call.text) <= (MAX_CAPTION if photo else MAX_TEXT)
    parts = shown.split("\n\n")
    assert is_cut_of(parts[0], clean_text(title))
    if clean_text(excerpt) and len(parts) > 1 and not parts[1].startswith("#"):
        assert is_cut_of(parts[1], clean_text(excerpt))


def is_cut_of(shown: str, original: str) -> bool:
    """`shown` is `original`, or its first whole graphemes followed by "…"."""
    if shown == original:
        return True
    head = shown.removesuffix("…")
    boundaries = {0}
    for match in GRAPHEMES.finditer(original):
        boundaries.add(match.end())
    return shown.endswith("…") and original.startswith(head) and len(head) in boundaries
