"""Post links as Jekyll builds them: permalink patterns, slugs, and the site's link params."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Jekyll's built-in permalink styles (jekyllrb.com/docs/permalinks/#built-in-formats).
STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_SAFE_PATH = "-._~!$&'()*+,;=:@/"  # Jekyll's URL.escape_path keeps these
_PRETTY_UNSAFE = re.compile(r"(?:[^\w.~!$&'()+,;=@]|_)+")
_DEFAULT_UNSAFE = re.compile(r"(?:\W|_)+")


def slugify(text: str, *, pretty: bool = False) -> str:
    """Jekyll's slugify: 'pretty' keeps case and URL punctuation, 'default' lowercases."""
    if pretty:
        return _PRETTY_UNSAFE.sub("-", text).strip("-")
    return _DEFAULT_UNSAFE.sub("-", text).strip("-").lower()


def build_url(
    site_url: str,
    pattern: str,
    *,
    date: datetime,
    slug: str,
    categories: Sequence[str],
    link_params: Sequence[tuple[str, str]] = (),
) -> str:
    """Return the post's absolute URL: `site_url` + the expanded pattern + `link_params`."""
    template = STYLES.get(pattern, pattern)
    if not template.startswith("/"):
        template = "/" + template
    values = _placeholders(date, slug, categories)

    def expand(match: re.Match[str]) -> str:
        value = values.get(match[1])
        return match[0] if value is None else quote(value, safe=_SAFE_PATH)

    path = _PLACEHOLDER.sub(expand, template)
    path = re.sub(r"/\.\.?(?=/|$)", "/", path)
    path = re.sub(r"//+", "/", path)
    return add_params(site_url.rstrip("/") + path, link_params)


def _placeholders(date: datetime, slug: str, categories: Sequence[str]) -> dict[str, str]:
    iso = date.isocalendar()
    unique = dict.fromkeys(category.lower() for category in categories)
    return {
        "year": f"{date.year:04d}",
        "short_year": f"{date.year % 100:02d}",
        "month": f"{date.month:02d}",
        "i_month": str(date.month),
        "short_month": date.strftime("%b"),
        "long_month": date.strftime("%B"),
        "day": f"{date.day:02d}",
        "i_day": str(date.day),
        "y_day": f"{date.timetuple().tm_yday:03d}",
        "short_day": date.strftime("%a"),
        "long_day": date.strftime("%A"),
        "week": f"{iso.week:02d}",
        "hour": f"{date.hour:02d}",
        "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}",
        "title": slugify(slug, pretty=True),
        "slug": slugify(slug),
        "name": slugify(slug),
        "categories": "/".join(unique),
        "output_ext": ".html",
    }


def add_params(url: str, params: Sequence[tuple[str, str]]) -> str:
    """Add query parameters to `url`, replacing any of the same name."""
    if not params:
        return url
    parts = urlsplit(url)
    names = {name for name, _ in params}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode([*query, *params])))
