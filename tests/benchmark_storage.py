"""Storage benchmark at a real newsroom's size: 10,000 posts, 3,000 chats, one push to all.

Run it by hand (`python -m tests.benchmark_storage`); the suite never times anything.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from bot.model import MessageRef, NewPush, PostState, PushKind, Record
from bot.publish import Plan
from bot.sqlite import open_sqlite
from tests.conftest import fan_out_queued
from tests.test_publish import post

POSTS = 10_000
CHATS = 3_000
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
Result = TypeVar("Result")


async def timed(what: str, work: Awaitable[Result]) -> Result:
    """Await `work` and print how long it took."""
    started = time.perf_counter()
    result = await work
    print(f"{what:>48}: {(time.perf_counter() - started) * 1000:9.1f} ms")
    return result


async def main() -> None:
    """Print the time of each storage operation sokbo does often, at full size."""
    records = tuple(
        Record(
            post(
                f"2026-{n:05}", at=T0, age=timedelta(minutes=n), categories=(f"c{n % 40}", "뉴스")
            ),
            PostState.PUBLISHED,
            first_seen=T0,
            is_alerted=True,
        )
        for n in range(POSTS)
    )
    with tempfile.TemporaryDirectory() as folder:
        async with open_sqlite(Path(folder) / "bench.db") as storage:
            archive, chats, outbox = storage.archive, storage.chats, storage.outbox
            await timed(f"record a first scan of {POSTS:,} posts", archive.record_scan(Plan(records=records), (), now=T0, site=None))  # fmt: skip
            await timed("newest 5 (/latest)", archive.newest(5))
            await timed("newest 5 in a category (/category)", archive.newest(5, category="c39"))
            await timed(f"every record ({POSTS:,}, read at each scan)", archive.records())
            await timed("the categories with their counts", archive.categories())
            started = time.perf_counter()
            for n in range(CHATS):
                await chats.subscribe("bench", f"chat-{n}", () if n % 2 else ("c1",), now=T0)
            per = (time.perf_counter() - started) * 1000 / CHATS
            print(f"{'subscribe one chat (of ' + f'{CHATS:,})':>48}: {per:9.1f} ms")
            plan = Plan(pushes=(NewPush("2026-00001", PushKind.ALERT),))
            await archive.record_scan(plan, (), now=T0, site=None)
            rows = await timed(f"fan one push out to {CHATS:,} chats", fan_out_queued(storage))
            started = time.perf_counter()
            done = 0
            while jobs := await outbox.claim(now=T0, platforms=["bench"], limit=16):
                for job in jobs:
                    ref = MessageRef("bench", job.target.address, job.row_id)
                    await outbox.sent(job, ref, now=T0)
                done += len(jobs)
            elapsed = time.perf_counter() - started
            print(f"{f'claim and record {done:,} of {rows:,} deliveries':>48}: {elapsed * 1000:9.1f} ms ({done / elapsed:,.0f}/s)")  # fmt: skip
            await timed("the status summary", storage.reports.summary())


if __name__ == "__main__":
    asyncio.run(main())
