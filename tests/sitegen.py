"""Generated archives in the seeds' format: a Jekyll `_posts` folder of N Korean news posts.

Deterministic for a given size and seed: real categories, dates spread over ten years, HTML
bodies with headings, paragraphs, a table and an image, about 4 KB a post like the seeds.
Used by the benchmarks (`python -m tests.benchmark`) and by the tests of a large folder.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

CATEGORIES = ("정치", "경제", "사회", "국제", "문화", "스포츠", "IT", "News", "연예", "날씨")
WORDS = (
    "한미동맹", "대통령실", "외교부", "반도체", "수출", "금리", "물가", "선거", "국회", "예산",
    "지지", "기반", "협력", "전략", "발표", "전망", "시장", "기업", "정부", "지역",
    "삼성전자", "현대차", "날씨", "폭설", "지하철", "경기", "결승", "과학", "탐사선", "교육",
)  # fmt: skip
START = datetime(2016, 12, 1, tzinfo=UTC)
SPAN = timedelta(days=3650)  # ten years of posts
IMAGES = ("/assets/img/newsdao_breakingnews.jpg", "https://images.example.com/photo.jpg")


def sentence(rng: random.Random, words: int = 12) -> str:
    """A plausible Korean news sentence."""
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "을 밝혔다."


def post_text(number: int, *, date: datetime, rng: random.Random) -> str:
    """One post file's text in the seeds' shape: front matter, then an HTML body."""
    title = f"{rng.choice(WORDS)} {rng.choice(WORDS)}, {rng.choice(WORDS)} 소식 {number}"
    categories = rng.sample(CATEGORIES, rng.choice((1, 1, 2)))
    excerpt = " ".join(sentence(rng) for _ in range(3))
    paragraphs = "\n\n".join(
        f'<p data-ke-size="size16">{" ".join(sentence(rng, 16) for _ in range(3))}</p>'
        for _ in range(4)
    )
    cells = "".join(
        f'    <td style="text-align: center;"><b>{rng.choice(WORDS)}</b></td>\n' for _ in range(4)
    )
    category_lines = "".join(f"  - {name}\n" for name in categories)
    return (
        f"---\ntitle: {title}\ncategories:\n{category_lines}excerpt: >\n  {excerpt}\n"
        f"feature_text: >\n  ## 실시간 뉴스 속보입니다.\n\n  {excerpt}\n"
        f"image: '{IMAGES[number % 2]}'\ndate: {date.strftime('%Y-%m-%d %H:%M:%S +0000')}\n---\n\n"
        f'<p><img src="{IMAGES[0]}" alt="속보" /></p>\n\n'
        f'<h2 data-ke-size="size26">{rng.choice(WORDS)}의 미래 전망</h2>\n\n{paragraphs}\n\n'
        f"<table>\n  <tr>\n{cells}  </tr>\n</table>\n"
    )


def file_name(number: int, date: datetime) -> str:
    """The post's file name, Jekyll style: its date, then a slug."""
    return f"{date:%Y-%m-%d}-news-{number:06}.md"


def post_date(number: int, count: int) -> datetime:
    """Post `number`'s date: spread evenly over the ten years, the newest last."""
    return START + SPAN * (number / max(1, count)) + timedelta(seconds=number % 60)


def write_site(posts_dir: Path, count: int, *, seed: int = 14) -> list[Path]:
    """Write `count` posts into `posts_dir` (created); return their paths, oldest first."""
    posts_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for number in range(count):
        date = post_date(number, count)
        path = posts_dir / file_name(number, date)
        path.write_text(post_text(number, date=date, rng=rng), encoding="utf-8")
        paths.append(path)
    return paths


def cached_site(cache: Path, count: int) -> Path:
    """The posts folder of a `count`-post site under `cache`: written once, reused after."""
    folder = cache / str(count)
    done = folder / "complete"  # written last: a run stopped halfway writes the site again
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_site(folder / "posts", count)
        done.write_text(f"{count}\n", encoding="utf-8")
    return folder / "posts"
