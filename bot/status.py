"""`sokbo status`: storage's summary for people, or as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, overload

from bot.storage import Decided, Summary

_STATES = ("published", "scheduled", "unpublished", "gone")


_DELIVERIES = ("pending", "sending", "retry", "sent", "dead", "rejected", "cancelled")


def _alert(decided: Decided) -> str | None:
    """Where a post's first alert stands, in words."""
    match decided.alert:
        case None:
            return None
        case "waiting":
            return "(its alert waits for its page)"
        case "pending":
            return "(its alert is queued)"
        case "cancelled":
            return "(its alert was cancelled)"
    if not decided.chats:
        return "(its alert reached no chat: none is subscribed to its categories)"
    return f"(its alert went to {decided.sent} of {decided.chats} chats)"


def waited_minutes(since: datetime, now: datetime) -> int:
    """Whole minutes a post has waited for its page (0 in its first minute)."""
    return max(0, int((now - since).total_seconds() // 60))


@overload
def describe(summary: Summary, *, as_json: Literal[True], now: datetime) -> dict[str, Any]: ...
@overload
def describe(summary: Summary, *, as_json: Literal[False], now: datetime) -> str: ...
def describe(summary: Summary, *, as_json: bool, now: datetime) -> dict[str, Any] | str:
    """Return the summary as JSON-ready data or lines of text (waits counted to `now`)."""
    counts = {state: summary.posts_by_state.get(state, 0) for state in _STATES}
    rows = {status: summary.deliveries.get(status, 0) for status in _DELIVERIES}
    if as_json:
        return {
            "posts": {"known": sum(counts.values()), **counts},
            "scheduled": [{"key": key, "at": at.isoformat()} for key, at in summary.scheduled],
            "refused": [
                {"path": r.path, "line": r.line, "reason": r.reason} for r in summary.refused
            ],
            "pushes_pending": summary.pushes_pending,
            "waiting": [
                {"key": key, "since": since.isoformat(), "minutes": waited_minutes(since, now)}
                for key, since in summary.waiting
            ],
            "recent": [
                {
                    "key": d.key,
                    "verdict": d.verdict,
                    "reason": d.reason,
                    "at": d.at.isoformat(),
                    "alert": _alert(d),
                }
                for d in summary.recent
            ],
            "deliveries": rows,
            "last_scan": None if summary.last_scan is None else summary.last_scan.isoformat(),
        }
    last = (
        "never" if summary.last_scan is None else summary.last_scan.strftime("%Y-%m-%d %H:%M:%S %Z")
    )
    lines = [
        f"Last scan: {last}",
        f"Posts: {sum(counts.values())} known: " + ", ".join(f"{n} {s}" for s, n in counts.items()),
        f"Pushes pending: {summary.pushes_pending}",
        "Deliveries: " + ", ".join(f"{n} {status}" for status, n in rows.items()),
    ]
    if summary.waiting:
        lines += ["", f"Waiting for their pages: {len(summary.waiting)}"]
        lines += [
            f"  {key}  waiting for its page, {waited_minutes(since, now)} min"
            for key, since in summary.waiting
        ]
    if summary.recent:
        lines += ["", "Recent decisions (why each post was or was not pushed):"]
        for decided in summary.recent:
            why = " ".join(part for part in (decided.reason, _alert(decided)) if part)
            lines.append(f"  {decided.at:%Y-%m-%d %H:%M}  {decided.verdict}  {decided.key}  {why}")
    if summary.scheduled:
        lines += ["", "Scheduled:"]
        lines += [f"  {at.isoformat(' ')}  {key}" for key, at in summary.scheduled]
    lines += ["", f"Refused files: {len(summary.refused)}"]
    for refusal in summary.refused:
        where = refusal.path if refusal.line is None else f"{refusal.path}:{refusal.line}"
        lines.append(f"  {where}  {refusal.reason}")
    return "\n".join(lines)
