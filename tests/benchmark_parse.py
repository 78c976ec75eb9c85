"""Parser benchmark: posts per second on the corpus and the samples, and the worst hostile file.

Run it by hand (`python -m tests.benchmark_parse`); the suite never times anything.
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from bot.config import SiteConfig
from bot.errors import PostError
from bot.posts import parse_post
from bot.source import walk

REPO = Path(__file__).resolve().parents[1]
HOSTILE = {
    "10 MB one line": "x" * 10_000_000,
    "10 MB of paragraphs": ("word " * 150 + "\n\n") * 13_000,
    "20k unclosed <img": "<img " * 20_000,
    "50k ![ (the worst found)": "![" * 50_000,
    "20k table cells": "|a" * 20_000 + "\n|-" * 20_000,
}


def main() -> None:
    """Print parse throughput and peak memory."""
    now = datetime.now(UTC)
    site = SiteConfig(url="https://news.example.com", timezone="Asia/Seoul")
    folders = [REPO / "posts", REPO.parent / "shared" / "corpus"]
    files = [
        (path, path.read_bytes()) for folder in folders if folder.is_dir() for path in walk(folder)
    ]
    started = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        for path, raw in files:
            with contextlib.suppress(PostError):
                parse_post(raw, path=path.name, site=site, seen_at=now)
    elapsed = time.perf_counter() - started
    size = sum(len(raw) for _, raw in files) * rounds
    print(
        f"{len(files) * rounds} posts in {elapsed:.2f} s: {len(files) * rounds / elapsed:,.0f} posts/s, {size / elapsed / 1e6:.1f} MB/s"
    )
    for name, body in HOSTILE.items():
        raw = f"---\ntitle: x\n---\n{body}".encode()
        started = time.perf_counter()
        parse_post(raw, path="h.md", site=site, seen_at=now)
        elapsed = time.perf_counter() - started
        tracemalloc.start()  # measured apart: tracing slows the parse several times over
        parse_post(raw, path="h.md", site=site, seen_at=now)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"{name:>22}: {elapsed * 1000:7.0f} ms, peak {peak / 1e6:6.1f} MB (file {len(raw) / 1e6:.1f} MB)"
        )


if __name__ == "__main__":
    main()
