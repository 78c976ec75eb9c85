"""The slash commands as Discord shows them: the DESIGN table, options described in en and ko."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
from discord import Interaction, app_commands
from discord.app_commands import Choice, Range, locale_str

from bot.commands import DEFAULT_COUNT, MOST

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
    """The DESIGN table as slash commands, each answered by `answer(interaction, name, args)`.

    Discord shows /subscribe and /unsubscribe to members who may manage the channel; the admin
    commands to everyone, since sokbo's admins are listed by id and role, not by permission
    (sokbo refuses everyone else).
    """
    channel_managers = app_commands.default_permissions(manage_channels=True)

    @tree.command(name="latest", description="the newest posts")
    @app_commands.describe(n="how many posts (1-20, default 5)")
    async def latest(interaction: Interaction, n: Range[int, 1, MOST] | None = None) -> None:
        await answer(interaction, "latest", str(n or DEFAULT_COUNT))

    @tree.command(name="categories", description="the categories and their post counts")
    async def categories(interaction: Interaction) -> None:
        await answer(interaction, "categories", "")

    @tree.command(name="category", description="the newest posts in a category")
    @app_commands.describe(name="the category's name", n="how many posts (1-20, default 5)")
    @app_commands.autocomplete(name=category_choices)
    async def category(
        interaction: Interaction, name: str, n: Range[int, 1, MOST] | None = None
    ) -> None:
        await answer(interaction, "category", f"{name} {n or DEFAULT_COUNT}")  # "2013" is a name

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
    async def repost(interaction: Interaction, post: str, here: bool = False) -> None:
        await answer(interaction, "repost", f"{post} here" if here else post)

    @tree.command(name="retract", description="admins: delete a post's alerts")
    @app_commands.describe(post="the post: its key, file path or link")
    @app_commands.autocomplete(post=post_choices)
    async def retract(interaction: Interaction, post: str) -> None:
        await answer(interaction, "retract", post)

    @tree.command(name="pause", description="admins: hold new alerts")
    async def pause(interaction: Interaction) -> None:
        await answer(interaction, "pause", "")

    @tree.command(name="resume", description="admins: release held alerts")
    async def resume(interaction: Interaction) -> None:
        await answer(interaction, "resume", "")

    @tree.command(name="status", description="admins: queue, deliveries, last scan")
    async def status(interaction: Interaction) -> None:
        await answer(interaction, "status", "")


def _text(value: object) -> str:
    return "" if value is None else str(value)
