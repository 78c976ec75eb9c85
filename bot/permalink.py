"""Post links as Jekyll builds them: permalink patterns, slugs, and the site's link params."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
_DOT_SEGMENT = re.compile(r"/\.\.?(?=/|$)")  # a '.' or '..' segment is dropped
_SLASHES = re.compile(r"//+")
# Jekyll's placeholders for a post's date, in site time (jekyllrb.com/docs/permalinks/).
_DATE_PLACEHOLDERS: dict[str, Callable[[datetime], str]] = {
    "year": lambda date: f"{date.year:04d}",
    "short_year": lambda date: f"{date.year % 100:02d}",
    "month": lambda date: f"{date.month:02d}",
    "i_month": lambda date: str(date.month),
    "short_month": lambda date: date.strftime("%b"),
    "long_month": lambda date: date.strftime("%B"),
    "day": lambda date: f"{date.day:02d}",
    "i_day": lambda date: str(date.day),
    "y_day": lambda date: f"{date.timetuple().tm_yday:03d}",
    "short_day": lambda date: date.strftime("%a"),
    "long_day": lambda date: date.strftime("%A"),
    "week": lambda date: f"{date.isocalendar().week:02d}",
    "hour": lambda date: f"{date.hour:02d}",
    "minute": lambda date: f"{date.minute:02d}",
    "second": lambda date: f"{date.second:02d}",
}


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

    def expand(match: re.Match[str]) -> str:
        value = _placeholder(match[1], date, slug, categories)
        return match[0] if value is None else quote(value, safe=_SAFE_PATH)

    path = _PLACEHOLDER.sub(expand, _template(pattern))
    path = _DOT_SEGMENT.sub("/", path)
    path = _SLASHES.sub("/", path)
    return add_params(site_url.rstrip("/") + path, link_params)


def _template(pattern: str) -> str:
    """A built-in style's pattern, or `pattern` itself, starting with '/'."""
    template = STYLES.get(pattern, pattern)
    return template if template.startswith("/") else "/" + template


def _placeholder(name: str, date: datetime, slug: str, categories: Sequence[str]) -> str | None:
    """The value of `:name`; None for a name Jekyll does not know, which stays as written."""
    if name in _DATE_PLACEHOLDERS:
        return _DATE_PLACEHOLDERS[name](date)
    if name == "title":
        return slugify(slug, pretty=True)
    if name in ("slug", "name"):
        return slugify(slug)
    if name == "categories":
        return "/".join(dict.fromkeys(category.lower() for category in categories))
    return ".html" if name == "output_ext" else None


def add_params(url: str, params: Sequence[tuple[str, str]]) -> str:
    """Add query parameters to `url`, replacing any of the same name."""
    if not params:
        return url
    parts = urlsplit(url)
    names = {name for name, _ in params}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode([*query, *params])))
