"""The webhook listener as GitHub reaches it: a real server on 127.0.0.1, real signed requests."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.errors import ConfigError
from bot.web import MAX_BODY, WEBHOOK_PATH, HttpServer, signature_matches, webhook_app

SECRET = b"It's a Secret to Everybody"
PUSH = {"ref": "refs/heads/main", "after": "def5678", "commits": [{"added": ["_posts/a.md"]}]}


def sign(body: bytes, secret: bytes = SECRET) -> str:
    """X-Hub-Signature-256 as GitHub computes it."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass
class Hook:
    """A running webhook server, a client for it, and what sokbo was asked to do."""

    url: str
    port: int
    session: aiohttp.ClientSession
    asked: list[str]

    async def post(
        self,
        event: str,
        body: bytes | dict[str, Any],
        *,
        signature: str | None = "",
        content_type: str = "application/json",
    ) -> tuple[int, str]:
        """POST `body` as GitHub would (signature "": signed with SECRET); (status, text)."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "Content-Type": content_type,
        }
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature or sign(raw)
        async with self.session.post(self.url, data=raw, headers=headers) as response:
            return response.status, await response.text()


@asynccontextmanager
async def hook(secret: bytes | None = SECRET) -> AsyncIterator[Hook]:
    """The webhook app on 127.0.0.1 (a free port), with a client session, until the block ends."""
    asked: list[str] = []
    app = webhook_app(
        secret=secret,
        on_push=lambda: asked.append("pull"),
        on_deployed=lambda: asked.append("deployed"),
    )
    async with (
        HttpServer(app, host="127.0.0.1", port=0) as server,
        aiohttp.ClientSession() as session,
    ):
        url = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"
        yield Hook(url, server.port, session, asked)


@pytest.mark.parametrize(
    ("secret", "body", "header", "expected"),
    [
        (
            SECRET,
            b"Hello, World!",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            True,
        ),
        (
            b"another secret",
            b"Hello, World!",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            False,
        ),
        (
            SECRET,
            b"Hello, World?",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            False,
        ),
        (
            SECRET,
            b"Hello, World!",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            False,
        ),
        (SECRET, b"Hello, World!", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", False),
        (SECRET, b"Hello, World!", "sha256=", False),
        (SECRET, b"Hello, World!", None, False),
    ],
    ids=["github's example", "wrong secret", "other body", "no prefix", "sha1", "empty", "missing"],
)
def test_signature_matches_as_github_documents(
    secret: bytes, body: bytes, header: str | None, expected: bool
) -> None:
    """GitHub's documented example matches; any other secret, body or form does not."""
    assert signature_matches(secret, body, header) is expected


async def test_a_signed_push_asks_for_one_pull(caplog: pytest.LogCaptureFixture) -> None:
    """A signed push is accepted at once (202) and asks for exactly one pull, logged in one line."""
    caplog.set_level(logging.INFO, logger="bot.web")
    async with hook() as github:
        answer = await github.post("push", PUSH)

    assert answer == (202, "pull")
    assert github.asked == ["pull"]
    told = [message for message in caplog.messages if message.startswith("webhook:")]
    assert told == ["webhook: push (delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958)"]


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, sign(json.dumps(PUSH).encode(), b"guessed"), "garbage"],
    ids=["unsigned", "zeros", "other secret", "garbage"],
)
async def test_a_forged_or_unsigned_request_is_refused(
    signature: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the right signature: 401, nothing done, one warning that reveals nothing."""
    async with hook() as github:
        answer = await github.post("push", PUSH, signature=signature)

    assert answer == (401, "signature required")
    assert github.asked == []
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == ["webhook: refused 'push' from '127.0.0.1': bad or missing signature"]


async def test_without_a_secret_everything_is_refused() -> None:
    """With no secret set on the server, even a request signed with some key is refused."""
    async with hook(secret=None) as github:
        answers = [await github.post("push", PUSH), await github.post("ping", {"zen": "x"})]

    assert answers == [(401, "signature required")] * 2
    assert github.asked == []


async def test_ping_is_answered_pong() -> None:
    """GitHub's check of a new hook gets 200 "pong" and asks for nothing."""
    async with hook() as github:
        answer = await github.post("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})

    assert answer == (200, "pong")
    assert github.asked == []


@pytest.mark.parametrize(
    ("event", "payload", "answer", "asked"),
    [
        ("page_build", {"build": {"status": "built"}}, (202, "deployed"), ["deployed"]),
        ("page_build", {"build": {"status": "errored"}}, (202, "ignored"), []),
        ("page_build", {"build": None}, (202, "ignored"), []),
        (
            "deployment_status",
            {"deployment_status": {"state": "success"}},
            (202, "deployed"),
            ["deployed"],
        ),
        ("deployment_status", {"deployment_status": {"state": "failure"}}, (202, "ignored"), []),
        ("deployment_status", {"deployment_status": {"state": "pending"}}, (202, "ignored"), []),
        ("issues", {"action": "opened"}, (202, "ignored"), []),
    ],
    ids=["built", "errored", "no build", "success", "failure", "pending", "other event"],
)
async def test_only_a_finished_deploy_is_told(
    event: str, payload: dict[str, Any], answer: tuple[int, str], asked: list[str]
) -> None:
    """A Pages build that was built, or a deployment that succeeded, is news; the rest is not."""
    async with hook() as github:
        assert await github.post(event, payload) == answer

    assert github.asked == asked


async def test_a_form_encoded_push_works() -> None:
    """GitHub's form content type (the JSON in `payload`), signed over the form body, pulls."""
    body = urlencode({"payload": json.dumps(PUSH)}).encode()
    async with hook() as github:
        answer = await github.post("push", body, content_type="application/x-www-form-urlencoded")

    assert answer == (202, "pull")
    assert github.asked == ["pull"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>not json</html>", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
        (b"other=%7B%7D", "application/x-www-form-urlencoded"),
    ],
    ids=["html", "array", "not utf-8", "form not json", "form without payload"],
)
async def test_a_signed_body_that_is_not_a_json_object_is_refused(
    body: bytes, content_type: str
) -> None:
    """A correctly signed body without a JSON object in it is a bad request: 400, nothing done."""
    async with hook() as github:
        answer = await github.post("push", body, content_type=content_type)

    assert answer == (400, "the payload is not a JSON object")
    assert github.asked == []


async def test_a_body_over_the_limit_is_refused_unread() -> None:
    """A signed body over MAX_BODY gets 413, whether its length is announced or streamed."""
    body = b'{"padding": "' + b"x" * MAX_BODY + b'"}'
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body)}

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async with hook() as github:
        statuses = []
        for data in (io.BytesIO(body), streamed()):  # Content-Length, then chunked
            async with github.session.post(github.url, data=data, headers=headers) as response:
                statuses.append(response.status)

    assert statuses == [413, 413]
    assert github.asked == []


async def test_other_methods_are_not_allowed() -> None:
    """A GET of the webhook path is 405; nothing else is served."""
    async with hook() as github:
        async with github.session.get(github.url) as response:
            assert response.status == 405
        async with github.session.get(github.url.replace(WEBHOOK_PATH, "/")) as response:
            assert response.status == 404

    assert github.asked == []


async def test_a_port_in_use_is_one_clear_line() -> None:
    """A second server on a port already taken fails with one line saying where and why."""

    def app() -> aiohttp.web.Application:
        return webhook_app(secret=SECRET, on_push=lambda: None, on_deployed=lambda: None)

    async with hook() as github:
        with pytest.raises(ConfigError) as refused:
            async with HttpServer(app(), host="127.0.0.1", port=github.port):
                pass
        assert await github.post("ping", {}) == (200, "pong")  # the first server still serves

    assert (
        str(refused.value)
        == f"http: cannot listen on 127.0.0.1:{github.port}: address already in use"
    )
