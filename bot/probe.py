"""Probes a URL as a reader's browser would: aiohttp, redirects followed, the body never read."""

from __future__ import annotations

import errno
import socket
from types import TracebackType

import aiohttp

from bot import __version__
from bot.liveness import Answer, Probe

PROBE_TIMEOUT_S = 10.0  # a probe unanswered this long found nothing yet (it is tried again)
MAX_REDIRECTS = 10  # a page moved to its canonical address counts as live where it lands
USER_AGENT = f"sokbo/{__version__} (live check)"


class HttpProber:
    """Probes over HTTP with aiohttp: GET, redirects followed, the body never read."""

    def __init__(self, *, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpProber:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            headers={"User-Agent": USER_AGENT, "Cache-Control": "no-cache"},
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def probe(self, url: str) -> Probe:
        """GET `url`: LIVE on a 200 (after redirects), else what answered or why nothing did."""
        assert self._session is not None, "used outside `async with`"
        try:
            async with self._session.get(url, max_redirects=MAX_REDIRECTS) as response:
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return _failed(error)
        if status == 200:
            return Probe(Answer.LIVE, "HTTP 200")
        return Probe(Answer.MISSING, f"HTTP {status} {reason}".strip())


def _failed(error: Exception) -> Probe:
    """What a request that got no HTTP answer found."""
    if isinstance(error, aiohttp.TooManyRedirects):  # a loop: readers get nowhere either
        return Probe(Answer.MISSING, "too many redirects")
    if isinstance(error, aiohttp.ClientSSLError):  # it answers, but not as a browser takes
        return Probe(Answer.SILENT, f"TLS: {error}")
    if isinstance(error, aiohttp.ClientConnectorError):  # DNS failed, refused, no route
        return Probe(Answer.UNREACHABLE, _unreachable(error))
    if isinstance(error, aiohttp.ClientError | TimeoutError):
        return Probe(Answer.SILENT, f"no answer ({type(error).__name__})")
    return Probe(Answer.MISSING, f"not a URL that opens: {error}")  # a broken permalink


def _unreachable(error: aiohttp.ClientConnectorError) -> str:
    """Why no connection was made, in an admin's words."""
    cause = error.os_error
    if isinstance(cause, ConnectionRefusedError) or cause.errno == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return f"DNS lookup failed: {cause.strerror or cause}"
    return f"cannot connect: {cause.strerror or cause}"
