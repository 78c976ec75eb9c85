"""What a row of the command table says: who may run a command, its arguments and its words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias

from bot.i18n import t

if TYPE_CHECKING:
    from bot.commands import Caller
    from bot.model import Reply

# A row's handler: the Commands instance, the rest of the line, the caller.
Handler: TypeAlias = "Callable[[Any, str, Caller], Awaitable[Reply]]"

MENU_DESCRIPTION = 256  # setMyCommands: a description is 1-256 characters
SLASH_DESCRIPTION = 100  # Discord: a command's or option's description is 1-100 characters


class Access(StrEnum):
    """Who may run a command."""

    ANYONE = "anyone"
    CHAT_ADMINS = "chat_admins"  # anyone in a private chat; the chat's admins in a group
    BOT_ADMINS = "bot_admins"  # the admins listed in the config


@dataclass(frozen=True, slots=True)
class Text:
    """One text in English and Korean; `{chat}` stands for the platform's word for a chat."""

    en: str
    ko: str

    def say(self, language: str, *, chat: str = "chat") -> str:
        """The text in `language` (Korean unless English), with the word for a chat filled in."""
        text = self.en if language == "en" else self.ko
        word = chat if language == "en" else CHAT_WORDS_KO.get(chat, "채팅")
        return text.replace("{chat}", word)


CHAT_WORDS_KO = {"chat": "채팅", "channel": "채널"}


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument: its name (Discord's option name), how usage shows it, what it is."""

    name: str
    shown: Text  # "NAME" / "이름"
    description: Text
    is_required: bool = False
    is_repeated: bool = False  # several words: `[category …]`


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One chat command: the only way a name becomes something sokbo does."""

    name: str
    access: Access
    description: Text
    handler: Handler
    arguments: tuple[Argument, ...] = ()
    aliases: tuple[str, ...] = ()  # other names for it (/start), never shown in menus

    def usage(self, language: str) -> str:
        """`/category NAME [n]`, in `language`."""
        parts = [f"/{self.name}"]
        for argument in self.arguments:
            shown = argument.shown.say(language)
            shown = f"{shown} …" if argument.is_repeated else shown
            parts.append(shown if argument.is_required else f"[{shown}]")
        return " ".join(parts)

    def describe(self, language: str, *, chat: str = "chat") -> str:
        """What the command does, in `language`; admin commands say so."""
        text = self.description.say(language, chat=chat)
        if self.access is Access.BOT_ADMINS:
            return t("admin_command", language, text=text)
        return text


def index(table: Iterable[CommandSpec]) -> dict[str, CommandSpec]:
    """The table by every name and alias; a name listed twice is a mistake caught at import."""
    found: dict[str, CommandSpec] = {}
    for spec in table:
        for name in (spec.name, *spec.aliases):
            if name in found or name != name.casefold():
                raise ValueError(f"command name {name!r} is listed twice or not in lower case")
            found[name] = spec
    return found


def help_lines(table: Iterable[CommandSpec], language: str, *, is_admin: bool) -> list[str]:
    """`/usage — description` for each command the caller may run, admin ones last."""
    specs = list(table)
    lines = [
        f"{spec.usage(language)} — {spec.describe(language)}"
        for spec in specs
        if spec.access is not Access.BOT_ADMINS
    ]
    if is_admin:
        lines += [
            f"{spec.usage(language)} — {spec.describe(language)}"
            for spec in specs
            if spec.access is Access.BOT_ADMINS
        ]
    return lines


def menu(table: Iterable[CommandSpec], language: str) -> list[tuple[str, str]]:
    """(name, description) of each command for readers, for a platform's command menu."""
    return [
        (spec.name, spec.describe(language)[:MENU_DESCRIPTION])
        for spec in table
        if spec.access is not Access.BOT_ADMINS
    ]


def slash_texts(table: Iterable[CommandSpec]) -> dict[str, str]:
    """Every English slash-command text (commands' and options' descriptions) → its Korean."""
    korean: dict[str, str] = {}
    for spec in table:
        korean[spec.describe("en", chat="channel")] = spec.describe("ko", chat="channel")
        for argument in spec.arguments:
            english = argument.description.say("en", chat="channel")
            korean[english] = argument.description.say("ko", chat="channel")
    return korean
