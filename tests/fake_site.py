"""A fake website on 127.0.0.1: its pages answer 404 until a test deploys them; requests counted."""

from __future__ import annotations

import socket

from aiohttp import web


class FakeSite:
    """The site a post's link points at, served by aiohttp in the test's loop (or a thread's)."""

    def __init__(self) -> None:
        self.pages: dict[str, int] = {}  # path → status; a path not here answers 404
        self.moved: dict[str, str] = {}  # path → where it redirects (301)
        self.requests: list[str] = []  # every request's path and query, in order
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The site's address (site.url)."""
        return f"http://127.0.0.1:{self.port}"

    def deploy(self, *paths: str, status: int = 200) -> None:
        """Make `paths` answer `status` from now on (a build and deploy)."""
        for path in paths:
            self.pages[path] = status

    def redirect(self, path: str, to: str) -> None:
        """Make `path` answer 301 to `to` (a page moved to its canonical address)."""
        self.moved[path] = to

    def hits(self, path: str) -> int:
        """How many requests asked for `path` (any query)."""
        return sum(1 for asked in self.requests if asked.split("?")[0] == path)

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if (to := self.moved.get(request.path)) is not None:
            raise web.HTTPMovedPermanently(to)
        status = self.pages.get(request.path, 404)
        return web.Response(status=status, text="<html><body>page</body></html>")


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
