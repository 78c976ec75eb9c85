"""The chat commands, parsed and answered once for every platform, from one table."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.command_table import Access, Argument, CommandSpec, Text, help_lines, index
from bot.config import Config
from bot.i18n import t
from bot.lookup import fold, suggest
from bot.model import Choice, Entry, PostState, PushKind, Record, Reply
from bot.render.message import published
from bot.render.text import truncate
from bot.status import waited_minutes
from bot.storage import Storage, StoreUnavailable

DEFAULT_COUNT = 5  # /latest and /category without n
MOST = 20  # the most posts one reply lists
MOST_CATEGORIES = 20  # the most categories one /subscribe names
USER_LIMIT = 8  # commands per user …
USER_WINDOW = timedelta(seconds=30)  # … within this window
LONGEST_ARGUMENTS = 1000  # characters: a post's URL with a percent-encoded Korean slug fits
WAITING_SHOWN = 5  # posts waiting for their pages that /status names (the rest are counted)
INSIST = "!"  # `/subscribe 겅제!`: this category as typed, though no post has it (yet)
QUOTED = 40  # characters of what the user typed that a reply repeats
_NAME = re.compile(r"[a-z0-9_]{1,32}")  # what a command name can be (Telegram's rule)
# Control characters (NUL …) and the bidi controls that would reorder a reply; tabs and
# newlines stay, as spaces between words.
_UNSEEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: its name and the rest of the line."""

    name: str
    args: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command, from where, and what they may do."""

    platform: str
    chat: str  # the chat's address on its platform
    user: str
    language: str
    is_private: bool = True
    is_chat_admin: bool = False
    is_bot_admin: bool = False
    chat_kind: str = ""  # the platform's word for the chat: private, group, channel …


def parse_command(text: str, *, bot_name: str | None = None) -> Command | None:
    """Read `/name args` (or `/name@bot args`); None for text that is not a command to us."""
    text = _UNSEEN.sub("", text).strip()
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    head, newline, rest = head.partition("\n")  # `/subscribe\n정치` names 정치 too
    args = f"{rest} {args}" if newline else args
    name, _, mention = head.partition("@")
    if mention and bot_name is not None and mention.casefold() != bot_name.casefold():
        return None  # addressed to another bot in the group
    return Command(name.casefold(), args.strip())


@dataclass(frozen=True, slots=True)
class Count:
    """`rest [n]` read: the rest, and n (None: not given) capped at MOST."""

    rest: str
    number: int | None
    is_capped: bool = False  # more were asked for than one reply lists
    is_valid: bool = True  # False: n was 0


def split_count(args: str) -> Count:
    """Split `rest [n]` into the rest and n; an n over MOST is MOST, and says so."""
    rest, _, last = args.rpartition(" ")
    candidate = last if rest else args
    if candidate.isdecimal() and candidate.isascii():
        number = int(candidate)
        return Count(rest, min(number, MOST), number > MOST, number >= 1)
    return Count(args, None)


def quoted(typed: str) -> str:
    """What the user typed, short enough to repeat in a reply."""
    return truncate(" ".join(typed.split()), QUOTED)


class Commands:
    """Answers commands from any platform with what storage knows."""

    def __init__(
        self, storage: Storage, config: Config, clock: Clock, *, nudge: Callable[[], None]
    ) -> None:
        self.archive = storage.archive
        self.chats = storage.chats
        self.outbox = storage.outbox
        self.reports = storage.reports
        self.config = config
        self.clock = clock
        self.nudge = nudge
        self._recent: dict[tuple[str, str], deque[float]] = {}

    async def choose(self, choice: Choice, caller: Caller) -> Reply:
        """Answer a question as `caller` chose: run the choice's command, or nothing (a "no")."""
        command = parse_command(choice.command) if choice.command else None
        if command is None:
            return Reply((t("left_as_it_was", caller.language),))
        return await self.handle(command, caller)

    async def handle(self, command: Command, caller: Caller) -> Reply:
        """Answer one command from the table; anything else, or a failure, gets a short reply."""
        language = caller.language
        if not caller.is_bot_admin and (wait := self._throttle(caller)) is not None:
            return Reply((t("slow_down", language, seconds=wait),), is_private=True)
        spec = BY_NAME.get(command.name)
        if spec is None:
            return _unknown(command.name, language)
        if refusal := _refusal(spec, caller):
            return refusal
        args = _UNSEEN.sub("", command.args).strip()
        if len(args) > LONGEST_ARGUMENTS:
            return Reply((t("too_long", language, most=LONGEST_ARGUMENTS),), is_private=True)
        return await self._run(spec, args, caller)

    async def _run(self, spec: CommandSpec, args: str, caller: Caller) -> Reply:
        """Run a command's handler; a fault below it gets a short apology, never a crash."""
        try:
            return await spec.handler(self, args, caller)
        except StoreUnavailable as error:  # told to admins once elsewhere; here, the caller
            log.warning("command /%s not answered: %s", spec.name, error)
            return Reply((t("storage_busy", caller.language),), is_private=True)
        except Exception:  # a bug: an apology, and the service goes on
            log.exception("command /%s failed for %s %s", spec.name, caller.platform, caller.chat)
            return Reply((t("internal_error", caller.language),), is_private=True)

    def _throttle(self, caller: Caller) -> int | None:
        """Count this command; return seconds to wait when the user is over the limit."""
        now = self.clock.now().timestamp()
        window = self._recent.setdefault((caller.platform, caller.user), deque())
        while window and now - window[0] >= USER_WINDOW.total_seconds():
            window.popleft()
        if len(window) >= USER_LIMIT:
            return max(1, round(USER_WINDOW.total_seconds() - (now - window[0])))
        window.append(now)
        return None

    async def _help(self, args: str, caller: Caller) -> Reply:
        del args
        language = caller.language
        lines = help_lines(TABLE, language, is_admin=caller.is_bot_admin)
        return Reply((t("help", language, site=self.config.site.display_name), *lines))

    async def _subscribe(self, args: str, caller: Caller) -> Reply:
        names = self._category_names(args)
        if len(names) > MOST_CATEGORIES:
            return Reply((t("too_many_categories", caller.language, most=MOST_CATEGORIES),))
        known = {fold(n): n for n, _ in await self.archive.categories()} if names else {}
        doubtful = [n for n in names if not n.endswith(INSIST) and fold(n) not in known]
        if doubtful:  # a typo subscribes to nothing: ask first
            return _ask_subscribe(names, doubtful, list(known.values()), caller.language)
        names = list(dict.fromkeys(name.removesuffix(INSIST) or name for name in names))
        await self.chats.subscribe(
            caller.platform, caller.chat, names, now=self.clock.now(),
            language=caller.language, kind=caller.chat_kind,
        )  # fmt: skip
        if not names:
            return Reply((t("subscribed_all", caller.language),))
        lines = [t("subscribed_some", caller.language, names=", ".join(names))]
        if unknown := [name for name in names if fold(name) not in known]:
            lines.append(t("no_posts_in", caller.language, names=", ".join(unknown)))
        return Reply(tuple(lines))

    async def _unsubscribe(self, args: str, caller: Caller) -> Reply:
        names = self._category_names(args)
        await self.chats.unsubscribe(caller.platform, caller.chat, names)
        if names:
            return Reply((t("unsubscribed_some", caller.language, names=", ".join(names)),))
        return Reply((t("unsubscribed_all", caller.language),))

    async def _subscriptions(self, args: str, caller: Caller) -> Reply:
        del args
        target = await self.chats.subscribed(caller.platform, caller.chat)
        if target is None:
            return Reply((t("subscriptions_none", caller.language),))
        if not target.categories:
            return Reply((t("subscriptions_all", caller.language),))
        return Reply(
            (t("subscriptions_some", caller.language, names=", ".join(target.categories)),)
        )

    def _category_names(self, args: str) -> list[str]:
        return list(dict.fromkeys(unicodedata.normalize("NFC", name) for name in args.split()))

    async def _categories(self, args: str, caller: Caller) -> Reply:
        del args
        counts = await self.archive.categories()
        if not counts:
            return Reply((t("no_categories", caller.language),))
        return Reply((t("categories", caller.language), *(f"{name} ({n})" for name, n in counts)))

    async def _latest(self, args: str, caller: Caller) -> Reply:
        count = split_count(args)
        if not count.is_valid or count.rest:
            return Reply((t("count_range", caller.language, most=MOST),), is_private=True)
        posts = await self.archive.newest(count.number or DEFAULT_COUNT)
        return self._listing(t("latest", caller.language), posts, caller, count=count)

    async def _category(self, args: str, caller: Caller) -> Reply:
        known = {fold(n): n for n, _ in await self.archive.categories()}
        count = Count(args, None) if fold(args) in known else split_count(args)
        if not count.is_valid:
            return Reply((t("count_range", caller.language, most=MOST),), is_private=True)
        name = count.rest or ("" if count.number is None else args)  # `/category 2013`: a name
        if not name:
            return Reply((t("needs_category", caller.language),), is_private=True)
        if fold(name) not in known:
            lines = [t("unknown_category", caller.language, name=quoted(name))]
            close = suggest(name, known.values())
            if close:
                lines.append(t("did_you_mean", caller.language, names=", ".join(close)))
            else:
                lines.append(t("see_categories", caller.language))
            return Reply(tuple(lines), is_private=True)
        if name == args:
            count = Count(name, None)
        posts = await self.archive.newest(count.number or DEFAULT_COUNT, category=fold(name))
        return self._listing(
            t("in_category", caller.language, name=known[fold(name)]), posts, caller, count=count
        )

    def _listing(
        self, title: str, posts: Sequence[Record], caller: Caller, *, count: Count
    ) -> Reply:
        """Posts as a news list: linked titles with date and categories; keys for admins."""
        if not posts:
            return Reply((t("no_posts", caller.language),))
        if count.is_capped:
            title += " " + t("capped", caller.language, most=MOST)
        now = self.clock.now()
        entries = tuple(
            Entry(
                title=record.post.title,
                url=record.post.url,
                when=self._when(record, now),
                categories=record.post.categories,
                key=record.post.key if caller.is_bot_admin else None,
            )
            for record in posts
        )
        return Reply((title,), entries=entries)

    def _when(self, record: Record, now: datetime) -> str:
        """A post's date as a list shows it: the time too when known, the year when not this
        year's."""
        zone = self.config.site.zone
        moment, is_timed = published(record.post, zone, record.first_seen)
        local = moment.astimezone(zone)
        day = "%m-%d" if local.year == now.astimezone(zone).year else "%Y-%m-%d"
        return local.strftime(f"{day} %H:%M" if is_timed else day)

    async def _find(self, args: str, caller: Caller, command: str) -> Record | Reply:
        if not args:
            return Reply((t("needs_key", caller.language, command=command),), is_private=True)
        found = await self.archive.find(args)
        if len(found) == 1:
            return found[0]
        if not found:
            return Reply((t("no_such_post", caller.language, query=quoted(args)),), is_private=True)
        keys = [f"{r.post.key} — {r.post.title}" for r in found[:MOST]]
        return Reply((t("several_posts", caller.language), *keys), is_private=True)

    async def _repost(self, args: str, caller: Caller) -> Reply:
        query, here = args, False
        if args.rsplit(" ", 1)[-1].casefold() == "here" and args.casefold() != "here":
            query, here = args.rsplit(" ", 1)[0].strip(), True
        found = await self._find(query, caller, "repost")
        if isinstance(found, Reply):
            return found
        if refusal := self._unpostable(found, caller.language):
            return refusal
        key = found.post.key
        only = None
        if here:
            now = self.clock.now()
            only = await self.chats.ensure_target(caller.platform, caller.chat, now=now)
        push = await self.outbox.queue(key, PushKind.REPOST, now=self.clock.now(), only=only)
        self.nudge()
        if here:
            return Reply((t("reposted_here", caller.language, key=key),), progress_of=push)
        reach = await self.chats.reach(found.post.categories)
        return Reply((t("reposted", caller.language, key=key, targets=reach),), progress_of=push)

    def _unpostable(self, record: Record, language: str) -> Reply | None:
        """Why a post cannot be pushed now (not published yet, or no longer), if it cannot."""
        key = record.post.key
        if record.state is PostState.SCHEDULED:
            when = record.post.date.astimezone(self.config.site.zone).strftime("%Y-%m-%d %H:%M")
            return Reply((t("repost_scheduled", language, key=key, when=when),), is_private=True)
        if record.state is not PostState.PUBLISHED:
            return Reply((t("repost_unpublished", language, key=key),), is_private=True)
        return None

    async def _retract(self, args: str, caller: Caller) -> Reply:
        found = await self._find(args, caller, "retract")
        if isinstance(found, Reply):
            return found
        post = found.post
        if args.strip() not in (post.key, post.path, post.url):  # a part of a key: ask first
            question = t("ask_retract", caller.language, key=post.key, title=post.title)
            choices = (
                Choice(t("yes", caller.language), f"/retract {post.key}"),
                Choice(t("no", caller.language)),
            )
            return Reply((question,), is_private=True, choices=choices)
        await self.outbox.cancel_unsent(found.post.key, now=self.clock.now())
        await self.outbox.queue(found.post.key, PushKind.RETRACTION, now=self.clock.now())
        self.nudge()
        return Reply((t("retracted", caller.language, key=found.post.key),))

    async def _pause(self, args: str, caller: Caller) -> Reply:
        del args
        await self.outbox.set_paused(True)
        return Reply((t("paused", caller.language),))

    async def _resume(self, args: str, caller: Caller) -> Reply:
        del args
        await self.outbox.set_paused(False)
        self.nudge()
        return Reply((t("resumed", caller.language),))

    async def _status(self, args: str, caller: Caller) -> Reply:
        del args
        summary = await self.reports.summary()
        counts = summary.deliveries
        scan = (
            "-"
            if summary.last_scan is None
            else summary.last_scan.astimezone(self.config.site.zone).strftime(
                "%Y-%m-%d %H:%M:%S %Z"
            )
        )
        paused = t("status_paused", caller.language) if summary.is_paused else ""
        line = t(
            "status",
            caller.language,
            queued=counts.get("pending", 0) + summary.pushes_pending,
            sent=counts.get("sent", 0),
            retrying=counts.get("retry", 0),
            failed=counts.get("rejected", 0),
            dead=counts.get("dead", 0),
            targets=summary.targets,
            refused=len(summary.refused),
            scan=scan,
            paused=paused,
        )
        lines = [line]
        if summary.waiting:
            now = self.clock.now()
            posts = ", ".join(
                t("waited", caller.language, key=key, minutes=waited_minutes(since, now))
                for key, since in summary.waiting[:WAITING_SHOWN]
            )
            more = len(summary.waiting) - WAITING_SHOWN
            posts += f" … (+{more})" if more > 0 else ""
            lines.append(
                t("status_waiting", caller.language, count=len(summary.waiting), posts=posts)
            )
        return Reply(tuple(lines), is_private=True)


def _ask_subscribe(
    names: Sequence[str], doubtful: Sequence[str], known: Sequence[str], language: str
) -> Reply:
    """Ask before subscribing to names no post has: the close category instead (a typo), or
    the name as typed (`NAME!`, what the reader may type too), or nothing."""
    close = {name: found[0] for name in doubtful if (found := suggest(name, known))}
    strange = [name for name in doubtful if name not in close]
    lines, choices = [], []
    if close:
        typed, instead = ", ".join(close), ", ".join(dict.fromkeys(close.values()))
        lines.append(t("ask_close", language, typed=typed, names=instead))
        kept = [close.get(name, name) for name in names if name not in strange]
        choices.append(Choice(t("yes_instead", language, names=instead), _subscribing(kept)))
    if strange:
        lines.append(t("ask_unknown", language, typed=", ".join(strange)))
    insisted = [f"{name}{INSIST}" if name in doubtful else name for name in names]
    as_typed = t("as_typed", language) if close else t("yes", language)
    choices += [Choice(as_typed, _subscribing(insisted)), Choice(t("cancel", language))]
    return Reply(tuple(lines), choices=tuple(choices))


def _subscribing(names: Sequence[str]) -> str:
    return "/subscribe " + " ".join(dict.fromkeys(names))


def _unknown(name: str, language: str) -> Reply:
    """Unknown command: point to /help, and to the command meant when one is close."""
    lines = [t("unknown_command", language)]
    if _NAME.fullmatch(name) and (close := suggest(name, list(BY_NAME))):
        lines.append(t("did_you_mean", language, names=", ".join(f"/{c}" for c in close)))
    return Reply(tuple(lines), is_private=True)


def _refusal(spec: CommandSpec, caller: Caller) -> Reply | None:
    """A reply refusing `spec` to `caller`, unless the table lets them run it."""
    if spec.access is Access.BOT_ADMINS and not caller.is_bot_admin:
        return Reply((t("admins_only", caller.language),), is_private=True)
    if spec.access is Access.CHAT_ADMINS and not (
        caller.is_private or caller.is_chat_admin or caller.is_bot_admin
    ):
        return Reply((t("chat_admins_only", caller.language),), is_private=True)
    return None


_COUNT = Argument(
    "n", Text("n", "n"), Text("how many posts (1-20, default 5)", "글 수 (1-20, 기본 5)")
)
_CATEGORIES = Argument(
    "categories",
    Text("category", "카테고리"),
    Text(
        "categories, separated by spaces (none: every post)",
        "카테고리, 띄어쓰기로 구분 (없으면 모든 글)",
    ),
    is_repeated=True,
)
_POST = Argument(
    "post",
    Text("KEY", "KEY"),
    Text("the post: its key, file path or link", "글: 키, 파일 경로 또는 링크"),
    is_required=True,
)
_NAME_ARGUMENT = Argument(
    "name", Text("NAME", "이름"), Text("the category's name", "카테고리 이름"), is_required=True
)
_HERE = Argument("here", Text("here", "here"), Text("only to this {chat}", "이 {chat}에만"))

# The whole set of commands: a name not listed here is not a command.
TABLE: tuple[CommandSpec, ...] = (
    CommandSpec(
        "help", Access.ANYONE,
        Text("what this bot does, and its commands", "이 봇의 사용법과 명령"),
        Commands._help, aliases=("start",),
    ),
    CommandSpec(
        "latest", Access.ANYONE, Text("the newest posts", "최신 글"),
        Commands._latest, (_COUNT,),
    ),
    CommandSpec(
        "categories", Access.ANYONE,
        Text("the categories and their post counts", "카테고리 목록과 글 수"),
        Commands._categories,
    ),
    CommandSpec(
        "category", Access.ANYONE, Text("the newest posts in a category", "카테고리의 최신 글"),
        Commands._category, (_NAME_ARGUMENT, _COUNT),
    ),
    CommandSpec(
        "subscribe", Access.CHAT_ADMINS,
        Text("get alerts in this {chat}", "이 {chat}에서 알림 받기"),
        Commands._subscribe, (_CATEGORIES,),
    ),
    CommandSpec(
        "unsubscribe", Access.CHAT_ADMINS,
        Text("stop alerts in this {chat}", "이 {chat}의 알림 끄기"),
        Commands._unsubscribe, (_CATEGORIES,),
    ),
    CommandSpec(
        "subscriptions", Access.ANYONE, Text("what this {chat} gets", "이 {chat}이 받는 알림"),
        Commands._subscriptions,
    ),
    CommandSpec(
        "repost", Access.BOT_ADMINS, Text("push a post again", "글을 다시 보내기"),
        Commands._repost, (_POST, _HERE),
    ),
    CommandSpec(
        "retract", Access.BOT_ADMINS, Text("delete a post's alerts", "보낸 알림 지우기"),
        Commands._retract, (_POST,),
    ),
    CommandSpec(
        "pause", Access.BOT_ADMINS, Text("hold new alerts", "새 알림 보류"), Commands._pause
    ),
    CommandSpec(
        "resume", Access.BOT_ADMINS, Text("release held alerts", "보류한 알림 보내기"),
        Commands._resume,
    ),
    CommandSpec(
        "status", Access.BOT_ADMINS,
        Text("queue, deliveries, last scan", "대기열, 전송, 마지막 확인"), Commands._status,
    ),
)  # fmt: skip
BY_NAME = index(TABLE)
