"""What a chat adapter runs beside its answers: admin notices and /repost replies kept current."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.clock import Clock
from bot.i18n import t
from bot.storage import Outbox, StoreUnavailable

EVERY_S = 2.0  # how often a /repost reply is brought up to date


class Errands:
    """A chat adapter's background work, owned here and cancelled together when it stops."""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None]) -> None:
        """Run `work` beside the caller; it is cancelled by `close`."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def notify(self, send: Callable[[str], Awaitable[object]] | None, text: str) -> None:
        """Send an admin notice with `send` (None: the platform has no notice chat set)."""
        if send is not None:
            self.spawn(_discard(send(f"sokbo: {text}")))

    def follow(
        self,
        push_id: int,
        *,
        text: str,
        language: str,
        show: Callable[[str], Awaitable[bool]],
        longest: timedelta,
    ) -> None:
        """Keep a /repost reply (`text`) current with its push's progress, in the background."""
        following = follow_progress(
            self.outbox, self.clock, push_id,
            text=text, language=language, show=show, longest=longest,
        )  # fmt: skip
        self.spawn(following)

    async def close(self) -> None:
        """Cancel what is still running, and wait until it has stopped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # what ended badly was logged


async def _discard(work: Awaitable[object]) -> None:
    await work


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
    """Show `text` plus the push's progress whenever it changes, until every delivery is done.

    `show` edits the reply and says whether it could; following ends when it could not, or
    after `longest` (a platform's reply may only be edited for so long).
    """
    shown = text
    deadline = clock.now() + longest
    while clock.now() < deadline:
        await clock.sleep(EVERY_S)
        try:
            progress = await outbox.progress(push_id)
        except StoreUnavailable:  # told to admins elsewhere; the reply catches up after
            continue
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
