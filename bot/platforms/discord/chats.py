"""Discord's gateway: slash commands answered through the core; channels followed as they go."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

import aiohttp
import discord
from discord import AllowedMentions, Interaction, app_commands
from discord.app_commands import Choice
from discord.utils import MISSING

from bot.clock import Clock
from bot.command_table import Access
from bot.commands import BY_NAME, Caller, Command, Commands
from bot.config import Config
from bot.errands import Errands
from bot.errors import PlatformError, SendError
from bot.i18n import language_of, t
from bot.lookup import complete_categories
from bot.model import Reply
from bot.platforms.discord.send import NAME, DiscordPlatform, translate
from bot.platforms.discord.slash import KoreanDescriptions, register
from bot.questions import LASTING, Questions, button_data, read_button
from bot.render.discord import reply_contents
from bot.render.text import truncate
from bot.replies import send_reply
from bot.storage import Storage

DEFER_AFTER_S = 1.5  # answer by then or defer: Discord drops an interaction unanswered in 3 s
PROGRESS_FOR = timedelta(minutes=14)  # an interaction's reply may be edited for 15 minutes
CHOICES = 25  # the most autocomplete choices Discord shows
CHOICE_LENGTH = 100  # the longest choice name or value
BUTTON_LABEL = 80  # the longest button label
QUIET = AllowedMentions.none()

log = logging.getLogger(__name__)


class DiscordChats:
    """Registers the slash commands, runs the gateway under sokbo's task group, answers them."""

    def __init__(
        self,
        platform: DiscordPlatform,
        commands: Commands,
        storage: Storage,
        config: Config,
        clock: Clock,
        *,
        defer_after_s: float = DEFER_AFTER_S,
    ) -> None:
        self.platform = platform  # follow-ups and notices share its pacing
        self.client = client = platform.client
        self.commands = commands
        self.chats = storage.chats
        self.config = config
        self.clock = clock
        self.defer_after_s = defer_after_s
        self.errands = Errands(storage.outbox, clock)  # notices, /repost replies kept current
        self.tree = app_commands.CommandTree(client)
        register(self.tree, self._answer, self._complete_category, self._complete_post)
        self.questions = Questions(clock)  # what the buttons of sokbo's questions answer
        client.event(self.on_interaction)
        client.event(self.on_guild_remove)
        client.event(self.on_guild_channel_delete)

    async def start(self) -> None:
        """Register the slash commands with Discord (in English and Korean)."""
        await self.tree.set_translator(KoreanDescriptions())
        try:
            synced = await self.tree.sync()
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            log.warning("discord: slash commands not registered: %s", error)
            return
        log.info("discord: %d slash commands registered", len(synced))

    async def run(self, stop: asyncio.Event) -> None:
        """Register the slash commands, then hold the gateway connection until `stop`; a session
        Discord ends for good stops sokbo.

        discord.py closes the whole client then (REST too), so nothing could be sent; the
        outbox keeps every push for the next start. Otherwise the client is closed by its owner
        once delivery is done with it.
        """
        await self.start()
        connection = asyncio.create_task(self._connect())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if connection.done():
            connection.result()  # the session ended for good: its PlatformError stops sokbo
        connection.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connection
        await self.errands.close()

    async def _connect(self) -> None:
        """discord.py reconnects and resumes by itself; what it raises has closed the client."""
        try:
            await self.client.connect(reconnect=True)
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as error:
            raise PlatformError(
                f"discord: the gateway ended the session ({error or type(error).__name__}); "
                "check the token and the application's settings"
            ) from None

    def notify(self, text: str) -> None:
        """Send an admin notice to `discord.notify_channel`, if set; failures are only logged."""
        channel = self.config.discord.notify_channel
        self.errands.notify(None if channel is None else partial(self._notify, channel), text)

    async def _notify(self, channel: int, text: str) -> None:
        content = reply_contents(Reply((text,)))[0]  # escaped, within limits
        messageable = self.client.get_partial_messageable(channel)
        await self._paced(
            lambda: messageable.send(content, allowed_mentions=QUIET),
            channel, f"discord: notice to channel {channel}",
        )  # fmt: skip

    async def _paced(
        self, call: Callable[[], Awaitable[object]], channel: int | None, what: str
    ) -> bool:
        """A follow-up or notice: in the platform's pacing, ahead of pushes; whether it went."""
        sent = await send_reply(
            call, pacer=self.platform.pacer, clock=self.clock, key=str(channel),
            translate=_translate, what=what,
        )  # fmt: skip
        return sent is not None

    def _caller(self, interaction: Interaction) -> Caller:
        user = interaction.user
        roles = role_ids(user)
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
        work = asyncio.ensure_future(self.commands.handle(Command(name, args), caller))
        deferred_privately = BY_NAME[name].access is Access.BOT_ADMINS
        deferred = False
        try:
            await asyncio.wait({work}, timeout=self.defer_after_s)
            if not work.done():
                await interaction.response.defer(ephemeral=deferred_privately, thinking=True)
                deferred = True
            reply = await work
            private = reply.is_private or deferred_privately
            view = self._buttons(reply, caller) if reply.choices else MISSING
            shown = Reply(reply.lines, entries=reply.entries) if reply.choices else reply
            first, *rest = reply_contents(shown)
            if not deferred:
                await interaction.response.send_message(
                    first, ephemeral=private, allowed_mentions=QUIET, view=view
                )
            elif private and not deferred_privately:  # a public "thinking…" can't turn private
                await interaction.delete_original_response()
                await interaction.followup.send(
                    first, ephemeral=True, allowed_mentions=QUIET, view=view
                )
            else:
                await interaction.edit_original_response(
                    content=first, allowed_mentions=QUIET, view=view
                )
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "discord: could not answer /%s in channel %s: %s",
                name, interaction.channel_id, error,
            )  # fmt: skip
            return
        for more in rest:
            await self._paced(
                partial(interaction.followup.send, more, ephemeral=private, allowed_mentions=QUIET),
                interaction.channel_id, f"discord: follow-up of /{name}",
            )  # fmt: skip
        if reply.progress_of is not None:
            self.errands.follow(
                reply.progress_of, text=reply.text, language=caller.language,
                show=partial(self._show_progress, interaction), longest=PROGRESS_FOR,
            )  # fmt: skip

    def _buttons(self, reply: Reply, caller: Caller) -> discord.ui.View:
        """A question's answers as buttons; the question stays with sokbo (custom_id: a token)."""
        token = self.questions.ask(reply.choices, user=caller.user, chat=caller.chat)
        view = discord.ui.View(timeout=LASTING.total_seconds())
        for index, choice in enumerate(reply.choices):
            view.add_item(
                discord.ui.Button(
                    label=truncate(choice.label, BUTTON_LABEL), custom_id=button_data(token, index)
                )
            )
        return view

    async def on_interaction(self, interaction: Interaction) -> None:
        """A button of one of sokbo's questions pressed: run its answer as the one who asked,
        and turn the question into the result (its buttons go)."""
        if interaction.type is not discord.InteractionType.component:
            return
        data: dict[str, object] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if read_button(custom_id) is None:
            return  # not one of sokbo's buttons
        caller = self._caller(interaction)
        choice = self.questions.take(custom_id, user=caller.user)
        try:
            if isinstance(choice, str):
                await interaction.response.send_message(
                    t(choice, caller.language), ephemeral=True, allowed_mentions=QUIET
                )
                return
            result = await self.commands.choose(choice, caller)
            await interaction.response.edit_message(
                content=reply_contents(result)[0], view=None, allowed_mentions=QUIET
            )
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as error:
            log.warning("discord: could not answer a button in %s: %s", caller.chat, error)

    async def _show_progress(self, interaction: Interaction, shown: str) -> bool:
        """Edit a /repost reply to say `shown`; whether it could."""
        content = reply_contents(_lines(shown))[0]
        edit = partial(interaction.edit_original_response, content=content, allowed_mentions=QUIET)
        return await self._paced(edit, interaction.channel_id, "discord: repost progress")

    async def _complete_category(self, interaction: Interaction, typed: str) -> list[Choice[str]]:
        """Categories for the word being typed (after any already chosen ones)."""
        del interaction
        before, _, word = typed.rpartition(" ")
        prefix = f"{before} " if before.strip() else ""
        counts = await self.commands.archive.categories()
        names = [prefix + name for name in complete_categories(counts, word, most=CHOICES)]
        return [Choice(name=name, value=name) for name in names if len(name) <= CHOICE_LENGTH]

    async def _complete_post(self, interaction: Interaction, typed: str) -> list[Choice[str]]:
        """Posts whose key or title holds what was typed, newest first, shown by title."""
        del interaction
        choices = []
        for record in await self.commands.archive.matching(typed, most=CHOICES * 2):
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
        target = await self.chats.target(NAME, address)
        if target is not None:
            await self.chats.deactivate(NAME, address, error=why, now=self.clock.now())
            log.info("discord: channel %s gets no more pushes: %s", address, why)


def role_ids(user: discord.User | discord.Member) -> frozenset[int]:
    """The ids of a member's roles, as the interaction carried them; none outside a server.

    `Member.roles` looks the ids up in discord.py's cache of the server, which sokbo does not
    keep (no members intent): the ids themselves are only in the private `Member._roles`.
    This is the one place that reads it.
    """
    return frozenset(int(role) for role in getattr(user, "_roles", ()))


def _translate(error: Exception) -> SendError | None:
    """A discord.py or connection error as a SendError; None for anything else."""
    if isinstance(error, discord.DiscordException | aiohttp.ClientError | TimeoutError):
        return translate(error)
    return None


def _lines(text: str) -> Reply:
    return Reply(tuple(text.split("\n")))
