"""Table tests of the post parser: every rule of DESIGN.md "Posts", one row each."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.config import SiteConfig
from bot.errors import PostError
from bot.excerpt import EXCERPT_MOST, cut_excerpt, first_headline
from bot.model import DateSource
from bot.posts import BODY_SCAN_CHARS
from bot.render.text import utf16_len
from tests.conftest import NOW, parse, post_file

SEOUL = timezone(timedelta(hours=9))


def test_a_seed_shaped_post_reads_every_field(site: SiteConfig) -> None:
    """A post like the seeds gives its title, category, excerpt, image, date and link."""
    raw = post_file(
        """
title: 한미동맹, 여야 모두 탄탄한 지지 기반 갖춰
categories:
  - News
excerpt: >
  미국 대선, 한미동맹, 푸틴 방북 등 다양한 이슈가 혼재된 논란이 끊이지 않고 있다.
  장호진 국가안보실장은 트럼프 재집권 가능성을 언급했다.
feature_text: >
  ## koreablockchain 실시간 뉴스 속보입니다.
image: '/assets/img/newsdao_breakingnews.jpg'
""",
        '\n<p><img src="/assets/img/newsdao_breakingnews.jpg" alt="속보" /></p>\n',
    )
    post = parse(raw, site, path="2024-07-13-2925.md")
    assert post.key == "2024-07-13-2925"
    assert post.title == "한미동맹, 여야 모두 탄탄한 지지 기반 갖춰"
    assert post.categories == ("News",)
    assert post.excerpt == (
        "미국 대선, 한미동맹, 푸틴 방북 등 다양한 이슈가 혼재된 논란이 끊이지 않고 있다. "
        "장호진 국가안보실장은 트럼프 재집권 가능성을 언급했다."
    )
    assert post.image_url == "https://news.example.com/assets/img/newsdao_breakingnews.jpg"
    assert post.image_path == "assets/img/newsdao_breakingnews.jpg"
    assert post.date == datetime(2024, 7, 13, tzinfo=SEOUL)
    assert post.date_source is DateSource.FILENAME
    assert post.url == "https://news.example.com/news/2024/07/13/2925.html"
    assert post.is_published


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("title: no", "no"),  # YAML 1.1 would make this False
        ("title: 2013", "2013"),
        ("title: 'It''s here'", "It's here"),
        ('title: "Tab\\there"', "Tab here"),
        ("title: Special&nbsp;---&nbsp;Characters", "Special --- Characters"),
        ("title: '  spaced   out  '", "spaced out"),
        ("title: >\n  folded\n  title", "folded title"),
        ("title: 'x \u202eevil\u202c'", "x evil"),
        (
            "title: [올림픽] 한국사격 금메달 양궁 3관왕 탄생!",
            "[올림픽] 한국사격 금메달 양궁 3관왕 탄생!",
        ),
        ("title: `AI특수`로 삼성 HBM 혁신", "`AI특수`로 삼성 HBM 혁신"),
        ("title: '장금이' 전국 확대, 예방 프로젝트!", "'장금이' 전국 확대, 예방 프로젝트!"),
        ("title: 1. 외연확장\n2. 민생\n3. 보수재건", "외연확장"),  # numbered: the first one
        ("title: 5.18 민주화운동 기념식", "5.18 민주화운동 기념식"),
    ],
)
def test_title_keeps_its_source_text(site: SiteConfig, front: str, expected: str) -> None:
    """Titles are the text as written: no YAML typing, entities decoded, whitespace collapsed;
    of a title of numbered headlines, the first headline."""
    assert parse(post_file(front + "\ncategories: [a]"), site).title == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("# Markdown heading\n\ntext", "Markdown heading"),
        ("<p>intro</p><h2 class='x'>HTML <b>heading</b></h2>", "HTML heading"),
        ("Setext heading\n==============\n", "Setext heading"),
    ],
)
def test_title_falls_back_to_the_first_heading(site: SiteConfig, body: str, expected: str) -> None:
    """Without a `title`, the body's first heading is the title."""
    assert parse(post_file("categories: a", body), site).title == expected


@pytest.mark.parametrize(
    ("front", "body", "reason", "line"),
    [
        ("categories: a", "just text", "no title: no `title:`", None),
        ("subtitle: not a title", "", "no title: no `title:`", None),
        ("title: ''", "", "no title", None),
        ("categories:\n  - a\n: broken [", "", "no title can be recovered: invalid YAML", 4),
    ],
)
def test_a_post_without_any_title_is_refused(
    site: SiteConfig, front: str, body: str, reason: str, line: int | None
) -> None:
    """No title anywhere is a refusal naming the file (and the YAML error's line)."""
    with pytest.raises(PostError) as caught:
        parse(post_file(front, body), site, path="a/2024-01-01-x.md")
    assert caught.value.path == "a/2024-01-01-x.md"
    assert caught.value.reason.startswith(reason)
    assert caught.value.line == line
    assert str(caught.value).startswith("a/2024-01-01-x.md")


@pytest.mark.parametrize(
    ("front", "categories", "tags"),
    [
        ("categories:\n  - News\n  - 스포츠", ("News", "스포츠"), ()),
        ("categories: [Blogging, Demo]", ("Blogging", "Demo"), ()),
        ("categories: updates jekyll", ("updates", "jekyll"), ()),
        ("category: release", ("release",), ()),
        ("category: 2013", ("2013",), ()),
        ("category: New York", ("New York",), ()),  # a single category is not split
        ("categories: a b\ncategory: c", ("a", "b", "c"), ()),
        ("categories: [a, a, b]", ("a", "b"), ()),
        ("categories:\ntags:", (), ()),
        ("categories: []", (), ()),
        ("tags: formatting links", (), ("formatting", "links")),
        ("tags: [writing]\ntag: extra", (), ("writing", "extra")),
        ("tags: وبلاگ جکیل هکر", (), ("وبلاگ", "جکیل", "هکر")),
    ],
)
def test_categories_and_tags_in_every_shape(
    site: SiteConfig, front: str, categories: tuple[str, ...], tags: tuple[str, ...]
) -> None:
    """Lists, flow lists, space-separated strings, `category`, numbers and empties all read."""
    post = parse(post_file("title: t\n" + front), site)
    assert post.categories == categories
    assert post.tags == tags


@pytest.mark.parametrize(
    ("front", "body", "excerpt"),
    [
        ("excerpt: Given **bold** text", "<p>body</p>", "Given bold text"),
        ("description: Described", "<p>body</p>", "Described"),
        ("summary: <b>Summed</b> up", "<p>body</p>", "Summed up"),
        ("excerpt: ''\ndescription: second choice", "", "second choice"),
        (
            "",
            "<p><img src='/a.png'></p>\n<h2>Head</h2>\n<p>&nbsp;</p>\n<p>First <b>real</b></p>",
            "First real",
        ),
        (
            "",
            "# Heading\n\nThe first [linked](http://x) paragraph.\n\nSecond.",
            "The first linked paragraph.",
        ),
        (
            "",
            "{% include figure.liquid path='x' %}\n\nAfter {{ site.title }} liquid.",
            "After liquid.",
        ),
        ("", "{% highlight ruby %}\ncode here\n{% endhighlight %}\n\nProse.", "Prose."),
        ("", "- a list item\n\nThe paragraph.", "The paragraph."),
        (
            "excerpt_separator: <!--more-->",
            "Intro one.\n\nIntro two.\n<!--more-->\nRest.",
            "Intro one. Intro two.",
        ),
        ("", "{: .prompt-tip }\nTip text.", "Tip text."),
        ("", "", ""),
        (
            "excerpt: >\n  첫 문장입니다. 둘째 문장입니다. 셋째는 빠집니다.",
            "",
            "첫 문장입니다. 둘째 문장입니다.",
        ),
        ("", "<p>One.<br />Two. Three.</p>", "One. Two."),
        ("", "First line<br />second line.", "First line second line."),
        (
            "excerpt_separator: <!--more-->",
            "표입니다:\n\n**방식** | **클리닝 방식** | **금액**  \n---|---|---  \n"
            "1way 방식 | 완전분해 | 80,000원\n<!--more-->\nRest.",
            "표입니다: 방식 · 클리닝 방식 · 금액 · 1way 방식 · 완전분해 · 80,000원",
        ),
        (
            "excerpt_separator: <!--more-->",
            "<ul><li>첫째</li><li>둘째</li></ul>\n\n<!--more-->",
            "첫째 · 둘째",
        ),
    ],
)
def test_excerpt_sources(site: SiteConfig, front: str, body: str, excerpt: str) -> None:
    """The excerpt is the front matter's, else the body's first real paragraph, as plain text:
    two sentences at most, cells and items set apart."""
    assert parse(post_file("title: t\n" + front, body), site).excerpt == excerpt


def test_a_long_excerpt_is_cut_whatever_its_source(site: SiteConfig) -> None:
    """Front matter, separator and first paragraph alike give at most EXCERPT_MOST units."""
    phrase = "긴 문장은 끝나지 않고 이어진다 "  # 18 units, never a sentence's end
    for front, body in [
        (f"excerpt: {phrase * 40}", ""),
        ("excerpt_separator: <!--more-->", f"{phrase * 40}\n<!--more-->"),
        ("", f"<p>{phrase * 40}</p>"),
    ]:
        excerpt = parse(post_file("title: t\n" + front, body), site).excerpt
        assert excerpt == phrase * 16 + "긴 문장은 끝나지…"  # 288 + 10 + 1 units
        assert utf16_len(excerpt) <= EXCERPT_MOST


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, 11 units
NFD_HANGUL = unicodedata.normalize("NFD", "한글날")  # three graphemes, nine code points


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("짧은 발췌", "짧은 발췌"),
        ("Already short. Two sentences.", "Already short. Two sentences."),
        ("첫째 문장이다. 둘째 문장이다. 셋째 문장이다.", "첫째 문장이다. 둘째 문장이다."),
        ("First one. Second one! Third one?", "First one. Second one!"),
        ("정말요? 대박이네요! 셋째는요.", "정말요? 대박이네요!"),
        ("어떻게 된 거죠?! 알아봐요. 셋째.", "어떻게 된 거죠?! 알아봐요."),
        ("5.18 민주화운동 기념식이 열렸다. 둘째 문장. 셋째.", "5.18 민주화운동 기념식이 열렸다. 둘째 문장."),
        ("물가가 3.5% 올랐다. 금리는 2.75%다. 셋째.", "물가가 3.5% 올랐다. 금리는 2.75%다."),
        ("2024. 7. 12. 발표된 자료다. 둘째다. 셋째다.", "2024. 7. 12. 발표된 자료다. 둘째다."),
        ("See https://news.example.com/a.b/c.html?x=1.2 now. Then this. Not this.",
         "See https://news.example.com/a.b/c.html?x=1.2 now. Then this."),
        ("Visit news.example.com. It works. Not this.", "Visit news.example.com. It works."),
        ("The U.S. economy grew. Dr. Kim said so. Not this.", "The U.S. economy grew. Dr. Kim said so."),
        ("잠깐... 아직이다. 이제 끝. 아니.", "잠깐... 아직이다. 이제 끝."),
        ("“끝났다.” 그가 말했다. 셋째.", "“끝났다.” 그가 말했다."),
        ("우려를 표명했다.특히 김 전 지사가 주목된다. 셋째.", "우려를 표명했다.특히 김 전 지사가 주목된다."),
        ("공유 드리겠습니다.2024년 가격 보기 안내입니다. 셋째.", "공유 드리겠습니다.2024년 가격 보기 안내입니다."),
        ("お待たせしました。リリースされました。ご了承ください。", "お待たせしました。リリースされました。"),
        ("첫 문장. " + "가" * 400 + ". 셋째.", "첫 문장."),  # the second is too long: one sentence
        ("말 " * 200, "말 " * 149 + "말…"),
        ("가나다라마바 " * 60, "가나다라마바 " * 41 + "가나다라마바…"),
        ("Short start " + "x" * 400, "Short start…"),  # never inside a word while one ends
        ("가" * 400, "가" * 299 + "…"),  # one word longer than the limit: cut it, keep graphemes
        ("속보 " + FAMILY * 40, "속보 " + FAMILY * 26 + "…"),  # an emoji sequence stays whole
        (NFD_HANGUL * 100, NFD_HANGUL * 33 + "…"),  # a decomposed syllable stays whole
        ("", ""),
    ],
)  # fmt: skip
def test_cut_excerpt(text: str, expected: str) -> None:
    """Two sentences at most, cut at a sentence end, else at a word end with "…", in the cap."""
    assert cut_excerpt(text) == expected
    assert utf16_len(cut_excerpt(text)) <= EXCERPT_MOST


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("1. 임영웅, 삼다수 영상 600만뷰 돌파 흥행 중! 2. 제주 삼다수, 톱뷰! 3. 인기!",
         "임영웅, 삼다수 영상 600만뷰 돌파 흥행 중!"),
        ("1. 외연확장 2. 민생 3. 보수재건 4. 분노의 혁신", "외연확장"),
        ("1) 첫 소식 2) 둘째 소식", "첫 소식"),
        ("1. Markets rally 2. Rates hold", "Markets rally"),
        ("1) Storm nears coast 2) Schools close", "Storm nears coast"),
        ("5.18 민주화운동 기념식", "5.18 민주화운동 기념식"),
        ("1. 임영웅 영상 600만뷰 돌파", "1. 임영웅 영상 600만뷰 돌파"),  # no `2.` after it
        ("4.10 총선 결과", "4.10 총선 결과"),
        ("2024. 7. 12. 뉴스", "2024. 7. 12. 뉴스"),  # a date, not a list
        ("1. 2024. 7. 12. 뉴스", "1. 2024. 7. 12. 뉴스"),
        ("3.1절 기념식", "3.1절 기념식"),
        ("1. 가격 2.5배 상승", "1. 가격 2.5배 상승"),  # '2.5' is a number, not a marker
        ("1. 첫째 2) 둘째", "1. 첫째 2) 둘째"),  # markers of two kinds are no sequence
        ("Top 10 stories: 1. A 2. B", "Top 10 stories: 1. A 2. B"),  # a list inside, not a title of one
        ("1.5 billion users 2. Next", "1.5 billion users 2. Next"),
        ("Apollo 11 landed", "Apollo 11 landed"),
    ],
)  # fmt: skip
def test_first_headline(title: str, expected: str) -> None:
    """A title of numbered headlines gives its first, unnumbered; any other title stays whole."""
    assert first_headline(title) == expected


@pytest.mark.parametrize(
    ("front", "path", "date", "source"),
    [
        (
            "date: 2019-08-08 11:33:00 +0800",
            "x.md",
            datetime(2019, 8, 8, 3, 33, tzinfo=UTC),
            "front_matter",
        ),
        (
            "date: 2015-10-20 11:59:00-0400",
            "x.md",
            datetime(2015, 10, 20, 15, 59, tzinfo=UTC),
            "front_matter",
        ),
        (
            "date: 2018-02-06 22:00:00 +01:00",
            "x.md",
            datetime(2018, 2, 6, 21, 0, tzinfo=UTC),
            "front_matter",
        ),
        (
            "date: 2016-03-09T16:20:02-05:00",
            "x.md",
            datetime(2016, 3, 9, 21, 20, 2, tzinfo=UTC),
            "front_matter",
        ),
        (
            'date: "2013-05-06 02:12:52 +0200"',
            "x.md",
            datetime(2013, 5, 6, 0, 12, 52, tzinfo=UTC),
            "front_matter",
        ),
        (
            "date: 2013-11-22 5:00:00 +0000",
            "x.md",
            datetime(2013, 11, 22, 5, tzinfo=UTC),
            "front_matter",
        ),
        ("date: 2024-07-13", "x.md", datetime(2024, 7, 12, 15, tzinfo=UTC), "front_matter"),
        (
            "date: 2024-07-13 09:30",
            "x.md",
            datetime(2024, 7, 13, 0, 30, tzinfo=UTC),
            "front_matter",
        ),
        ("date: 18 Dec 2014", "x.md", datetime(2014, 12, 17, 15, tzinfo=UTC), "front_matter"),
        ("", "2024-06-12-45.md", datetime(2024, 6, 11, 15, tzinfo=UTC), "filename"),
        ("", "2017-2-5-no-zeroes.md", datetime(2017, 2, 4, 15, tzinfo=UTC), "filename"),
        ("", "1.md", NOW, "first_seen"),
        ("", "2024-13-45-not-a-date.md", NOW, "first_seen"),
    ],
)
def test_dates(site: SiteConfig, front: str, path: str, date: datetime, source: str) -> None:
    """Dates come from the front matter (naive ones in site time), the file name, or first sight."""
    post = parse(post_file("title: t\n" + front), site, path=path)
    assert post.date == date
    assert post.date.tzinfo is not None
    assert post.date_source == source


@pytest.mark.parametrize(
    ("front", "line"),
    [("date: YYYY-MM-DD HH:MM:SS +/-TTTT", 3), ("date: 2024-02-30", 3), ("date: [2024]", 3)],
)
def test_an_unreadable_date_is_refused_with_its_line(
    site: SiteConfig, front: str, line: int
) -> None:
    """A date that is not one is a refusal on the date's line."""
    with pytest.raises(PostError, match="date:") as caught:
        parse(post_file("title: t\n" + front), site)
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("front", "published"),
    [("", True), ("published: true", True), ("published: false", False), ("published: no", False),
     ("published: False", False), ("published: yes", True), ("published:", True)],
)  # fmt: skip
def test_published_flag(site: SiteConfig, front: str, published: bool) -> None:
    """`published: false` (in any YAML spelling) marks a post unpublished."""
    assert parse(post_file("title: t\n" + front), site).is_published is published


def test_a_future_date_is_not_due_yet(site: SiteConfig) -> None:
    """A post dated tomorrow is parsed but not due now."""
    post = parse(post_file("title: t\ndate: 2026-11-23 09:00:00 +0900"), site)
    assert not post.is_due(NOW)
    assert post.is_due(NOW + timedelta(days=1))


@pytest.mark.parametrize(
    ("path", "front", "key"),
    [
        ("2024-06-12-45.md", "", "2024-06-12-45"),
        ("news/2024-06-12-45.markdown", "", "news/2024-06-12-45"),
        ("2024-06-12-45.md", "id: custom-id", "custom-id"),
        ("2024-06-12-45.md", "id: 123", "123"),
        ("2015-01-06-punctuation-characters'.md", "", "2015-01-06-punctuation-characters'"),
        (
            unicodedata.normalize("NFD", "2024-06-11-프로스-테스트.md"),
            "",
            "2024-06-11-프로스-테스트",
        ),
        ("a file with spaces.html", "", "a file with spaces"),
    ],
)
def test_keys(site: SiteConfig, path: str, front: str, key: str) -> None:
    """The key is the `id`, else the path without extension, NFC-normalised, date kept."""
    post = parse(post_file("title: t\n" + front), site, path=path)
    assert post.key == key
    assert unicodedata.is_normalized("NFC", post.key)


@pytest.mark.parametrize(
    ("front", "body", "url", "path"),
    [
        ("image: https://cdn.example.org/a.jpg?x=1&y=2", "", "https://cdn.example.org/a.jpg?x=1&y=2", None),
        ("image: '/assets/a b.jpg'", "", "https://news.example.com/assets/a%20b.jpg", "assets/a b.jpg"),
        ("image: assets/rel.png", "", "https://news.example.com/assets/rel.png", "assets/rel.png"),
        ("image: //cdn.example.org/p.png", "", "https://cdn.example.org/p.png", None),
        ("image:\n  path: /img/dict.png\n  alt: x", "", "https://news.example.com/img/dict.png", "img/dict.png"),
        ("image: {url: 'https://x.org/u.png'}", "", "https://x.org/u.png", None),
        ("header:\n  teaser: /t.png", "", "https://news.example.com/t.png", "t.png"),
        ("header:\n  overlay_image: /o.png\n  teaser: /t.png", "", "https://news.example.com/o.png", "o.png"),
        ("feature_image: 'https://newsdao.kr/b.jpg'", "", "https://newsdao.kr/b.jpg", None),
        ("media_subpath: /posts/2018\nimage: {path: cover.png}", "", "https://news.example.com/posts/2018/cover.png", "posts/2018/cover.png"),
        ("", "<p><img src='https://x.org/body.jpg'></p>", "https://x.org/body.jpg", None),
        ("", "![alt](/md.png)\n", "https://news.example.com/md.png", "md.png"),
        ("", "Text <img src=\"/inline.png\"> more", "https://news.example.com/inline.png", "inline.png"),
        ("image: 'data:image/png;base64,AAAA'", "", None, None),
        ("image: 'javascript:alert(1)'", "", None, None),
        ("image: ftp://x.org/a.png", "", None, None),
        ("image: ''", "", None, None),
        ("image: /assets/img/banner.jpg", "", None, None),
        ("image: /assets/img/banner.jpg", "<img src='/assets/img/banner.jpg'><img src='/real.png'>", "https://news.example.com/real.png", "real.png"),
        ("image: https://news.example.com/assets/img/banner.jpg", "", None, None),
    ],
)  # fmt: skip
def test_images(site: SiteConfig, front: str, body: str, url: str | None, path: str | None) -> None:
    """Images from every key shape and the body; relative ones on site.url; ignored ones skipped."""
    site = replace_site(site, ignore_images=("/assets/img/banner.jpg",))
    post = parse(post_file("title: t\n" + front, body), site)
    assert post.image_url == url
    assert post.image_path == path
    assert post.image_file is None  # only source.py, which reads the disk, sets it


@pytest.mark.parametrize(
    ("front", "body", "url", "notes"),
    [
        ("image: /a.png", "<img src='/b.png'>", "https://news.example.com/a.png", ()),
        ("image: /assets/img/banner.jpg", "<img src='/assets/img/banner.jpg'>", None,
         ("image '/assets/img/banner.jpg' skipped: listed in site.ignore_images",)),
        ("image: /assets/img/banner.jpg", "<pre>\n<img src='/b.png'>\n</pre>\n\n    <img src='/c.png'>\n\n![d](/d.png)",
         "https://news.example.com/b.png",
         ("image '/assets/img/banner.jpg' skipped: listed in site.ignore_images",)),
        ("image: 'mailto:x'\nfeature_image: /assets/img/banner.jpg", "`<img src='/code.png'>` ![e](/e.png)",
         "https://news.example.com/e.png",
         ("image 'mailto:x' skipped: not an http(s) URL or path",
          "image '/assets/img/banner.jpg' skipped: listed in site.ignore_images")),
    ],
)  # fmt: skip
def test_the_body_image_is_the_fallback(
    site: SiteConfig, front: str, body: str, url: str | None, notes: tuple[str, ...]
) -> None:
    """The body's images are read after the front matter's, each once, code and all skipped."""
    site = replace_site(site, ignore_images=("/assets/img/banner.jpg",))
    post = parse(post_file("title: t\nexcerpt: e\n" + front, body), site)
    assert (post.image_url, post.notes) == (url, notes)


def test_an_image_given_as_a_list_is_refused(site: SiteConfig) -> None:
    """An image value of the wrong shape is a refusal on its line."""
    with pytest.raises(PostError, match="image: expected a path or URL") as caught:
        parse(post_file("title: t\nimage:\n  - a.png"), site)
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("permalink", "front", "path", "url"),
    [
        ("date", "categories: [News, Big Story]", "2024-07-13-x.md", "https://news.example.com/news/big%20story/2024/07/13/x.html"),
        ("pretty", "", "2024-07-13-hello_world.md", "https://news.example.com/2024/07/13/hello-world/"),
        ("none", "categories: [A]", "2024-07-13-x.md", "https://news.example.com/a/x.html"),
        ("/posts/:title/", "", "2024-07-13-한미 동맹.md", "https://news.example.com/posts/%ED%95%9C%EB%AF%B8-%EB%8F%99%EB%A7%B9/"),
        ("/:year/:i_month/:i_day/:slug", "", "2024-07-03-Big_News.md", "https://news.example.com/2024/7/3/big-news"),
        ("date", "permalink: /custom/path/", "2024-07-13-x.md", "https://news.example.com/custom/path/"),
        ("date", "slug: other\npermalink: /:title.html", "2024-07-13-x.md", "https://news.example.com/other.html"),
        ("/:year/:month/:day/:title/", "date: 2024-07-13 23:30:00 +0000", "x.md", "https://news.example.com/2024/07/14/x/"),
    ],
)  # fmt: skip
def test_links(site: SiteConfig, permalink: str, front: str, path: str, url: str) -> None:
    """Links follow the Jekyll permalink pattern in site time; front matter `permalink` wins."""
    site = replace_site(site, permalink=permalink)
    assert parse(post_file("title: t\n" + front), site, path=path).url == url


def test_link_params_are_added_to_the_link(site: SiteConfig) -> None:
    """`site.link_params` (UTM tags) end up in the post's link, replacing same-named ones."""
    site = replace_site(site, link_params=(("utm_source", "telegram"), ("ref", "a b")))
    post = parse(post_file("title: t\npermalink: /p/?ref=old&keep=1"), site)
    assert post.url == "https://news.example.com/p/?keep=1&utm_source=telegram&ref=a+b"


def test_content_hash_changes_with_the_bytes(site: SiteConfig) -> None:
    """The content hash identifies the file's bytes (a rename keeps it, an edit changes it)."""
    first = parse(post_file("title: t", "a"), site, path="a.md")
    renamed = parse(post_file("title: t", "a"), site, path="b.md")
    edited = parse(post_file("title: t", "b"), site, path="a.md")
    assert first.content_hash == renamed.content_hash != edited.content_hash
    assert len(first.content_hash) == 64


@pytest.mark.parametrize("key", ["itle", "Title", "tilte", "titel", "tittle"])
def test_a_misspelt_title_key_is_read_as_the_title(site: SiteConfig, key: str) -> None:
    """`itle:` (a real typo in the corpus) is the title, noted, rather than a body heading."""
    post = parse(
        post_file(f"{key}: 시청역 사고 영상\ncategories: [News]", "<h2>Section</h2>"), site
    )
    assert post.title == "시청역 사고 영상"
    assert post.notes == (f"no `title:`; `{key}:` on line 2 read as it",)


def test_the_lenient_reader_is_noted(site: SiteConfig) -> None:
    """A post read by the fallback reader says so, with the YAML error's line."""
    post = parse(post_file("title: [속보] 제목\ncategories:\n  - 정치"), site)
    assert post.categories == ("정치",)
    [note] = post.notes
    assert note.startswith("front matter read leniently: invalid YAML: ")
    assert note.endswith("(line 2)")


def replace_site(site: SiteConfig, **changes: object) -> SiteConfig:
    """Return a copy of `site` with `changes`, validated like a loaded config."""
    return SiteConfig.model_validate({**site.model_dump(), **changes})


def test_frozen_post(site: SiteConfig) -> None:
    """A Post cannot be changed after parsing; `replace` makes a new one."""
    post = parse(post_file("title: t"), site)
    with pytest.raises(AttributeError):
        post.title = "x"  # type: ignore[misc]
    assert replace(post, title="x").title == "x"


N = 20_000


@pytest.mark.parametrize(
    "body",
    [
        "<div>" * N, "<!--" * N, "<img " * N, "![" * N, "[a](" * N, "*a" * N, "a_" * N,
        "{% " * N, "{{ " * N, "{:" * N, "`" * N, "<" * N, "&#" * N, "> " * N, "- " * N,
        "|a" * N + "\n|-" * N, "\u202e" * N, "👨\u200d" * N, "x" * 10_000_000,
        "!" * 5 * N + "x", "a. " * N, '."' * N,
    ],
    ids=["divs", "comments", "imgs", "md-imgs", "links", "stars", "unders", "liquid-tags",
         "liquid-outputs", "ials", "ticks", "lts", "entities", "quotes", "lists", "table",
         "bidi", "zwj", "one-line", "marks", "initials", "quoted-stops"],
)  # fmt: skip
def test_hostile_bodies_parse(site: SiteConfig, body: str) -> None:
    """Pathological bodies give a post with a clean excerpt, never an error or a hang."""
    post = parse(post_file("title: Hostile", body), site)
    assert post.title == "Hostile"
    assert "\u202e" not in post.excerpt
    assert len(post.excerpt) <= BODY_SCAN_CHARS  # only the start of a body is read
    assert utf16_len(post.excerpt) <= EXCERPT_MOST
