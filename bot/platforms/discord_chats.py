"""Discord's gateway: slash commands answered through the core; channels followed as they go."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import aiohttp
import discord
from discord import AllowedMentions, Interaction, app_commands
from discord.app_commands import Choice, Range, locale_str

from bot.clock import Clock
from bot.commands import (
    ADMIN_COMMANDS,
    MOST,
    Caller,
    Command,
    Commands,
    complete_categories,
    complete_posts,
)
from bot.config import Config
from bot.i18n import language_of
from bot.model import Reply
from bot.outbox import Outbox
from bot.platforms.discord import NAME
from bot.progress import follow_progress
from bot.render.discord import reply_contents
from bot.render.text import truncate

DEFER_AFTER_S = 1.5  # answer by then or defer: Discord drops an interaction unanswered in 3 s
PROGRESS_FOR = timedelta(minutes=14)  # an interaction's reply may be edited for 15 minutes
CHOICES = 25  # the most autocomplete choices Discord shows
CHOICE_LENGTH = 100  # the longest choice name or value
QUIET = AllowedMentions.none()
KOREAN = {  # the commands' descriptions, as Korean clients show them
    "the newest posts": "최신 글",
    "the categories and their post counts": "카테고리 목록과 글 수",
    "the newest posts in a category": "카테고리의 최신 글",
    "get alerts in this channel": "이 채널에서 알림 받기",
    "stop alerts in this channel": "이 채널의 알림 끄기",
    "what this channel gets": "이 채널이 받는 알림",
    "what this bot does": "이 봇의 사용법",
    "admins: push a post again": "관리자: 글을 다시 보내기",
    "admins: delete a post's alerts": "관리자: 보낸 알림 지우기",
    "admins: hold new alerts": "관리자: 새 알림 보류",
    "admins: release held alerts": "관리자: 보류한 알림 보내기",
    "admins: queue, deliveries, last scan": "관리자: 대기열, 전송, 마지막 확인",
    "how many posts (1-20, default 5)": "글 수 (1-20, 기본 5)",
    "the category's name": "카테고리 이름",
    "categories, separated by spaces (none: every post)": (
        "카테고리, 띄어쓰기로 구분 (없으면 모든 글)"
    ),
    "the post: its key, file path or link": "글: 키, 파일 경로 또는 링크",
    "only to this channel": "이 채널에만",
}

log = logging.getLogger(__name__)

Answer = Callable[[Interaction, str, str], Awaitable[None]]
Complete = Callable[[Interaction, str], Coroutine[Any, Any, list[Choice[str]]]]


class DiscordChats:
    """Registers the slash commands, runs the gateway under sokbo's task group, answers them."""

    def __init__(
        self,
        client: discord.Client,
        commands: Commands,
        outbox: Outbox,
        config: Config,
        clock: Clock,
        *,
        defer_after_s: float = DEFER_AFTER_S,
    ) -> None:
        self.client = client
        self.commands = commands
        self.outbox = outbox
        self.config = config
        self.clock = clock
        self.defer_after_s = defer_after_s
        self._tasks: set[asyncio.Task[None]] = set()  # notices and /repost replies kept current
        self.tree = app_commands.CommandTree(client)
        _register(self.tree, self._answer, self._complete_category, self._complete_post)
        client.event(self.on_guild_remove)
        client.event(self.on_guild_channel_delete)

    async def start(self) -> None:
        """Register the slash commands with Discord (in English and Korean)."""
        await self.tree.set_translator(_Korean())
        try:
            synced = await self.tree.sync()
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            log.warning("discord: slash commands not registered: %s", error)
            return
        log.info("discord: %d slash commands registered", len(synced))

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the gateway connection (discord.py reconnects by itself) until `stop`.

        The client itself is closed by its owner once delivery is done with it.
        """
        connection = asyncio.create_task(self._connect())
        await stop.wait()
        connection.cancel()
        for task in [connection, *self._tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _connect(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as error:
            log.error(
                "discord: the gateway closed (%s): commands are off; pushes still go out",
                error or type(error).__name__,
            )

    def notify(self, text: str) -> None:
        """Send an admin notice to `discord.notify_channel`, if set; failures are only logged."""
        channel = self.config.discord.notify_channel
        if channel is not None:
            self._spawn(self._notify(channel, text))

    async def _notify(self, channel: int, text: str) -> None:
        try:
            await self.client.get_partial_messageable(channel).send(
                truncate(f"sokbo: {text}", 2000), allowed_mentions=QUIET
            )
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            log.warning("discord: notice not sent to channel %s: %s", channel, error)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _caller(self, interaction: Interaction) -> Caller:
        user = interaction.user
        roles = {role.id for role in getattr(user, "roles", ())}
        settings = self.config.discord
        channel = interaction.channel
        return Caller(
            platform=NAME,
            chat=str(interaction.channel_id),
            user=str(user.id),
            language=language_of(interaction.locale.value, self.config.bot.language),
            is_private=interaction.guild_id is None,
            is_chat_admin=interaction.permissions.manage_channels,
            is_bot_admin=user.id in settings.admins or not roles.isdisjoint(settings.admin_roles),
            chat_kind=str(channel.type) if channel is not None else "",
        )

    async def _answer(self, interaction: Interaction, name: str, args: str) -> None:
        """Answer through the core; defer when that takes long; admins' replies are ephemeral."""
        caller = self._caller(interaction)
        work = asyncio.ensure_future(self.commands.handle(Command(name, args.strip()), caller))
        deferred_privately = name in ADMIN_COMMANDS
        deferred = False
        try:
            await asyncio.wait({work}, timeout=self.defer_after_s)
            if not work.done():
                await interaction.response.defer(ephemeral=deferred_privately, thinking=True)
                deferred = True
            reply = await work
            private = reply.is_private or name in ADMIN_COMMANDS
            first, *rest = reply_contents(reply)
            if not deferred:
                await interaction.response.send_message(
                    first, ephemeral=private, allowed_mentions=QUIET
                )
            elif private and not deferred_privately:  # a public "thinking…" can't turn private
                await interaction.delete_original_response()
                await interaction.followup.send(first, ephemeral=True, allowed_mentions=QUIET)
            else:
                await interaction.edit_original_response(content=first, allowed_mentions=QUIET)
            for more in rest:
                await interaction.followup.send(more, ephemeral=private, allowed_mentions=QUIET)
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "discord: could not answer /%s in channel %s: %s",
                name, interaction.channel_id, error,
            )  # fmt: skip
            return
        if reply.progress_of is not None:
            self._spawn(self._follow(interaction, reply.text, reply.progress_of, caller.language))

    async def _follow(
        self, interaction: Interaction, text: str, push_id: int, language: str
    ) -> None:
        """Edit a /repost reply with its progress until every row is done."""

        async def show(shown: str) -> bool:
            try:
                content = reply_contents(_lines(shown))[0]
                await interaction.edit_original_response(content=content, allowed_mentions=QUIET)
            except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
                log.info("discord: repost progress not shown: %s", error)
                return False
            return True

        await follow_progress(
            self.outbox, self.clock, push_id,
            text=text, language=language, show=show, longest=PROGRESS_FOR,
        )  # fmt: skip

    async def _complete_category(self, interaction: Interaction, typed: str) -> list[Choice[str]]:
        """Categories for the word being typed (after any already chosen ones)."""
        del interaction
        before, _, word = typed.rpartition(" ")
        prefix = f"{before} " if before.strip() else ""
        records = (await self.commands.store.records()).values()
        names = [prefix + name for name in complete_categories(records, word, most=CHOICES)]
        return [Choice(name=name, value=name) for name in names if len(name) <= CHOICE_LENGTH]

    async def _complete_post(self, interaction: Interaction, typed: str) -> list[Choice[str]]:
        """Posts whose key or title holds what was typed, newest first, shown by title."""
        del interaction
        records = (await self.commands.store.records()).values()
        choices = []
        for record in complete_posts(records, typed, most=CHOICES * 2):
            key = record.post.key
            if len(key) <= CHOICE_LENGTH:  # longer keys can still be typed in full
                shown = truncate(f"{record.post.title} · {key}", CHOICE_LENGTH)
                choices.append(Choice(name=shown, value=key))
        return choices[:CHOICES]

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from a server: its channels get no more pushes."""
        for channel in guild.channels:
            await self._gone(str(channel.id), "the bot was removed from the server")

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A channel was deleted: it gets no more pushes."""
        await self._gone(str(channel.id), "the channel was deleted")

    async def _gone(self, address: str, why: str) -> None:
        target = await self.outbox.target(NAME, address)
        if target is not None:
            await self.outbox.deactivate(NAME, address, error=why, now=self.clock.now())
            log.info("discord: channel %s gets no more pushes: %s", address, why)


def _lines(text: str) -> Reply:
    return Reply(tuple(text.split("\n")))


class _Korean(app_commands.Translator):
    """The commands' descriptions for Korean clients; English elsewhere."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        del context
        return KOREAN.get(string.message) if locale is discord.Locale.korean else None


def _register(
    tree: app_commands.CommandTree[discord.Client],
    answer: Answer,
    category_choices: Complete,
    post_choices: Complete,
) -> None:
    """The DESIGN table as slash commands, each answered by `answer(interaction, name, args)`."""
    channel_managers = app_commands.default_permissions(manage_channels=True)
    server_managers = app_commands.default_permissions(manage_guild=True)

    @tree.command(name="latest", description="the newest posts")
    @app_commands.describe(n="how many posts (1-20, default 5)")
    async def latest(interaction: Interaction, n: Range[int, 1, MOST] | None = None) -> None:
        await answer(interaction, "latest", _text(n))

    @tree.command(name="categories", description="the categories and their post counts")
    async def categories(interaction: Interaction) -> None:
        await answer(interaction, "categories", "")

    @tree.command(name="category", description="the newest posts in a category")
    @app_commands.describe(name="the category's name", n="how many posts (1-20, default 5)")
    @app_commands.autocomplete(name=category_choices)
    async def category(
        interaction: Interaction, name: str, n: Range[int, 1, MOST] | None = None
    ) -> None:
        await answer(interaction, "category", f"{name} {_text(n)}")

    @tree.command(name="subscribe", description="get alerts in this channel")
    @app_commands.describe(categories="categories, separated by spaces (none: every post)")
    @app_commands.autocomplete(categories=category_choices)
    @channel_managers
    async def subscribe(interaction: Interaction, categories: str | None = None) -> None:
        await answer(interaction, "subscribe", _text(categories))

    @tree.command(name="unsubscribe", description="stop alerts in this channel")
    @app_commands.describe(categories="categories, separated by spaces (none: every post)")
    @app_commands.autocomplete(categories=category_choices)
    @channel_managers
    async def unsubscribe(interaction: Interaction, categories: str | None = None) -> None:
        await answer(interaction, "unsubscribe", _text(categories))

    @tree.command(name="subscriptions", description="what this channel gets")
    async def subscriptions(interaction: Interaction) -> None:
        await answer(interaction, "subscriptions", "")

    @tree.command(name="help", description="what this bot does")
    async def help_(interaction: Interaction) -> None:
        await answer(interaction, "help", "")

    @tree.command(name="repost", description="admins: push a post again")
    @app_commands.describe(post="the post: its key, file path or link", here="only to this channel")
    @app_commands.autocomplete(post=post_choices)
    @server_managers
    async def repost(interaction: Interaction, post: str, here: bool = False) -> None:
        await answer(interaction, "repost", f"{post} here" if here else post)

    @tree.command(name="retract", description="admins: delete a post's alerts")
    @app_commands.describe(post="the post: its key, file path or link")
    @app_commands.autocomplete(post=post_choices)
    @server_managers
    async def retract(interaction: Interaction, post: str) -> None:
        await answer(interaction, "retract", post)

    @tree.command(name="pause", description="admins: hold new alerts")
    @server_managers
    async def pause(interaction: Interaction) -> None:
        await answer(interaction, "pause", "")

    @tree.command(name="resume", description="admins: release held alerts")
    @server_managers
    async def resume(interaction: Interaction) -> None:
        await answer(interaction, "resume", "")

    @tree.command(name="status", description="admins: queue, deliveries, last scan")
    @server_managers
    async def status(interaction: Interaction) -> None:
        await answer(interaction, "status", "")


def _text(value: object) -> str:
    return "" if value is None else str(value)
