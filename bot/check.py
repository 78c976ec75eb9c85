"""`sokbo check`: what each file is to sokbo, as JSON lines or as a report for people."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from bot.source import Outcome


class Status(StrEnum):
    """A file's verdict."""

    OK = "ok"
    REFUSED = "refused"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Row:
    """One file's line in the report."""

    path: str
    status: Status
    reason: str | None = None
    line: int | None = None
    key: str | None = None
    title: str | None = None
    categories: tuple[str, ...] = ()
    date: str | None = None
    publish_at: str | None = None
    image: str | None = None
    image_file: str | None = None
    url: str | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> str:
        """Return the row as one line of JSON."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields["categories"] = list(self.categories)
        fields["notes"] = list(self.notes)
        return json.dumps(fields, ensure_ascii=False)


def classify(outcome: Outcome, *, now: datetime, shown: str) -> Row:
    """Judge one outcome at `now`; `shown` is the path as the user should see it."""
    if outcome.skipped is not None:
        return Row(shown, Status.SKIPPED, reason=outcome.skipped)
    if outcome.error is not None:
        error = outcome.error
        return Row(shown, Status.REFUSED, reason=error.reason, line=error.line)
    post = outcome.post
    assert post is not None  # an Outcome holds exactly one of post, error, skipped
    status, reason, publish_at = Status.OK, None, None
    if not post.is_published:
        status, reason = Status.SKIPPED, "unpublished"
    elif not post.is_due(now):
        status, reason, publish_at = Status.SKIPPED, "scheduled", post.date.isoformat()
    return Row(
        shown,
        status,
        reason=reason,
        key=post.key,
        title=post.title,
        categories=post.categories,
        date=post.date.isoformat(),
        publish_at=publish_at,
        image=post.image_url,
        image_file=post.image_file,
        url=post.url,
        notes=post.notes,
    )


def shown_path(file: Path, cwd: Path) -> str:
    """Return `file` relative to `cwd` when it is under it, else as it is."""
    try:
        return file.absolute().relative_to(cwd).as_posix()
    except ValueError:
        return file.as_posix()


def summary(rows: Iterable[Row], *, folder: str) -> str:
    """Return the people's report: counts, then a table of refused files and why."""
    rows = list(rows)
    counts = Counter(row.status for row in rows)
    scheduled = sum(1 for row in rows if row.reason == "scheduled")
    lines = [
        f"Checked {len(rows)} files in {folder}: {counts[Status.OK]} ok, "
        f"{counts[Status.SKIPPED]} skipped ({scheduled} scheduled), "
        f"{counts[Status.REFUSED]} refused."
    ]
    refused = [row for row in rows if row.status is Status.REFUSED]
    if refused:
        width = min(60, max(len(_where(row)) for row in refused))
        lines += ["", "Refused files:", f"  {'file':<{width}}  reason"]
        lines += [f"  {_where(row):<{width}}  {row.reason}" for row in refused]
    return "\n".join(lines)


def _where(row: Row) -> str:
    return row.path if row.line is None else f"{row.path}:{row.line}"
