"""The HTTP listener: GitHub's signed webhooks tell sokbo to pull now or that the site was
deployed; one aiohttp server that later endpoints (health, metrics) join."""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Mapping
from enum import StrEnum
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from bot.errors import ConfigError

# Bytes; a bigger body is refused with 413 before it is read whole (GitHub caps payloads at
# 25 MB; pushes of posts are far smaller, and the interval pull still catches anything).
MAX_BODY = 5 * 1024 * 1024
WEBHOOK_PATH = "/webhook/github"
SIGNATURE_HEADER = "X-Hub-Signature-256"  # GitHub's HMAC-SHA256 of the body, "sha256=<hex>"
SIGNATURE_PREFIX = "sha256="
FORM = "application/x-www-form-urlencoded"  # GitHub's other content type: the JSON in `payload`
SHUTDOWN_S = 5.0  # stopping waits this long for requests under way (webhooks answer at once)
SHOWN = 60  # characters of a header put in a log line (headers come from anyone)

log = logging.getLogger(__name__)


class Action(StrEnum):
    """What a signed webhook asks of sokbo."""

    PONG = "pong"  # GitHub checks the hook when it is made
    PULL = "pull"  # commits were pushed: pull now
    DEPLOYED = "deployed"  # the site was built and published
    IGNORED = "ignored"


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is GitHub's X-Hub-Signature-256 of `body` with `secret` (constant time)."""
    if header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.removeprefix(SIGNATURE_PREFIX).encode())


def decide(event: str, payload: Mapping[str, Any]) -> Action:
    """What a signed event asks: GitHub's event name and its JSON payload."""
    match event:
        case "ping":
            return Action.PONG
        case "push":
            return Action.PULL
        case "page_build" if _field(payload, "build", "status") == "built":
            return Action.DEPLOYED  # GitHub Pages built the site; "errored" is not news
        case "deployment_status" if _field(payload, "deployment_status", "state") == "success":
            return Action.DEPLOYED  # pending, queued, in_progress, failure, error: not yet
    return Action.IGNORED


def _field(payload: Mapping[str, Any], outer: str, inner: str) -> object:
    nested = payload.get(outer)
    return nested.get(inner) if isinstance(nested, dict) else None


def parse_payload(body: bytes, content_type: str) -> Mapping[str, Any] | None:
    """The JSON object a webhook carries, as JSON or as the form field `payload`; None if none."""
    try:
        text = body.decode()
        if content_type == FORM:
            text = parse_qs(text, strict_parsing=True).get("payload", [""])[0]
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def webhook_app(
    *, secret: bytes | None, on_push: Callable[[], None], on_deployed: Callable[[], None]
) -> web.Application:
    """The app: POST WEBHOOK_PATH takes GitHub's signed events; a push pulls, a deploy is told."""

    async def webhook(request: web.Request) -> web.Response:
        if secret is None:
            log.warning("webhook: refused %s from %s: no webhook secret is set", *_who(request))
            return _refused()
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length)
        body = await request.read()  # over client_max_size: 413, having read no more than that
        if not signature_matches(secret, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("webhook: refused %s from %s: bad or missing signature", *_who(request))
            return _refused()
        payload = parse_payload(body, request.content_type)
        if payload is None:
            return web.Response(status=400, text="the payload is not a JSON object")
        event = request.headers.get("X-GitHub-Event", "")
        action = decide(event, payload)
        delivery = request.headers.get("X-GitHub-Delivery", "?")[:SHOWN]
        if action is Action.IGNORED:
            log.debug("webhook: %s (delivery %s) ignored", event[:SHOWN], delivery)
            return web.Response(status=202, text="ignored")
        log.info("webhook: %s (delivery %s)", event[:SHOWN], delivery)
        if action is Action.PONG:
            return web.Response(text="pong")
        (on_push if action is Action.PULL else on_deployed)()
        return web.Response(status=202, text=str(action))

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(WEBHOOK_PATH, webhook)
    return app


def _refused() -> web.Response:
    return web.Response(status=401, text="signature required")


def _who(request: web.Request) -> tuple[str, str]:
    """The event name and the remote address of a request, quoted: neither is trusted."""
    return repr(request.headers.get("X-GitHub-Event", "")[:SHOWN]), repr(request.remote)


class HttpServer:
    """One aiohttp server on host:port until stopped (async context manager)."""

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self._port = port  # the one bound, once listening
        # No access log: each webhook logs its own line, and the rest is noise.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_S)

    async def __aenter__(self) -> HttpServer:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self._port).start()
        except OSError as error:
            await self._runner.cleanup()
            reason = f"http: cannot listen on {self._address()}: {_reason(error)}"
            raise ConfigError(reason) from None
        self._port = int(self._runner.addresses[0][1])
        log.info("http: listening on %s", self._address())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()

    @property
    def port(self) -> int:
        """The port actually bound (the one asked for, or the one given for port 0)."""
        return self._port

    def _address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self._port}"


def _reason(error: OSError) -> str:
    """An OSError's reason in words: "address already in use", "permission denied"."""
    if error.errno is None or error.errno not in errno.errorcode:
        return str(error)
    return os.strerror(error.errno).lower()
