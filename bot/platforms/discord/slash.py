"""The command table as Discord's slash commands: typed options, described in en and ko."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import discord
from discord import Interaction, app_commands
from discord.app_commands import Choice, Range, locale_str

from bot.command_table import slash_texts
from bot.commands import BY_NAME, DEFAULT_COUNT, MOST, TABLE

KOREAN = slash_texts(TABLE)  # the commands' descriptions, as Korean clients show them
CHAT = "channel"  # what Discord calls a chat

Answer = Callable[[Interaction, str, str], Awaitable[None]]
Complete = Callable[[Interaction, str], Coroutine[Any, Any, list[Choice[str]]]]


class KoreanDescriptions(app_commands.Translator):
    """The commands' descriptions for Korean clients; English elsewhere."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        del context
        return KOREAN.get(string.message) if locale is discord.Locale.korean else None


def register(
    tree: app_commands.CommandTree[discord.Client],
    answer: Answer,
    category_choices: Complete,
    post_choices: Complete,
) -> None:
    """The command table as slash commands, each answered by `answer(interaction, name, args)`.

    Discord shows /subscribe and /unsubscribe to members who may manage the channel; the admin
    commands to everyone, since sokbo's admins are listed by id and role, not by permission
    (sokbo refuses everyone else).
    """
    channel_managers = app_commands.default_permissions(manage_channels=True)

    @slash(tree, "latest")
    async def latest(interaction: Interaction, n: Range[int, 1, MOST] | None = None) -> None:
        await answer(interaction, "latest", str(n or DEFAULT_COUNT))

    @slash(tree, "categories")
    async def categories(interaction: Interaction) -> None:
        await answer(interaction, "categories", "")

    @slash(tree, "category")
    @app_commands.autocomplete(name=category_choices)
    async def category(
        interaction: Interaction, name: str, n: Range[int, 1, MOST] | None = None
    ) -> None:
        await answer(interaction, "category", f"{name} {n or DEFAULT_COUNT}")  # "2013" is a name

    @slash(tree, "subscribe")
    @app_commands.autocomplete(categories=category_choices)
    @channel_managers
    async def subscribe(interaction: Interaction, categories: str | None = None) -> None:
        await answer(interaction, "subscribe", _text(categories))

    @slash(tree, "unsubscribe")
    @app_commands.autocomplete(categories=category_choices)
    @channel_managers
    async def unsubscribe(interaction: Interaction, categories: str | None = None) -> None:
        await answer(interaction, "unsubscribe", _text(categories))

    @slash(tree, "subscriptions")
    async def subscriptions(interaction: Interaction) -> None:
        await answer(interaction, "subscriptions", "")

    @slash(tree, "help")
    async def help_(interaction: Interaction) -> None:
        await answer(interaction, "help", "")

    @slash(tree, "repost")
    @app_commands.autocomplete(post=post_choices)
    async def repost(interaction: Interaction, post: str, here: bool = False) -> None:
        await answer(interaction, "repost", f"{post} here" if here else post)

    @slash(tree, "retract")
    @app_commands.autocomplete(post=post_choices)
    async def retract(interaction: Interaction, post: str) -> None:
        await answer(interaction, "retract", post)

    @slash(tree, "pause")
    async def pause(interaction: Interaction) -> None:
        await answer(interaction, "pause", "")

    @slash(tree, "resume")
    async def resume(interaction: Interaction) -> None:
        await answer(interaction, "resume", "")

    @slash(tree, "status")
    async def status(interaction: Interaction) -> None:
        await answer(interaction, "status", "")

    missing = {spec.name for spec in TABLE} - {command.name for command in tree.get_commands()}
    if missing:  # a row added to the table needs its typed options here
        raise RuntimeError(f"no slash command for /{', /'.join(sorted(missing))}")


Callback = TypeVar("Callback", bound=Callable[..., Coroutine[Any, Any, None]])


def slash(
    tree: app_commands.CommandTree[discord.Client], name: str
) -> Callable[[Callback], app_commands.Command[Any, Any, None]]:
    """Register a callback as the table's command `name`, with the table's descriptions."""
    spec = BY_NAME[name]

    def decorate(callback: Callback) -> app_commands.Command[Any, Any, None]:
        options = {a.name: a.description.say("en", chat=CHAT) for a in spec.arguments}
        described = app_commands.describe(**options)(callback) if options else callback
        command = tree.command(name=spec.name, description=spec.describe("en", chat=CHAT))
        return command(described)

    return decorate


def _text(value: object) -> str:
    return "" if value is None else str(value)
