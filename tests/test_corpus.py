"""Every file of the shared corpus of real posts, read as `sokbo check` reads a folder.

The corpus sits beside a clone as ../shared/corpus; on a clone without it these tests skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.config import SiteConfig
from bot.excerpt import EXCERPT_MOST
from bot.matter import read_front_matter
from bot.model import Post
from bot.render.markup import inline_plain_text
from bot.render.text import utf16_len
from bot.source import Outcome, scan, walk
from tests.conftest import NOW, REPO

CORPUS = REPO.parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason="../shared/corpus is not beside this clone"
)

# The Korean news generators the seeds come from (SOURCES.md, part A).
KOREAN_NEWS = ("adskorea", "frowth-official", "kimplant", "koreablockchain", "koreanews",
               "my9854", "protemh", "rentncar", "therentcar", "wangs1970")  # fmt: skip

# Titles PyYAML refuses (and one typo'd key), read by hand from each file's `title:` line(s).
# Multi-line titles are folded as YAML folds a plain scalar: lines joined by one space.
RECOVERED_TITLES = {
    "adskorea/2024-07-31-5802.md": "`올림픽 첫 결승` 남자 계영 800ｍ팀 역사적 선전!",
    "frowth-official/2024-06-12-11.md": "'장금이' 전국 확대, 전통시장 금융사기 예방 프로젝트!",
    "frowth-official/2024-07-12-111.md": "1. 임영웅, 제주 삼다수 영상 600만뷰 돌파 흥행 중! 2. 제주 삼다수, 임영웅 영상 600만뷰 돌파! 톱뷰! 3. 임영웅, 제주 삼다수 영상 600만뷰 돌파 인기! 4. 제주 삼다수, 임영웅 영상 600만뷰 돌파 파티! 5. 임영웅, 제주 삼다수 영상 600만뷰 돌파 인증샷!",
    "frowth-official/2024-07-14-267.md": "'임영웅' 169주 연속 1위, 힘든 여정 끝에 성취!",
    "frowth-official/2024-07-14-276.md": "'임영웅' 신곡, 600만뷰 돌파 소식!",
    "kimplant/2024-07-31-4692.md": "`AI특수`로 삼성 HBM 혁신 기대감 고조",
    "kimplant/2024-08-05-5550.md": "[레슬링] 이승찬 쿠바 영웅 로페즈와의 치열한 대결!",
    "koreablockchain/2024-07-30-5381.md": "[양궁] 김우진 개인전 16강 진출과 3관왕 도전!",
    "koreablockchain/2024-08-01-5643.md": "[속보] 시청역 참사 운전자의 충격적인 가속 비밀!",
    "koreablockchain/2024-08-04-6209.md": "[파리올림픽] 양궁 남자 전원 8강 진출!",
    "koreablockchain/2024-08-07-6688.md": "[올림픽] 김승준 동메달 꿈 이룰 수 있을까?",
    "koreanews/2024-07-01-774.md": "1. 외연확장 2. 민생 3. 보수재건 4. 분노의 혁신",
    "koreanews/2024-07-10-1734.md": "1. 신화와 진실 7월의 뜨거운 이야기 2. 열정과 감동 7월의 독보적 이슈를 만나다 3. 진실과 감동 7월의 핫한 소식을 전해드립니다 4. 뜨거운 7월 놓치면 후회할 이야기들이 여기 있어 5. 놓치면 후회 7월의 뜨거운 사건을 빠르게 만나다 6. 뉴스 퍼레이드 7월의 화제 속으로 함께하는 여정",
    "koreanews/2024-08-12-6323.md": "[올림픽] 프랑스 새로운 전환의 순간 다가온다!",
    "my9854/2024-08-03-5973.md": "`트럼프` 대선토론 해리스도 떨어질 가능성?",
    "protemh/2024-08-08-6252.md": "[올림픽] 높이뛰기 우상혁 다이빙 우하람 결선 진출!",
    "rentncar/2024-07-31-4711.md": "남자 사브르 올림픽 3연패 이런 식으로 핵심 키워드를 활용해서 제목을 지어볼게요. 남자 사브르 올림픽 3연패 도전! 뉴 어펜져스의 역습",
    "rentncar/2024-08-09-6038.md": "1. 김경수 복권 정치적 자산 의문 클릭하고 확인하세요! 2. 친명 김경수 복권의 정치적 자산 의문 명확히 밝혀져.",
    "therentcar/2024-07-29-5602.md": "[유도] 허미미 몽골 천적 꺾고 준결승 진출!",
    "therentcar/2024-08-04-6462.md": "[올림픽] 한국사격 금메달 양궁 3관왕 탄생!",
    "wangs1970/2024-07-08-1804.md": "시청역 사고 영상 국과수 감정 자문 진행 사건 분석 전문가",  # from `itle:`
    "wangs1970/2024-08-08-6508.md": "`위대한 1점` 마다예 한국 지원으로 2028 올림픽!",
}

# Titles that fold numbered headlines into one ("1. … 2. …"): the post's title is the first.
FIRST_HEADLINES = {
    "frowth-official/2024-07-12-111.md": "임영웅, 제주 삼다수 영상 600만뷰 돌파 흥행 중!",
    "koreanews/2024-07-01-774.md": "외연확장",
    "koreanews/2024-07-10-1734.md": "신화와 진실 7월의 뜨거운 이야기",
    "rentncar/2024-08-09-6038.md": "김경수 복권 정치적 자산 의문 클릭하고 확인하세요!",
}

NO_TITLE = "no title: no `title:` in the front matter and no heading in the body"
NO_FRONT_MATTER = "no front matter (a post starts with a '---' line)"
HUGO = "no front matter: '+++' TOML is Hugo's; a Jekyll post starts with a '---' line"

# Every refusal, with why it is right.
REFUSED = {
    # The corpus's own notes, not a post.
    "SOURCES.md": NO_FRONT_MATTER,
    # An old revision that starts with a blank line: Jekyll reads no front matter there either,
    # and pushing its body as a post would push garbage. The fixed revision is accepted.
    "frowth-official/history-2e77e12/2024-06-12-1.md": "no front matter: blank lines before the first '---' (Jekyll then reads none)",
    # Hugo's TOML front matter: not a Jekyll post (SOURCES.md part D, negative tests).
    **{f"hugo-basic-example/{name}.md": HUGO for name in ("_index", "emoji-support", "markdown-syntax", "placeholder-text", "rich-content")},
    # Jekyll's fixtures without front matter: plain files and HTML partials, not posts.
    "jekyll-test-fixtures/_posts/2009-06-22-no-yaml.markdown": NO_FRONT_MATTER,
    "jekyll-test-fixtures/_posts/include_relative/params.html": NO_FRONT_MATTER,
    "jekyll-test-fixtures/_posts/include_relative/rel_include.html": NO_FRONT_MATTER,
    # No title and no heading. Jekyll would title these from the slug ("March The Second");
    # sokbo refuses instead, because a slug like "2925" pushed as a headline is garbage.
    **{f"jekyll-feed-fixtures/_posts/{name}": NO_TITLE for name in (
        "2014-03-02-march-the-second.md", "2015-01-18-jekyll-last-modified-at.md",
        "2015-05-12-liquid.md", "2015-05-12-pre.html", "2015-08-08-stuck-in-the-middle.html")},
    **{f"jekyll-test-fixtures/_posts/{name}": NO_TITLE for name in (
        "2009-06-22-empty-yaml.markdown", "2010-01-09-date-override.markdown",
        "2010-01-09-time-override.markdown", "2010-01-09-timezone-override.markdown",
        "2010-01-16-override-data.markdown", "2011-04-12-md-extension.md",
        "2013-04-11-custom-excerpt.markdown", "2015-12-27-extra-spaces.markdown",
        "2016-08-16-indented-link-references.markdown", "2017-2-5-i-dont-like-zeroes.md",
        "2018-01-28-closed-liquid-block-excerpt.markdown", "2018-01-28-open-liquid-block-excerpt.markdown")},
    **{f"minima/{name}": NO_TITLE for name in (
        "2016-05-19-codeblocks-ahoy.md", "2016-05-20-my-example-post.md", "2016-05-20-welcome-to-jekyll.md")},
    "minimal-mistakes-test/2009-09-05-edge-case-no-yaml-title.md": NO_TITLE,
}  # fmt: skip


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    """Every corpus file scanned once, by its path under the corpus."""
    site = SiteConfig(posts_dir=CORPUS, url="https://news.example.com", timezone="Asia/Seoul")
    return {
        o.file.relative_to(CORPUS).as_posix(): o for o in scan(walk(CORPUS), site=site, seen_at=NOW)
    }


def yaml_title(path: Path) -> str | None:
    """The title as PyYAML reads it (an independent oracle), or None when PyYAML refuses."""
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    front = text.split("\n---", 1)[0].removeprefix("---\n")
    try:
        data = yaml.safe_load(front)
    except yaml.YAMLError:
        return None
    return (
        re.sub(r"\s+", " ", str(data["title"])).strip()
        if isinstance(data, dict) and "title" in data
        else None
    )


def test_every_korean_news_post_is_accepted_with_its_real_title(
    outcomes: dict[str, Outcome],
) -> None:
    """All Korean news posts are posts, with the title as written, broken YAML included (the
    first headline of a title of numbered ones)."""
    checked = 0
    for relative, outcome in outcomes.items():
        if relative.split("/")[0] not in KOREAN_NEWS or relative in REFUSED:
            continue
        assert outcome.post is not None, f"{relative}: {outcome.error or outcome.skipped}"
        expected = (
            FIRST_HEADLINES.get(relative)
            or RECOVERED_TITLES.get(relative)
            or yaml_title(CORPUS / relative)
        )
        assert outcome.post.title == expected, relative
        assert outcome.post.categories, relative
        assert outcome.post.excerpt, relative
        checked += 1
    assert checked == 119  # 120 files in part A, one refused above with its reason


def test_every_recovered_title_needed_recovering() -> None:
    """Each hand-read title is one PyYAML cannot give (so the table tests the fallback)."""
    for relative in RECOVERED_TITLES:
        assert yaml_title(CORPUS / relative) is None, relative


def test_refusals_are_exactly_the_justified_ones(outcomes: dict[str, Outcome]) -> None:
    """Every refusal in the corpus is listed with its reason; nothing else is refused."""
    refused = {path: o.error.reason for path, o in outcomes.items() if o.error is not None}
    assert refused == REFUSED


def test_every_post_file_gets_one_outcome(outcomes: dict[str, Outcome]) -> None:
    """Every .md, .markdown and .html file gets exactly one outcome; other files are not posts."""
    on_disk = {
        path.relative_to(CORPUS).as_posix()
        for path in CORPUS.rglob("*")
        if path.is_file() and path.suffix.lower() in {".md", ".markdown", ".html"}
    }
    assert set(outcomes) == on_disk
    assert len(on_disk) == 390  # 396 files less 3 .text, 1 .mkdn, 1 .Rmd and 1 .yml
    skipped = {path for path, o in outcomes.items() if o.skipped is not None}
    assert skipped == {path for path in on_disk if "/_drafts/" in path}


def test_real_world_shapes_read_right(outcomes: dict[str, Outcome]) -> None:
    """Spot checks of shapes the corpus is known for: dict images, offsets, CRLF, UTF-16, RTL."""

    def post(relative: str) -> Post:
        found = outcomes[relative].post
        assert found is not None, relative
        return found

    chirpy = post("chirpy-demo/2019-08-08-text-and-typography.md")
    assert chirpy.date.isoformat() == "2019-08-08T11:33:00+08:00"
    assert chirpy.categories == ("Blogging", "Demo")
    assert chirpy.image_url is not None
    assert chirpy.image_url.startswith("https://")
    utf16 = post("jekyll-test-fixtures/_encodings/Unicode16LECRLFandBOM.md")
    assert utf16.title == "Unicode16CRLFandBOM"
    bom = post("jekyll-test-fixtures/_encodings/UTF8CRLFandBOM.md")
    assert bom.title == "UTF8CRLFandBOM"
    assert bom.categories == ("bom",)
    seed = post("koreablockchain/2024-07-13-2925.md")
    assert seed.title == "한미동맹, 여야 모두 탄탄한 지지 기반 갖춰"
    assert seed.image_url == "https://news.example.com/assets/img/newsdao_breakingnews.jpg"
    persian = [o.post for p, o in outcomes.items() if p.startswith("mehdix-ir-persian/") and o.post]
    assert any("\u200c" in tag for p in persian for tag in p.tags)  # ZWNJ kept inside words


def test_every_numbered_title_is_listed(outcomes: dict[str, Outcome]) -> None:
    """The generators' titles whose source holds `1.` then `2.` are exactly those listed, and
    each post's title is the first of them."""
    numbered = set()
    for path, outcome in outcomes.items():
        if outcome.post is None or path.split("/")[0] not in KOREAN_NEWS:
            continue
        source = RECOVERED_TITLES.get(path) or yaml_title(CORPUS / path)
        if source is not None and re.match(r"\s*1\.\s.*\s2\.\s", source):
            numbered.add(path)
            assert source.startswith("1. " + outcome.post.title + " 2. "), path
    assert numbered == set(FIRST_HEADLINES)


def test_no_excerpt_is_longer_than_an_alert(outcomes: dict[str, Outcome]) -> None:
    """Every corpus post's excerpt fits EXCERPT_MOST, however long its source wrote it."""
    excerpts = {path: o.post.excerpt for path, o in outcomes.items() if o.post is not None}
    assert len(excerpts) == 358
    too_long = {path: utf16_len(e) for path, e in excerpts.items() if utf16_len(e) > EXCERPT_MOST}
    assert too_long == {}


def test_a_generators_glued_excerpt_is_its_first_two_sentences(
    outcomes: dict[str, Outcome],
) -> None:
    """An `excerpt:` that glues a price table's cells together is cut before the table."""
    post = outcomes["koreanews/2024-06-13-56.md"].post
    assert post is not None
    assert post.excerpt == (
        "세종특별자치시 보듬3로 아름동 에어컨 청소 비용 가격을 알려드리며, 어디 업체가 좋은지 "
        "후기를 통해 알아보겠습니다. 현재 글에서는 시스템, 벽걸이, 스탠드, 실외기 각각에 대해 "
        "청소 비용이 나와 있으니 참고하시면 되겠습니다."
    )


def test_the_same_table_in_the_body_reads_cell_by_cell() -> None:
    """The body's Markdown table of that post reads with its cells apart, never glued."""
    text = (CORPUS / "koreanews/2024-06-13-56.md").read_text(encoding="utf-8")
    line = inline_plain_text(read_front_matter(text).body)
    assert "에어컨 방식 · 클리닝 방식 · 금액 · 1way 방식 · 에어컨 완전분해 · 80,000원 · " in line
    assert "방식클리닝" not in line
