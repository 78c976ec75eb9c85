"""The live check's pure rules: which sites are checked, the probed URL, backoff, verdicts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import SiteConfig
from bot.liveness import (
    Answer,
    Probe,
    Step,
    is_reserved_host,
    next_probe_s,
    page_url,
    site_image,
    step,
)

LIVE, MISSING = Probe(Answer.LIVE, "HTTP 200"), Probe(Answer.MISSING, "HTTP 404")
DOWN, SILENT = Probe(Answer.UNREACHABLE, "connection refused"), Probe(Answer.SILENT, "timeout")
SOON, TIMEOUT = timedelta(minutes=1), timedelta(minutes=15)


@pytest.mark.parametrize(
    ("url", "checks"),
    [
        ("https://news.example.com", False),
        ("https://example.org", False),
        ("http://example.net:8080", False),
        ("https://blog.test", False),
        ("https://site.invalid", False),
        ("http://jekyll.localhost:4000", False),
        ("http://localhost:4000", False),
        ("http://127.0.0.1:4000", False),
        ("http://[::1]:4000", False),
        ("https://newsdao.kr", True),
        ("https://myblog.github.io", True),
        ("https://examples.com", True),  # not the reserved name
        ("http://192.168.1.20", True),  # a real machine on the newsroom's network
    ],
)
def test_the_check_is_on_for_real_hosts_and_off_for_test_and_example_names(
    url: str, checks: bool
) -> None:
    """site.live_check left out: on for a real host, off for loopback and reserved names."""
    assert SiteConfig(url=url).checks_live is checks


def test_live_check_set_in_the_config_wins() -> None:
    """Forced on for a test host (the suite's local site), off for a real one."""
    assert SiteConfig(url="http://127.0.0.1:8000", live_check=True).checks_live
    assert not SiteConfig(url="https://newsdao.kr", live_check=False).checks_live


def test_reserved_hosts_ignore_case_and_the_root_dot() -> None:
    """DNS names are case-blind; a fully qualified name may end in a dot."""
    assert is_reserved_host("News.Example.COM.")
    assert not is_reserved_host("newsdao.kr.")


def test_the_probed_url_drops_only_sokbos_tracking_parameters() -> None:
    """The page readers open: link_params gone, the post's own query kept."""
    params = (("utm_source", "sokbo"), ("utm_medium", "chat"))
    link = "https://n.kr/2024/07/13/%EB%89%B4%EC%8A%A4/?utm_source=sokbo&id=7&utm_medium=chat"
    assert page_url(link, params) == "https://n.kr/2024/07/13/%EB%89%B4%EC%8A%A4/?id=7"
    assert page_url("https://n.kr/a.html?utm_source=sokbo", params) == "https://n.kr/a.html"


def test_only_an_image_the_site_serves_is_checked() -> None:
    """An image on another host does not wait for this site's build."""
    assert site_image("https://n.kr/assets/a.png", "https://n.kr") == "https://n.kr/assets/a.png"
    assert site_image("https://cdn.n.kr/a.png", "https://n.kr") is None
    assert site_image(None, "https://n.kr") is None


def test_backoff_grows_to_thirty_seconds() -> None:
    """3, 5, 10, 20, then every 30 s."""
    assert [next_probe_s(n) for n in range(1, 9)] == [3, 5, 10, 20, 30, 30, 30, 30]


def test_a_round_of_probes_decides_the_alert() -> None:
    """Released when the page and its image answer; the site down only when its root answers
    nothing either; timed out only once waiting is over."""
    assert step(LIVE, waited=SOON, timeout=TIMEOUT) is Step.RELEASE
    assert step(LIVE, LIVE, waited=SOON, timeout=TIMEOUT) is Step.RELEASE
    assert step(LIVE, MISSING, waited=SOON, timeout=TIMEOUT) is Step.WAIT
    assert step(MISSING, waited=SOON, timeout=TIMEOUT) is Step.WAIT
    assert step(SILENT, waited=SOON, timeout=TIMEOUT) is Step.WAIT
    assert step(MISSING, waited=TIMEOUT, timeout=TIMEOUT) is Step.TIMED_OUT
    assert step(DOWN, root=DOWN, waited=SOON, timeout=TIMEOUT) is Step.SITE_DOWN
    assert step(DOWN, root=MISSING, waited=SOON, timeout=TIMEOUT) is Step.WAIT
