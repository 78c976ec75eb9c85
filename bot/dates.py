"""Post dates as Jekyll reads them: YAML timestamps, loose strings, and file-name dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo

_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:(?:[Tt]|[ \t]+)(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"(?P<rest>.*)"
)
_OFFSET = re.compile(
    r"(?:^|[ \t])(?:(?P<z>Z|UTC|GMT)|(?P<sign>[+-])(?P<oh>\d{1,2}):?(?P<om>\d{2})?)$"
)
_TEXT_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y")
_FILE_DATE = re.compile(r"(?P<y>\d{2,4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})-(?P<slug>.+)")


def parse_date(text: str, zone: tzinfo) -> datetime:
    """Read a front-matter date; a value without an offset is in `zone`. Raise ValueError."""
    text = text.strip()
    match = _ISO.fullmatch(text)
    if match is None:
        return _parse_words(text, zone)
    rest = match["rest"].strip()
    fraction = (match["f"] or "0")[:6].ljust(6, "0")
    moment = datetime(
        int(match["y"]), int(match["mo"]), int(match["d"]),
        int(match["h"] or 0), int(match["mi"] or 0), int(match["s"] or 0), int(fraction),
    )  # fmt: skip
    if not rest:
        return moment.replace(tzinfo=zone)
    offset = _OFFSET.search(rest)
    if offset is None:
        raise ValueError(f"unreadable time zone {rest!r}")
    return moment.replace(tzinfo=_zone_of(offset))


def _zone_of(match: re.Match[str]) -> tzinfo:
    if match["z"]:
        return UTC
    minutes = int(match["oh"]) * 60 + int(match["om"] or 0)
    if minutes >= 24 * 60:
        raise ValueError("time zone offset out of range")
    sign = -1 if match["sign"] == "-" else 1
    return timezone(sign * timedelta(minutes=minutes))


def _parse_words(text: str, zone: tzinfo) -> datetime:
    for form in _TEXT_FORMATS:
        try:
            return datetime.strptime(text, form).replace(tzinfo=zone)
        except ValueError:
            continue
    raise ValueError("expected a date such as 2024-07-13 09:30:00 +0900")


def filename_date(stem: str, zone: tzinfo) -> tuple[datetime, str] | None:
    """Return the date and slug of a Jekyll post name such as `2024-07-13-title`, if it is one."""
    match = _FILE_DATE.fullmatch(stem)
    if match is None:
        return None
    try:
        day = datetime(int(match["y"]), int(match["mo"]), int(match["d"]))
    except ValueError:
        return None
    return datetime.combine(day.date(), time(), tzinfo=zone), match["slug"]
