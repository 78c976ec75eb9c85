"""The Discord renderer: one embed within Discord's limits, and the exact bodies that send it."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.model import DiscordOptions, Entry, Reply
from bot.render.discord import (
    DEFAULT_COLOR,
    MAX_AUTHOR,
    MAX_CONTENT,
    MAX_DESCRIPTION,
    MAX_FOOTER,
    MAX_TITLE,
    MAX_TOTAL,
    color_of,
    render,
    reply_contents,
)
from bot.render.text import utf16_len
from tests.test_render_telegram import SEOUL, message


def test_an_embed_for_a_korean_news_post() -> None:
    """Hashtags above the linked title, escaped description, image, category colour, footer,
    timestamp, button."""
    body = render(
        message(excerpt="**굵게** _기울임_ [링크](https://evil.example) @everyone"),
        colors={"News": 0x1A5490},
    ).payload(DiscordOptions())
    assert body == {
        "embeds": [{
            "type": "rich",
            "author": {"name": "#News #한미_관계"},  # "2024" alone makes no tag
            "title": "한미동맹, 여야 모두 <탄탄한> 지지 & 기반",  # nothing Discord renders
            "url": 'https://news.example.com/news/2925.html?utm_source=tg&a="b"',
            "color": 0x1A5490,
            "timestamp": "2024-07-13T09:30:00+09:00",
            "description": "\\*\\*굵게\\*\\* \\_기울임\\_ \\[링크\\](https://evil.example) @everyone",
            "footer": {"text": "koreablockchain"},
            "image": {"url": "https://news.example.com/a.jpg"},
        }],
        "components": [{"type": 1, "components": [
            {"type": 2, "style": 5, "label": "기사 보기", "url": 'https://news.example.com/news/2925.html?utm_source=tg&a="b"'}]}],
        "allowed_mentions": {"parse": []},
    }  # fmt: skip


URL = 'https://news.example.com/news/2925.html?utm_source=tg&a="b"'
LONG_URL = "https://news.example.com/" + "%EC%86%8D" * 60  # Discord refuses buttons over 512
BUTTON = [{"type": 1, "components": [{"type": 2, "style": 5, "label": "기사 보기", "url": URL}]}]
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
UPLOAD = [{"id": 0, "filename": "image.jpeg"}]  # the multipart form's part files[0]
LOCAL = {"image_file": "/site/assets/배너.JPEG"}


@pytest.mark.parametrize(
    ("changes", "options", "expected"),
    [
        ({}, DiscordOptions(), {"components": BUTTON, "allowed_mentions": NO_MENTIONS}),
        ({}, DiscordOptions(mention_role=123), {
            "components": BUTTON, "content": "<@&123>",
            "allowed_mentions": {"parse": [], "roles": ["123"]},
        }),
        ({}, DiscordOptions(crosspost=True), {"components": BUTTON, "allowed_mentions": NO_MENTIONS}),
        ({"url": LONG_URL}, DiscordOptions(), {"allowed_mentions": NO_MENTIONS}),
        (LOCAL, DiscordOptions(), {
            "components": BUTTON, "allowed_mentions": NO_MENTIONS, "attachments": UPLOAD,
        }),
    ],
    ids=["plain", "role mention", "crosspost", "link too long", "local image"],
)  # fmt: skip
def test_the_body_of_a_post_for_a_channel(
    changes: dict[str, object], options: DiscordOptions, expected: dict[str, object]
) -> None:
    """Mentions off but for the channel's role; a button unless the link is too long for one;
    a local image named as the upload it is; crossposting is a request of its own."""
    shown = render(message(**changes))
    assert shown.payload(options) == {"embeds": [shown.embed], **expected}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"components": BUTTON, "attachments": []}),
        ({"url": LONG_URL}, {"components": [], "attachments": []}),
        (LOCAL, {"components": BUTTON, "attachments": UPLOAD}),
    ],
    ids=["plain", "link too long", "local image"],
)
def test_the_body_of_a_correction(changes: dict[str, object], expected: dict[str, object]) -> None:
    """A correction replaces the embed, the button and the attachments (an old image with them);
    its content and mentions stay as sent."""
    shown = render(message(**changes))
    assert shown.correction() == {"embeds": [shown.embed], **expected}


def test_a_local_image_is_an_attachment() -> None:
    """A checked local image is attached under a plain ASCII name and shown with attachment://."""
    rendered = render(message(image_file="/site/assets/배너.JPEG"))
    assert (rendered.attachment, rendered.attachment_name) == (
        "/site/assets/배너.JPEG",
        "image.jpeg",
    )
    assert rendered.embed["image"] == {"url": "attachment://image.jpeg"}
    assert render(message(image_file="/site/a/photo.사진")).attachment_name == "image"


def test_a_link_too_long_for_a_button_still_links_the_title() -> None:
    """Discord refuses a button URL over 512 characters: the title still links."""
    assert render(message(url=LONG_URL)).embed["url"] == LONG_URL


def test_colours_by_category_case_insensitive_with_a_default() -> None:
    """The first category with a colour decides; none: the default red."""
    assert color_of(("World", "정치"), {"정치": 1, "world": 2}) == 2
    assert color_of(("Sport",), {"정치": 1}) == DEFAULT_COLOR


@given(
    title=st.text(min_size=1, max_size=400),
    excerpt=st.text(max_size=7000),
    site=st.text(max_size=3000),
    categories=st.lists(st.text(max_size=40), max_size=30),
)
def test_any_post_fits_discords_embed_limits(
    title: str, excerpt: str, site: str, categories: list[str]
) -> None:
    """Title ≤ 256, description ≤ 4,096, author ≤ 256, everything ≤ 6,000, escapes included."""
    embed = render(
        message(title=title, excerpt=excerpt, site_name=site, categories=tuple(categories))
    ).embed
    sizes = [
        utf16_len(embed["title"]),
        utf16_len(embed.get("description", "")),
        utf16_len(embed.get("footer", {}).get("text", "")),
        utf16_len(embed.get("author", {}).get("name", "")),
    ]
    assert sizes[0] <= MAX_TITLE
    assert sizes[1] <= MAX_DESCRIPTION
    assert sizes[2] <= MAX_FOOTER
    assert sizes[3] <= MAX_AUTHOR
    assert sum(sizes) <= MAX_TOTAL


URL_IN_TEXT = "https://news.example.com/2024/05/18/a_b/?x=*y*"

# What Discord is sent for one text in each field: the embed title (inline Markdown, no lists,
# headings, quotes, masked links or mentions), the description (full Markdown), the footer (plain
# text) and a reply's content (full Markdown, links as `<url>`). No backslash before a letter,
# digit or space, where Discord would show it.
FIELDS = [
    ("5.18 민주화운동 기념식", "5.18 민주화운동 기념식", "5.18 민주화운동 기념식", "5.18 민주화운동 기념식"),
    ("1. 임영웅", "1. 임영웅", "1\\. 임영웅", "1\\. 임영웅"),
    ("4.10 총선", "4.10 총선", "4.10 총선", "4.10 총선"),
    ("#1 뉴스", "#1 뉴스", "#1 뉴스", "#1 뉴스"),
    ("# 속보", "# 속보", "\\# 속보", "\\# 속보"),
    ("*속보*", "\\*속보\\*", "\\*속보\\*", "\\*속보\\*"),
    ("> 인용", "> 인용", "\\> 인용", "\\> 인용"),
    ("- 목록", "- 목록", "\\- 목록", "\\- 목록"),
    ("a_b ~~c~~ ||d|| `e`", "a\\_b \\~\\~c\\~\\~ \\|\\|d\\|\\| \\`e\\`",
     "a\\_b \\~\\~c\\~\\~ \\|\\|d\\|\\| \\`e\\`", "a\\_b \\~\\~c\\~\\~ \\|\\|d\\|\\| \\`e\\`"),
    (f"원문 {URL_IN_TEXT}", f"원문 {URL_IN_TEXT}", f"원문 {URL_IN_TEXT}", f"원문 <{URL_IN_TEXT}>"),
    ("[기사](https://evil.example) <@123>", "[기사](https://evil.example) <@123>",
     "\\[기사\\](https://evil.example) \\<@123>", "\\[기사\\](<https://evil.example>) \\<@123>"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "title", "description", "content"), FIELDS)
def test_each_field_escapes_what_discord_renders_there(
    text: str, title: str, description: str, content: str
) -> None:
    """Headlines like `5.18 …` and `1. …` keep their look in the title; the description and a
    reply escape lists, headings and quotes; the footer and the button show text as it is."""
    shown = render(message(title=text, excerpt=text, site_name=text, language="ko"))
    assert shown.embed["title"] == title
    assert shown.embed["description"] == description
    assert shown.embed["footer"] == {"text": text}
    assert shown.button_label == "기사 보기"
    assert reply_contents(Reply((text,))) == [content]


def test_categories_are_hashtags_above_the_title() -> None:
    """As Telegram's caption ends with them: unique, made valid, plain text (no escapes)."""
    embed = render(message(categories=("정치", "한미 관계", "2024", "정치", "a_b"))).embed
    assert embed["author"] == {"name": "#정치 #한미_관계 #a_b"}
    assert "author" not in render(message(categories=())).embed
    assert "author" not in render(message(categories=("2024", "!!!"))).embed


def test_many_categories_are_cut_between_tags_and_counted() -> None:
    """Past 200 units the tags stop at a whole tag; they count toward the 6,000, and the
    description gives way to them."""
    many = tuple(f"분야{n:03}" for n in range(100))  # "#분야000": 6 units, 7 with its space
    long = {"title": "가" * 300, "excerpt": "말 " * 4000, "site_name": "사" * 3000}
    embed = render(message(categories=many, **long)).embed
    assert embed["author"]["name"] == " ".join(f"#분야{n:03}" for n in range(28))  # 195 units
    sizes = [embed["title"], embed["description"], embed["footer"]["text"], embed["author"]["name"]]
    assert MAX_TOTAL - 5 <= sum(map(utf16_len, sizes)) <= MAX_TOTAL
    untagged = render(message(categories=(), **long)).embed
    assert utf16_len(untagged["description"]) - utf16_len(embed["description"]) >= 195


def test_a_timed_post_has_a_timestamp_and_a_day_has_none() -> None:
    """Discord shows an embed's timestamp as a time of day: a post dated by day alone has none,
    and its footer shows the site's name only."""
    timed = render(message()).embed
    assert timed["timestamp"] == "2024-07-13T09:30:00+09:00"
    day = render(message(date=datetime(2024, 7, 13, tzinfo=SEOUL), is_timed=False)).embed
    assert "timestamp" not in day
    assert day["footer"] == {"text": "koreablockchain"}
    assert {**day, "timestamp": timed["timestamp"]} == timed


def test_a_reply_escapes_markdown_keeps_links_and_splits_between_lines() -> None:
    """Titles can't format or link; URLs stay clickable without previews; ≤ 2,000 per message."""
    listing = Reply(("최신 글:", "11-22 09:00 *속보* [a_b]\n  https://news.example.com/a_b/"))
    assert reply_contents(listing) == [
        "최신 글:\n11-22 09:00 \\*속보\\* \\[a\\_b\\]\n  <https://news.example.com/a_b/>"
    ]
    link = "https://news.example.com/" + "a" * 1000
    assert reply_contents(Reply(("*" * 1000 + " " + link,))) == [
        "\\*" * 899 + "…"
    ]  # cut before escaping: no link half kept, no lone backslash
    long = Reply(tuple(f"{n:02} " + "가" * 600 for n in range(5)))
    parts = reply_contents(long)
    assert [part[:2] for part in parts] == ["00", "03"]  # three lines fit, then two
    assert all(utf16_len(part) <= MAX_CONTENT for part in parts)


@given(st.lists(st.text(min_size=1, max_size=3000), min_size=1, max_size=8))
def test_any_reply_fits_discord_messages(lines: list[str]) -> None:
    """Whatever the lines, every message is non-empty and within 2,000 UTF-16 units."""
    parts = reply_contents(Reply(tuple(lines)))
    assert parts
    assert all(0 < utf16_len(part) <= MAX_CONTENT for part in parts)


def test_a_list_of_posts_is_linked_titles_over_small_lines() -> None:
    """Each listed post: its title as a link without a preview (`<url>`), brackets in the
    title escaped, a parenthesis in the URL encoded; the admins' key as code; then `-# `
    with its date and categories."""
    reply = Reply(
        ("Latest posts:",),
        entries=(
            Entry("[속보] 5.18 기념식", "https://n.kr/a_(b)/", "11-22 08:00", ("정치",)),
            Entry("Rates", "https://n.kr/r/", "2025-01-02", (), key="2025-01-02-rates"),
        ),
    )
    assert reply_contents(reply) == [
        "Latest posts:\n"
        "[\\[속보\\] 5.18 기념식](<https://n.kr/a_%28b%29/>)\n-# 11-22 08:00 · 정치\n"
        "[Rates](<https://n.kr/r/>) `2025-01-02-rates`\n-# 2025-01-02"
    ]
