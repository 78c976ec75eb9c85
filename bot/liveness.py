"""Pure: whether a site is one to check, when a waiting post is probed next, what answers mean."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Names that never serve a real site (RFC 2606, RFC 6761): the examples, tests and loopback.
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
RESERVED_TOPS = ("test", "invalid", "localhost", "example")
# A Pages build takes one to several minutes: probe soon, then back off to one probe in 30 s.
BACKOFF_S = (3.0, 5.0, 10.0, 20.0, 30.0)


class Answer(StrEnum):
    """What one probe of a URL found."""

    LIVE = "live"  # 200, after redirects
    MISSING = "missing"  # an HTTP answer other than 200: not built or not deployed yet
    SILENT = "silent"  # no answer in time, or the connection broke: try again
    UNREACHABLE = "unreachable"  # no connection at all: DNS failed, or refused


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe's answer, with what to say about it ("HTTP 404", "connection refused")."""

    answer: Answer
    detail: str = ""


class Step(StrEnum):
    """What becomes of a waiting alert after a round of probes."""

    RELEASE = "release"  # its page (and image) answer: push it
    WAIT = "wait"  # probe again later
    TIMED_OUT = "timed-out"  # waited `live_timeout_minutes`: push anyway, or hold and tell
    SITE_DOWN = "site-down"  # the site answers nothing at all: push now, say so


@dataclass(frozen=True, slots=True)
class Waiting:
    """A first alert held until its post's page answers, as storage has it."""

    push_id: int
    key: str
    url: str  # the post's link as sent (tracking parameters included)
    image_url: str | None  # an image sent by URL (none when a local file is uploaded)
    since: datetime  # when the alert was decided on
    is_scheduled: bool  # its date arrived after sokbo first saw it: the site needs a rebuild
    told: str | None  # what admins were told of it already ("rebuild", "timeout")


def is_reserved_host(host: str) -> bool:
    """Whether `host` is loopback or a name reserved for examples and tests (never a site)."""
    host = host.lower().rstrip(".")
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    top = host.rsplit(".", 1)[-1]
    return top in RESERVED_TOPS or any(
        host == name or host.endswith("." + name) for name in RESERVED_DOMAINS
    )


def page_url(url: str, link_params: Sequence[tuple[str, str]]) -> str:
    """The URL readers and preview fetchers open: the post's link without sokbo's own tracking
    parameters (`site.link_params`), which the site does not need to answer."""
    parts = urlsplit(url)
    ours = {name for name, _ in link_params}
    kept = [(name, value) for name, value in parse_qsl(parts.query, True) if name not in ours]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def site_image(image_url: str | None, site_url: str) -> str | None:
    """The image to check with the page: only one the site itself serves (another host's
    image does not wait for this site's build)."""
    if image_url is None:
        return None
    return image_url if urlsplit(image_url).netloc == urlsplit(site_url).netloc else None


def next_probe_s(probes: int) -> float:
    """Seconds until the next probe after `probes` probes that found no page."""
    return BACKOFF_S[min(max(probes, 1), len(BACKOFF_S)) - 1]


def step(
    page: Probe,
    image: Probe | None = None,
    root: Probe | None = None,
    *,
    waited: timedelta,
    timeout: timedelta,
) -> Step:
    """What a round of probes means for the alert: its page's, its site image's (if any), and
    the site root's (probed only when the page's host could not be reached)."""
    if page.answer is Answer.LIVE and (image is None or image.answer is Answer.LIVE):
        return Step.RELEASE
    if root is not None and root.answer is Answer.UNREACHABLE:
        return Step.SITE_DOWN  # the site answers nothing at all: not "not built yet"
    return Step.TIMED_OUT if waited >= timeout else Step.WAIT
