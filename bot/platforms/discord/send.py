"""Discord through discord.py: delivery's Platform (rendered bodies by REST), errors translated."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord import File
from discord.http import Route

from bot.clock import Clock
from bot.config import DiscordSettings
from bot.errors import (
    MessageGone,
    PlatformError,
    RateLimited,
    Rejected,
    SendError,
    TargetGone,
    Transient,
    Unknown,
)
from bot.model import DiscordOptions, Message, MessageRef, Target
from bot.ratelimit import Pacer
from bot.render.discord import DiscordMessage, render

NAME = "discord"
PER_SECOND = 45.0  # Discord allows 50 requests a second per bot; keep a margin for commands
CHANNEL_INTERVAL = timedelta(seconds=1)  # a channel's message bucket: 5 per 5 s, evenly

INTENTS = discord.Intents(guilds=True)  # servers, channels and roles; nothing privileged
UNKNOWN_MESSAGE = 10008
CHANNEL_LOST = frozenset({10003, 50001, 50007, 50013})  # unknown channel, no access, no DMs, …
STILL_LIMITED = timedelta(seconds=2)  # the wait after discord.py gave up on a 429 storm
UPLOAD_TYPE = "application/octet-stream"  # what discord.py declares for every upload
RATE_LIMIT_WAIT_S = 30.0  # the longest 429 discord.py sleeps through; longer ones come to us

log = logging.getLogger(__name__)


def translate(error: Exception) -> SendError:  # noqa: PLR0911 - one return per error kind
    """Map a discord.py error to what delivery does about it.

    discord.py sleeps through 429s and retries 500/502/504 itself: what reaches here is the rest.
    Only Discord's own codes for a lost channel deactivate it; a bare 404 (a proxy's) is retried.
    """
    if isinstance(error, discord.RateLimited):  # over max_ratelimit_timeout
        return RateLimited(timedelta(seconds=error.retry_after))
    if isinstance(error, discord.HTTPException) and error.status == 429:  # still 429 after retries
        return RateLimited(STILL_LIMITED)
    if isinstance(error, discord.DiscordServerError):
        return Transient(f"{error.status}: {error.text}")
    if isinstance(error, discord.HTTPException):
        if error.code == UNKNOWN_MESSAGE:
            return MessageGone(f"{error.status}: {error.text}")
        if error.code in CHANNEL_LOST:
            return TargetGone(f"{error.status}: {error.text}")
        if error.status == 404:
            return Transient(f"{error.status}: {error.text}")
        return Rejected(f"{error.status}: {error.text}")
    if isinstance(error, TimeoutError):
        return Unknown("timed out")
    return Transient(str(error) or type(error).__name__)


class DiscordPlatform:
    """Sends the renderer's request bodies through discord.py's HTTP client, as they are.

    discord.py keeps its rate-limit buckets, its 429 and 5xx retries and its error types; this
    adds only the opened file of a local image.
    """

    name = NAME

    def __init__(self, client: discord.Client, clock: Clock, *, colors: dict[str, int]) -> None:
        self.client = client
        self.clock = clock
        self.colors = colors
        self.pacer = Pacer(clock, per_second=PER_SECOND, interval=CHANNEL_INTERVAL)
        self._publishing: set[asyncio.Task[None]] = set()
        self._publish_limited: dict[int, datetime] = {}  # channel → when it may publish again

    async def ready(self, target: Target) -> None:
        """Wait for this channel's slot."""
        await self.pacer.wait(target.address)

    async def send(self, target: Target, message: Message) -> MessageRef:
        """Post the embed (and its local image as an attachment) to the channel."""
        options = target.options
        if not isinstance(options, DiscordOptions):
            options = DiscordOptions()
        channel_id = int(target.address)
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        shown, upload = self._render(message)
        sent = await self._request(route, shown.payload(options), upload)
        message_id = int(sent["id"])
        if options.crosspost:
            self._crosspost(channel_id, message_id)
        return MessageRef(NAME, target.address, message_id)

    async def edit(self, ref: MessageRef, message: Message) -> None:
        """Edit the embed in place (a correction), uploading its local image again if any."""
        route = Route(
            "PATCH", "/channels/{channel_id}/messages/{message_id}",
            channel_id=int(ref.address), message_id=ref.message_id,
        )  # fmt: skip
        shown, upload = self._render(message)
        await self._request(route, shown.correction(), upload)

    async def delete(self, ref: MessageRef, message: Message) -> None:
        """Delete a sent message (a retraction)."""
        del message
        try:
            await self.client.http.delete_message(int(ref.address), ref.message_id)
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            raise translate(error) from None

    async def probe(self) -> None:
        """Ask the REST API who the bot is (`GET /users/@me`): cheap, and needs the API up."""
        try:
            await self.client.http.request(Route("GET", "/users/@me"))
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            raise translate(error) from None

    def _render(self, message: Message) -> tuple[DiscordMessage, File | None]:
        """The message, and its local image opened for upload; unreadable, the post goes without."""
        shown = render(message, colors=self.colors)
        if shown.attachment is None:
            return shown, None
        try:
            return shown, File(shown.attachment, filename=shown.attachment_name)
        except OSError as error:
            log.warning("discord: image %s not readable (%s): sent without it", shown.attachment,
                        error.strerror)  # fmt: skip
            return render(replace(message, image_file=None), colors=self.colors), None

    async def _request(self, route: Route, body: dict[str, Any], upload: File | None) -> Any:
        """Send `body` as JSON, or with `upload` as a multipart form; errors translated."""
        http = self.client.http
        try:
            if upload is None:
                return await http.request(route, json=body)
            return await http.request(route, files=[upload], form=_form(body, upload))
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            raise translate(error) from None
        finally:
            if upload is not None:
                upload.close()

    def _crosspost(self, channel_id: int, message_id: int) -> None:
        """Publish to an announcement channel's followers, beside delivery, never waited for."""
        limited_until = self._publish_limited.get(channel_id)
        if limited_until is not None and self.clock.now() < limited_until:
            log.info("discord: channel %s is at its publish limit; not published", channel_id)
            return
        task = asyncio.create_task(self._publish(channel_id, message_id))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, channel_id: int, message_id: int) -> None:
        try:
            await self.client.http.publish_message(channel_id, message_id)
        except discord.RateLimited as error:  # about 10 an hour per channel
            until = self.clock.now() + timedelta(seconds=error.retry_after)
            self._publish_limited[channel_id] = until
            log.info("discord: channel %s is at its publish limit; not published", channel_id)
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            log.warning("discord: message %s not published: %s", message_id, error)
        except RuntimeError as error:  # the client closed under it: sokbo is stopping
            log.info("discord: message %s not published: %s", message_id, error)


@asynccontextmanager
async def discord_client(settings: DiscordSettings, token: str) -> AsyncIterator[discord.Client]:
    """A logged-in discord.py client on `settings.api_url`, closed on exit."""
    discord.http.Route.BASE = settings.api_url  # the library's one API base, for this process
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
    _skip_voice_warnings()
    client = discord.Client(intents=INTENTS, max_ratelimit_timeout=RATE_LIMIT_WAIT_S)
    try:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise PlatformError("discord: Discord refused DISCORD_BOT_TOKEN") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
            why = str(error).replace(token, "***") or type(error).__name__
            raise PlatformError(f"discord: could not log in: {why}") from None
        yield client
    finally:
        await client.close()


def _skip_voice_warnings() -> None:
    """sokbo sends no voice: spare the log the 'PyNaCl/davey is not installed' warnings.

    discord.Client warns once per process when these flags are set, then clears them itself;
    clearing them first silences exactly those two lines and leaves its logger alone.
    """
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


def _form(body: dict[str, Any], upload: File) -> list[dict[str, Any]]:
    """The multipart form discord.py sends: the body as `payload_json`, then the file as the part
    `files[n]` that the body's attachment `n` names."""
    [attachment] = body["attachments"]
    part = {"name": f"files[{attachment['id']}]", "value": upload.fp,
            "filename": attachment["filename"], "content_type": UPLOAD_TYPE}  # fmt: skip
    return [{"name": "payload_json", "value": json.dumps(body, separators=(",", ":"))}, part]
