"""The chat commands, parsed and answered once for every platform."""

from __future__ import annotations

import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from difflib import get_close_matches

from bot.clock import Clock
from bot.config import Config
from bot.i18n import t
from bot.model import PostState, PushKind, Record, Reply
from bot.outbox import Outbox, fold, reaches
from bot.store import Store

DEFAULT_COUNT = 5  # /latest and /category without n
MOST = 20  # the most posts one reply lists
USER_LIMIT = 8  # commands per user …
USER_WINDOW = timedelta(seconds=30)  # … within this window
ADMIN_COMMANDS = frozenset({"repost", "retract", "pause", "resume", "status"})
SUBSCRIPTION_COMMANDS = frozenset({"subscribe", "unsubscribe"})


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
    text = text.strip()
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    name, _, mention = head.partition("@")
    if mention and bot_name is not None and mention.casefold() != bot_name.casefold():
        return None  # addressed to another bot in the group
    return Command(name.casefold(), args.strip())


def match_posts(records: Iterable[Record], query: str) -> list[Record]:
    """Find posts by key, file path or URL; an exact match wins over partial ones."""
    query = unicodedata.normalize("NFC", query.strip())
    live = [r for r in records if r.state is not PostState.GONE]
    bare = query.split("?", 1)[0].rstrip("/")
    for exact in (
        [r for r in live if r.post.key == query],
        [r for r in live if r.post.path == query or query.endswith("/" + r.post.path)],
        [r for r in live if r.post.url.split("?", 1)[0].rstrip("/") == bare],
    ):
        if exact:
            return exact
    return [r for r in live if query.casefold() in r.post.key.casefold()] if query else []


def newest(records: Iterable[Record], *, category: str | None = None) -> list[Record]:
    """Published posts, newest first, optionally in one category (matched after NFC)."""
    live = [r for r in records if r.state is PostState.PUBLISHED]
    if category is not None:
        live = [r for r in live if category in {fold(c) for c in r.post.categories}]
    return sorted(live, key=lambda r: (r.post.date, r.first_seen, r.post.key), reverse=True)


def category_counts(records: Iterable[Record]) -> list[tuple[str, int]]:
    """Each category of published posts with its count, most posts first."""
    names: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for record in newest(records):
        for name in record.post.categories:
            names.setdefault(fold(name), name)
            counts[fold(name)] += 1
    return sorted(((names[k], n) for k, n in counts.items()), key=lambda item: (-item[1], item[0]))


def complete_categories(records: Iterable[Record], typed: str, *, most: int) -> list[str]:
    """Categories containing what was typed (after NFC, case-insensitively), most posts first."""
    wanted = fold(typed.strip())
    return [name for name, _ in category_counts(records) if wanted in fold(name)][:most]


def complete_posts(records: Iterable[Record], typed: str, *, most: int) -> list[Record]:
    """Live posts whose key or title contains what was typed, newest first."""
    wanted = fold(typed.strip())
    live = [r for r in records if r.state is not PostState.GONE]
    live.sort(key=lambda r: (r.post.date, r.first_seen, r.post.key), reverse=True)
    return [r for r in live if wanted in fold(r.post.key) or wanted in fold(r.post.title)][:most]


def suggest(name: str, names: Iterable[str]) -> list[str]:
    """The names closest to a mistyped one, compared letter by letter (Hangul as jamo)."""
    by_letters = {_letters(known): known for known in names}
    close = get_close_matches(_letters(name), list(by_letters), n=3, cutoff=0.6)
    return [by_letters[letters] for letters in close]


def _letters(name: str) -> str:
    return unicodedata.normalize("NFKD", name.casefold().strip())


def split_count(args: str) -> tuple[str, int | None, bool]:
    """Split `rest [n]` into the rest and n; the flag says whether a given n was in range."""
    rest, _, last = args.rpartition(" ")
    candidate = last if rest else args
    if candidate.isdigit():
        number = int(candidate)
        return (rest if rest else ""), number, 1 <= number <= MOST
    return args, None, True


class Commands:
    """Answers commands from any platform with the store's data."""

    def __init__(
        self, store: Store, config: Config, clock: Clock, *, nudge: Callable[[], None]
    ) -> None:
        self.store = store
        self.outbox = Outbox(store)
        self.config = config
        self.clock = clock
        self.nudge = nudge
        self._recent: dict[tuple[str, str], deque[float]] = {}

    async def handle(self, command: Command, caller: Caller) -> Reply:
        """Answer one command; bad arguments get a short, helpful reply."""
        language = caller.language
        if not caller.is_bot_admin and (wait := self._throttle(caller)) is not None:
            return Reply((t("slow_down", language, seconds=wait),), is_private=True)
        if command.name in ADMIN_COMMANDS and not caller.is_bot_admin:
            return Reply((t("admins_only", language),), is_private=True)
        if command.name in SUBSCRIPTION_COMMANDS and not (
            caller.is_private or caller.is_chat_admin or caller.is_bot_admin
        ):
            return Reply((t("chat_admins_only", language),), is_private=True)
        handler = getattr(self, f"_{command.name}", None)
        if command.name in ("start", "help"):
            handler = self._help
        if handler is None:
            return Reply((t("unknown_command", language),), is_private=True)
        reply: Reply = await handler(command.args, caller)
        return reply

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
        lines = [t("help", caller.language, site=self.config.site.display_name)]
        if caller.is_bot_admin:
            lines.append(t("help_admin", caller.language))
        return Reply(tuple(lines))

    async def _subscribe(self, args: str, caller: Caller) -> Reply:
        names = self._category_names(args)
        await self.outbox.subscribe(
            caller.platform, caller.chat, names, now=self.clock.now(),
            language=caller.language, kind=caller.chat_kind,
        )  # fmt: skip
        if not names:
            return Reply((t("subscribed_all", caller.language),))
        lines = [t("subscribed_some", caller.language, names=", ".join(names))]
        known = {fold(n): n for n, _ in category_counts((await self.store.records()).values())}
        if unknown := [name for name in names if fold(name) not in known]:
            lines.append(t("no_posts_in", caller.language, names=", ".join(unknown)))
            close = sorted({c for name in unknown for c in suggest(name, known.values())})
            if close:
                lines.append(t("did_you_mean", caller.language, names=", ".join(close)))
        return Reply(tuple(lines))

    async def _unsubscribe(self, args: str, caller: Caller) -> Reply:
        names = self._category_names(args)
        await self.outbox.unsubscribe(caller.platform, caller.chat, names)
        if names:
            return Reply((t("unsubscribed_some", caller.language, names=", ".join(names)),))
        return Reply((t("unsubscribed_all", caller.language),))

    async def _subscriptions(self, args: str, caller: Caller) -> Reply:
        del args
        target = await self.outbox.target(caller.platform, caller.chat)
        if target is None or not await self._is_subscribed(caller):
            return Reply((t("subscriptions_none", caller.language),))
        if not target.categories:
            return Reply((t("subscriptions_all", caller.language),))
        return Reply(
            (t("subscriptions_some", caller.language, names=", ".join(target.categories)),)
        )

    async def _is_subscribed(self, caller: Caller) -> bool:
        return any(
            target.platform == caller.platform and target.address == caller.chat
            for target in await self.outbox.active_targets()
        )

    def _category_names(self, args: str) -> list[str]:
        return [unicodedata.normalize("NFC", name) for name in args.split()]

    async def _categories(self, args: str, caller: Caller) -> Reply:
        del args
        counts = category_counts((await self.store.records()).values())
        if not counts:
            return Reply((t("no_categories", caller.language),))
        return Reply((t("categories", caller.language), *(f"{name} ({n})" for name, n in counts)))

    async def _latest(self, args: str, caller: Caller) -> Reply:
        rest, number, is_valid = split_count(args)
        if not is_valid or rest:
            return Reply((t("count_range", caller.language, most=MOST),), is_private=True)
        posts = newest((await self.store.records()).values())[: number or DEFAULT_COUNT]
        return self._listing(t("latest", caller.language), posts, caller)

    async def _category(self, args: str, caller: Caller) -> Reply:
        name, number, is_valid = split_count(args)
        if not is_valid:
            return Reply((t("count_range", caller.language, most=MOST),), is_private=True)
        if not name:
            return Reply((t("needs_category", caller.language),), is_private=True)
        records = (await self.store.records()).values()
        known = {fold(n): n for n, _ in category_counts(records)}
        if fold(name) not in known:
            lines = [t("unknown_category", caller.language, name=name)]
            close = suggest(name, known.values())
            if close:
                lines.append(t("did_you_mean", caller.language, names=", ".join(close)))
            else:
                lines.append(t("see_categories", caller.language))
            return Reply(tuple(lines), is_private=True)
        posts = newest(records, category=fold(name))[: number or DEFAULT_COUNT]
        return self._listing(
            t("in_category", caller.language, name=known[fold(name)]), posts, caller
        )

    def _listing(self, title: str, posts: Sequence[Record], caller: Caller) -> Reply:
        if not posts:
            return Reply((t("no_posts", caller.language),))
        zone = self.config.site.zone
        lines = [title]
        for record in posts:
            when = record.post.date.astimezone(zone).strftime("%m-%d %H:%M")
            lines.append(f"{when} {record.post.title} [{record.post.key}]\n  {record.post.url}")
        return Reply(tuple(lines))

    async def _find(self, args: str, caller: Caller, command: str) -> Record | Reply:
        if not args:
            return Reply((t("needs_key", caller.language, command=command),), is_private=True)
        found = match_posts((await self.store.records()).values(), args)
        if len(found) == 1:
            return found[0]
        if not found:
            return Reply((t("no_such_post", caller.language, query=args),), is_private=True)
        keys = [f"{r.post.key} — {r.post.title}" for r in found[:MOST]]
        return Reply((t("several_posts", caller.language), *keys), is_private=True)

    async def _repost(self, args: str, caller: Caller) -> Reply:
        query, here = args, False
        if args.rsplit(" ", 1)[-1].casefold() == "here" and args.casefold() != "here":
            query, here = args.rsplit(" ", 1)[0].strip(), True
        found = await self._find(query, caller, "repost")
        if isinstance(found, Reply):
            return found
        key = found.post.key
        only = None
        if here:
            only = (
                await self.outbox.ensure_target(caller.platform, caller.chat, now=self.clock.now())
            ).id
        push = await self.outbox.queue(key, PushKind.REPOST, now=self.clock.now(), only_target=only)
        self.nudge()
        if here:
            return Reply((t("reposted_here", caller.language, key=key),), progress_of=push)
        targets = await self.outbox.active_targets()
        reach = sum(1 for target in targets if reaches(target.categories, found.post.categories))
        return Reply((t("reposted", caller.language, key=key, targets=reach),), progress_of=push)

    async def _retract(self, args: str, caller: Caller) -> Reply:
        found = await self._find(args, caller, "retract")
        if isinstance(found, Reply):
            return found
        await self.outbox.cancel_unsent(found.post.key, now=self.clock.now())
        await self.outbox.queue(found.post.key, PushKind.RETRACTION, now=self.clock.now())
        self.nudge()
        return Reply((t("retracted", caller.language, key=found.post.key),))

    async def _pause(self, args: str, caller: Caller) -> Reply:
        del args
        await self.store.set_meta("paused", "1")
        return Reply((t("paused", caller.language),))

    async def _resume(self, args: str, caller: Caller) -> Reply:
        del args
        await self.store.set_meta("paused", "0")
        self.nudge()
        return Reply((t("resumed", caller.language),))

    async def _status(self, args: str, caller: Caller) -> Reply:
        del args
        summary = await self.store.summary()
        counts = await self.outbox.counts()
        scan = (
            "-"
            if summary.last_scan is None
            else summary.last_scan.astimezone(self.config.site.zone).strftime("%H:%M:%S")
        )
        paused = (
            t("status_paused", caller.language) if await self.store.meta("paused") == "1" else ""
        )
        line = t(
            "status",
            caller.language,
            queued=counts.get("pending", 0) + summary.pushes_pending,
            sent=counts.get("sent", 0),
            retrying=counts.get("retry", 0),
            failed=counts.get("rejected", 0),
            dead=counts.get("dead", 0),
            targets=len(await self.outbox.active_targets()),
            refused=len(summary.refused),
            scan=scan,
            paused=paused,
        )
        return Reply((line,), is_private=True)
