"""A /repost reply kept current with its push's progress ("120/3,000 sent"), on any platform."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.clock import Clock
from bot.i18n import t
from bot.storage import Outbox

EVERY_S = 2.0  # how often the reply is brought up to date


async def follow_progress(
    outbox: Outbox,
    clock: Clock,
    push_id: int,
    *,
    text: str,
    language: str,
    show: Callable[[str], Awaitable[bool]],
    longest: timedelta,
) -> None:
    """Show `text` plus the push's progress whenever it changes, until every row is done.

    `show` edits the reply and says whether it could; following ends when it could not, or
    after `longest` (a platform's reply may only be edited for so long).
    """
    shown = text
    deadline = clock.now() + longest
    while clock.now() < deadline:
        await clock.sleep(EVERY_S)
        progress = await outbox.progress(push_id)
        if progress is None:
            continue
        line = t(
            "repost_progress", language,
            sent=progress.sent, total=progress.total, failed=progress.failed,
        )  # fmt: skip
        if f"{text}\n{line}" != shown:
            shown = f"{text}\n{line}"
            if not await show(shown):
                return
        if progress.is_done:
            return
