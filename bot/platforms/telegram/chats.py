"""Telegram updates: commands in and replies out through the core; chats followed as they change."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.clock import Clock
from bot.command_table import Access, menu
from bot.commands import BY_NAME, TABLE, Caller, Commands, parse_command
from bot.config import Config
from bot.errands import Errands
from bot.errors import PlatformError
from bot.i18n import LANGUAGES, language_of, t
from bot.model import Reply
from bot.platforms.telegram.send import NAME, TelegramPlatform
from bot.questions import Questions, button_data
from bot.render.lists import telegram_html
from bot.storage import Storage

ALLOWED_UPDATES = [
    "message",
    "channel_post",
    "my_chat_member",
    "callback_query",
]  # edited messages never re-run
BOOTSTRAP_RETRIES = 5  # a Bot API error while polling starts is retried (with PTB's backoff)
PROGRESS_FOR = timedelta(minutes=30)  # how long a /repost reply is kept current
ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
GONE_STATUSES = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramChats:
    """Runs the Application's polling under sokbo's own task group, and answers chats."""

    def __init__(
        self,
        app: AnyApplication,
        platform: TelegramPlatform,
        commands: Commands,
        storage: Storage,
        *,
        config: Config,
        clock: Clock,
    ) -> None:
        self.app = app
        self.platform = platform  # replies and notices share its pacing
        self.commands = commands
        self.chats = storage.chats
        self.config = config
        self.clock = clock
        self.questions = Questions(clock)  # what the buttons of sokbo's questions answer
        self.errands = Errands(storage.outbox, clock)  # notices, /repost replies kept current
        command_updates = filters.COMMAND & (
            filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        )
        app.add_handler(MessageHandler(command_updates, self.on_command, block=False))
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migrate, block=False))
        app.add_handler(CallbackQueryHandler(self.on_button, block=False))
        app.add_handler(
            ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER, block=False)
        )

    async def start(self) -> None:
        """Register the command menu and start polling (the Application is logged in)."""
        try:
            for language in LANGUAGES:  # the default menu is English
                entries = [BotCommand(name, text) for name, text in menu(TABLE, language)]
                await self.app.bot.set_my_commands(
                    entries, language_code=None if language == "en" else language
                )
        except TelegramError as error:  # the commands still work, typed; the menu waits
            log.warning("telegram: command menu not registered: %s", error)
        await self.app.start()
        assert self.app.updater is not None  # built with one
        try:
            await self.app.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, bootstrap_retries=BOOTSTRAP_RETRIES
            )
        except TelegramError as error:
            raise PlatformError(f"telegram: could not start polling: {error}") from None
        log.info("telegram: polling as @%s", self.app.bot.username)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and answer until `stop`."""
        try:
            await self.start()
            await stop.wait()
        finally:
            await self.stop()

    def notify(self, text: str) -> None:
        """Send an admin notice to `telegram.notify_chat`, if set; failures are only logged."""
        chat = self.config.telegram.notify_chat
        self.errands.notify(None if chat is None else partial(self.platform.reply, chat), text)

    async def stop(self) -> None:
        """Stop polling and what runs beside it; the connection is closed by its owner."""
        await self.errands.close()
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()

    async def on_command(self, update: Update, context: Context) -> None:
        """Answer a command through the core, in the user's language."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or not message.text:
            return
        command = parse_command(message.text, bot_name=context.bot.username)
        if command is None:
            return
        caller = await self._caller(chat, update.effective_user, message, command.name)
        reply = await self.commands.handle(command, caller)
        buttons = self._buttons(reply, caller) if reply.choices else None
        answer = await self.platform.reply(
            chat.id, "\n".join(reply.lines) if buttons else reply.text, kind=str(chat.type),
            reply_to=message.message_id, thread_id=message.message_thread_id,
            html=telegram_html(reply) if reply.entries else None, buttons=buttons,
        )  # fmt: skip
        if answer is not None and reply.progress_of is not None:
            self.errands.follow(
                reply.progress_of, text=reply.text, language=caller.language,
                show=partial(self.platform.edit_reply, answer), longest=PROGRESS_FOR,
            )  # fmt: skip

    async def on_button(self, update: Update, context: Context) -> None:
        """A button of a question pressed: run its answer as the one who asked, and make the
        question's message say the result (its buttons go)."""
        del context
        query = update.callback_query
        if query is None:
            return
        language = language_of(query.from_user.language_code, self.config.bot.language)
        message = query.message
        if not isinstance(message, Message):  # too old for the bot to see: closed with it
            await _answer_quietly(query, t("question_closed", language))
            return
        choice = self.questions.take(query.data or "", user=str(query.from_user.id))
        if isinstance(choice, str):
            await _answer_quietly(query, t(choice, language))
            return
        await _answer_quietly(query, None)
        command = parse_command(choice.command)
        name = "" if command is None else command.name
        caller = await self._caller(message.chat, query.from_user, message, name)
        result = await self.commands.choose(choice, caller)
        await self.platform.edit_reply(message, result.text)

    def _buttons(self, reply: Reply, caller: Caller) -> InlineKeyboardMarkup:
        """A question's answers as inline buttons, one a row; the question stays with sokbo."""
        token = self.questions.ask(reply.choices, user=caller.user, chat=caller.chat)
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(choice.label, callback_data=button_data(token, index))]
                for index, choice in enumerate(reply.choices)
            ]
        )

    async def _caller(self, chat: Chat, user: User | None, message: Message, name: str) -> Caller:
        """Who runs command `name` in `chat`, with what rights (admins asked only when the
        command needs a chat admin)."""
        spec = BY_NAME.get(name)
        is_chat_admin = (
            spec is not None
            and spec.access is Access.CHAT_ADMINS
            and await self._is_chat_admin(chat, user, message)
        )
        return Caller(
            platform=NAME,
            chat=str(chat.id),
            user=str(user.id if user else chat.id),
            language=language_of(user.language_code if user else None, self.config.bot.language),
            is_private=chat.type == ChatType.PRIVATE,
            is_chat_admin=is_chat_admin,
            is_bot_admin=user is not None and user.id in self.config.telegram.admins,
            chat_kind=str(chat.type),
        )

    async def _is_chat_admin(self, chat: Chat, user: User | None, message: Message) -> bool:
        """Private chats and channel posts: yes; in a group, ask (an anonymous admin counts)."""
        if chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
            return True
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator writes as the group itself
        if user is None:
            return False
        try:
            member = await chat.get_member(user.id)
        except TelegramError as error:
            log.warning("telegram: could not check admins of %s: %s", chat.id, error)
            return False
        return member.status in ADMIN_STATUSES

    async def on_membership(self, update: Update, context: Context) -> None:
        """The bot removed or banned from a chat: stop sending there."""
        del context
        change = update.my_chat_member
        if change is not None and change.new_chat_member.status in GONE_STATUSES:
            now: datetime = self.clock.now()
            await self.chats.deactivate(
                NAME, str(change.chat.id), error="the bot was removed", now=now
            )
            log.info("telegram: removed from chat %s; it gets no more pushes", change.chat.id)

    async def on_migrate(self, update: Update, context: Context) -> None:
        """A group became a supergroup: its subscription moves with it."""
        del context
        message = update.effective_message
        if message is None or message.migrate_to_chat_id is None:
            return
        await self.chats.move(NAME, str(message.chat.id), str(message.migrate_to_chat_id))


async def _answer_quietly(query: CallbackQuery, text: str | None) -> None:
    """Stop the button's spinner (with a short toast, if `text`); a failure is only logged."""
    try:
        await query.answer(text)
    except TelegramError as error:
        log.warning("telegram: could not answer a button: %s", error)


def telegram_application(config: Config) -> AnyApplication:
    """The python-telegram-bot Application: our API server, our pacing, updates in parallel."""
    token = config.secrets.telegram_token
    assert token is not None  # only built when there is one
    return (
        ApplicationBuilder()
        .token(token.get_secret_value())
        .base_url(config.telegram.api_url)
        .base_file_url(config.telegram.api_file_url)
        .concurrent_updates(True)
        .build()
    )


async def log_in(app: AnyApplication) -> None:
    """Ask the Bot API who the bot is; a refused token or no answer is a PlatformError."""
    try:
        await app.initialize()
    except InvalidToken:  # its message quotes the token
        raise PlatformError("telegram: the Bot API refused TELEGRAM_BOT_TOKEN") from None
    except TelegramError as error:
        why = str(error).replace(app.bot.token, "***")
        raise PlatformError(f"telegram: could not reach the Bot API: {why}") from None
