"""Markup reduction: Markdown, HTML and Liquid to plain-text blocks and image sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.markup import (
    Block,
    BlockKind,
    inline_plain_text,
    join_blocks,
    plain_text,
    read_html,
    read_images,
    read_markup,
    strip_liquid,
)
from bot.render.text import clean_text

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def test_a_tistory_html_body_reads_as_blocks() -> None:
    """The seeds' HTML body: headings, paragraphs, table cells and list items, no tags."""
    body = """
<p><img src="/assets/img/banner.jpg" alt="속보" /></p>
<h2 data-ke-size="size26">한미동맹의 미래 전망</h2>
<p data-ke-size="size16">장호진 <b><span style="color: #1a5490;">국가안보실장</span></b>은 말했다.</p>
<table><tr><td><b>미국 대선</b></td><td>재집권</td></tr></table>
<p data-ke-size="size16">&nbsp;</p>
<ul><li><b>러시아</b></li></ul>
<script>alert("no")</script><style>p { color: red }</style>
"""
    extract = read_markup(body)
    assert extract.blocks == [
        Block(BlockKind.HEADING, "한미동맹의 미래 전망"),
        Block(BlockKind.PARAGRAPH, "장호진 국가안보실장은 말했다."),
        Block(BlockKind.TABLE, "미국 대선"),
        Block(BlockKind.TABLE, "재집권"),
        Block(BlockKind.LIST, "러시아"),
    ]
    assert extract.images == ["/assets/img/banner.jpg"]


def test_markdown_reads_as_blocks() -> None:
    """Markdown headings, paragraphs, lists, quotes and code become typed blocks."""
    body = "# Title\n\nSome *em* and `code` with [a link](http://x).\n\n- item one\n\n> quoted\n\n```\ncode block\n```\n\n|a|b|\n|-|-|\n|1|2|\n"
    assert [(b.kind, b.text) for b in read_markup(body).blocks] == [
        (BlockKind.HEADING, "Title"),
        (BlockKind.PARAGRAPH, "Some em and code with a link."),
        (BlockKind.LIST, "item one"),
        (BlockKind.QUOTE, "quoted"),
        (BlockKind.CODE, "code block"),
        (BlockKind.TABLE, "a"),
        (BlockKind.TABLE, "b"),
        (BlockKind.TABLE, "1"),
        (BlockKind.TABLE, "2"),
    ]


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("a {% comment %} hidden {{ x }} {% endcomment %} b", "a  b"),
        ("{{ page.title }} and {%- raw -%}x{%- endraw -%}", " and x"),
        ("{% highlight ruby %}\ncode\n{% endhighlight %}", "\n```\n\ncode\n\n```\n"),
        ("Tip.\n{: .prompt-tip }", "Tip.\n"),
        ("{{< hugo shortcode >}} text", " text"),
        ("unclosed {% tag and {{ output", "unclosed {% tag and {{ output"),
    ],
)
def test_strip_liquid(markup: str, expected: str) -> None:
    """Liquid tags, outputs, comments and kramdown attributes go; unclosed ones stay as text."""
    assert strip_liquid(markup) == expected


@pytest.mark.parametrize(
    ("markup", "images"),
    [
        ("![a](/one.png) <img src='/two.png'>", ["/one.png", "/two.png"]),
        ('<p><img src="https://x.org/a.jpg?w=1&amp;h=2"></p>', ["https://x.org/a.jpg?w=1&h=2"]),
        ("<img alt='no source'>", []),
        ("<script><img src='/hidden.png'></script>", []),
    ],
)
def test_image_sources_in_reading_order(markup: str, images: list[str]) -> None:
    """Images come out in the order a reader sees them, entities decoded, scripts skipped."""
    assert read_markup(markup).images == images


def test_plain_text_and_inline_plain_text() -> None:
    """Blocks join with blank lines in plain text, with spaces in inline text."""
    markup = "# Head\n\nPara <b>one</b>.\n\nPara two."
    assert plain_text(markup) == "Head\n\nPara one.\n\nPara two."
    assert inline_plain_text(markup) == "Head Para one. Para two."


# The price table of a real generator's post (koreanews/2024-06-13-56.md), as it writes it.
KOREANEWS_TABLE = (  # its lines end in two spaces (Markdown's hard break), as in the file
    "아래는 각각의 청소 비용을 나타낸 표입니다.\n\n"
    "**에어컨 방식** | **클리닝 방식** | **금액**  \n"
    "---|---|---  \n"
    "1way 방식 | 에어컨 완전분해 | 80,000원  \n"
    "1way 방식 | 에어컨 필터세척 | 35,000원  \n"
    "  \n"
    "에어컨 청소 견적 샘플 보기\n"
)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (KOREANEWS_TABLE, "아래는 각각의 청소 비용을 나타낸 표입니다. 에어컨 방식 · 클리닝 방식 · 금액 · "
         "1way 방식 · 에어컨 완전분해 · 80,000원 · 1way 방식 · 에어컨 필터세척 · 35,000원 · "
         "에어컨 청소 견적 샘플 보기"),
        ("| 방식 | 금액 |\n|---|---|\n| 1way | 80,000원 |", "방식 · 금액 · 1way · 80,000원"),
        ("<table><tr><th>방식</th><th>금액</th></tr><tr><td><b>1way</b></td><td>80,000원</td></tr>"
         "</table>", "방식 · 금액 · 1way · 80,000원"),
        ("<table><tr><td>a<td>b</table>", "a · b"),
        ("<ul><li>사과</li><li>배</li></ul><ol><li>one</li><li>two</li></ol>", "사과 · 배 · one · two"),
        ("- 사과\n- 배\n\n1. one\n2. two", "사과 · 배 · one · two"),
        ("- 첫째 항목입니다.\n- 둘째 항목입니다.", "첫째 항목입니다. 둘째 항목입니다."),
        ("항목은 이렇다:\n\n- 사과\n- 배\n\n끝.", "항목은 이렇다: 사과 · 배 · 끝."),
        ("# 제목\n\n- 사과", "제목 · 사과"),
        ("Line one<br>line two<br/>three<br />four<BR>five", "Line one line two three four five"),
        ("<p>Line one<br>line two</p><p>Next</p>", "Line one line two Next"),
        ("a</td><td>b</td>", "a · b"),  # cells inside a line of Markdown
        ("목록<li>사과</li><li>배</li>", "목록 · 사과 · 배"),
        ("one</p><p>two<div>three</div>", "one two three"),
        ("<span>방식</span><span>클리닝</span>", "방식클리닝"),  # inline tags join, as shown
    ],
)  # fmt: skip
def test_cells_and_items_are_never_glued(markup: str, expected: str) -> None:
    """Table cells and list items read on one line stand apart: " · ", or their own sentences."""
    assert inline_plain_text(markup) == expected


def test_a_line_break_stays_inside_its_block() -> None:
    """An HTML <br> breaks a line, not a paragraph: the first paragraph is the whole paragraph."""
    assert read_html("<p>One<br>two</p><p>Three</p>").blocks == [
        Block(BlockKind.PARAGRAPH, "One two"),
        Block(BlockKind.PARAGRAPH, "Three"),
    ]
    assert read_html("<td>a<br/>b</td>").blocks == [Block(BlockKind.TABLE, "a b")]


def markdown_line(markup: str) -> str:
    """What inline_plain_text says when it reads `markup` as Markdown (its slow path)."""
    return clean_text(join_blocks(read_markup(markup).blocks))


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("  한미동맹,  여야 모두\n\n  탄탄한 지지 기반.  ", "한미동맹, 여야 모두 탄탄한 지지 기반."),
        ("    indented (a code block)\nstill 'words' / here; ok?", "indented (a code block) still 'words' / here; ok?"),
        ("2024년 7월, 1.5배", "2024년 7월, 1.5배"),
        ("1. first\n2) second", "first · second"),  # ordered lists: the markers go
        ("  3. third", "third"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("a\rb", "a b"),  # a line break to Markdown, not a character to drop
        ("a\x00b", "a\ufffdb"),
        ("a\u202eb\x0bc", "abc"),
        ("# Head\n*em* `code` <b>b</b> [l](u)", "Head em code b l"),
        ("", ""),
    ],
)  # fmt: skip
def test_inline_plain_text(markup: str, expected: str) -> None:
    """Inline text is the words Markdown shows, whether or not the text holds any markup."""
    assert inline_plain_text(markup) == expected == markdown_line(markup)


@given(
    st.text(
        alphabet=st.sampled_from(
            list(" \t\n\r\x00\x0b\x1c\x85\xa0\u2028\u3000\u202e.,'\"?/;()019가a")
        )
        | st.characters(),
        max_size=80,
    )
)
def test_inline_plain_text_reads_plain_text_as_markdown_does(markup: str) -> None:
    """Text without markup, read without Markdown, gives exactly what Markdown gives."""
    assert inline_plain_text(markup) == markdown_line(markup)


@given(
    st.lists(
        st.sampled_from(
            [*"<>/=\"' aimgsrc!-&;#{}%*_[]()`\n|:\t", "<img src=", "<IMG SRC='x.png'>", "![a](",
             "![", "![r]", "[r]: /r.png\n", "{% x %}", "{{", "%}", "    ", "```\n", "<script>",
             "<!--", "<p>", "\n\n", "> ", "- ", "<img src=a.png>", "<br>", "src='b.png'"]
        ),
        max_size=30,
    ).map("".join)
)  # fmt: skip
def test_read_images_lists_what_read_markup_lists(markup: str) -> None:
    """Reading only the images gives the same sources, in the same order, as reading it all."""
    assert read_images(markup) == read_markup(markup).images


@pytest.mark.parametrize(
    "fragment",
    [
        "",
        "   ",
        "<div>" * 10_000,
        "<!--" * 10_000,
        "<img " * 10_000,
        "</p>" * 100,
        "<?xml ?>",
        "&#xffffff;",
    ],
    ids=["empty", "blank", "deep", "comments", "unclosed-img", "stray-ends", "pi", "bad-entity"],
)
def test_hostile_html_never_raises(fragment: str) -> None:
    """Broken or hostile HTML reduces to some text (maybe none) without an error or a hang."""
    extract = read_html(fragment)
    assert all("<" not in block.text for block in extract.blocks)


@given(
    st.text(
        alphabet=st.sampled_from(list("<>/=\"' abp!-&;#{}%*_[]()`\n")) | st.characters(),
        max_size=400,
    )
)
def test_any_markup_reduces_to_clean_blocks(markup: str) -> None:
    """Any input at all yields blocks of non-empty, trimmed, single-spaced text."""
    for block in read_markup(markup).blocks:
        assert block.text
        assert block.text == block.text.strip()
        assert "  " not in block.text
        assert "\n" not in block.text


@given(
    st.lists(
        st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20),
        min_size=1,
        max_size=8,
    )
)
def test_html_paragraphs_keep_their_words(words: list[str]) -> None:
    """Words wrapped in paragraph and inline tags come out in order and intact."""
    markup = "".join(f"<p><b>{word}</b></p>" for word in words)
    assert [block.text for block in read_html(markup).blocks] == words


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared/seeds is not beside this clone")
def test_the_seed_posts_read_cleanly() -> None:
    """Both seed bodies reduce to blocks without a tag or entity left in them."""
    for seed in sorted(SEEDS.iterdir()):
        body = seed.read_text(encoding="utf-8").split("---", 2)[2]
        blocks = read_markup(body).blocks
        assert blocks[0].kind is BlockKind.HEADING
        assert not any("<" in b.text or "&nbsp;" in b.text for b in blocks)
