"""`sokbo status`: storage's summary for people, or as JSON."""

from __future__ import annotations

from typing import Any, Literal, overload

from bot.storage import Summary

_STATES = ("published", "scheduled", "unpublished", "gone")


_DELIVERIES = ("pending", "sending", "retry", "sent", "dead", "rejected", "cancelled")


@overload
def describe(summary: Summary, *, as_json: Literal[True]) -> dict[str, Any]: ...
@overload
def describe(summary: Summary, *, as_json: Literal[False]) -> str: ...
def describe(summary: Summary, *, as_json: bool) -> dict[str, Any] | str:
    """Return the summary as JSON-ready data or lines of text."""
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
    if summary.scheduled:
        lines += ["", "Scheduled:"]
        lines += [f"  {at.isoformat(' ')}  {key}" for key, at in summary.scheduled]
    lines += ["", f"Refused files: {len(summary.refused)}"]
    for refusal in summary.refused:
        where = refusal.path if refusal.line is None else f"{refusal.path}:{refusal.line}"
        lines.append(f"  {where}  {refusal.reason}")
    return "\n".join(lines)
