"""The values that cross module boundaries: what a post is once sokbo has read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

Fingerprint: TypeAlias = tuple[
    int, int, int
]  # a file's size, mtime in ns, inode: a write changes it


class DateSource(StrEnum):
    """Where a post's date came from."""

    FRONT_MATTER = "front_matter"
    FILENAME = "filename"
    FIRST_SEEN = "first_seen"


@dataclass(frozen=True, slots=True)
class Post:
    """A post as sokbo understands it: everything a renderer or a command needs."""

    key: str
    path: str  # under site.posts_dir, '/'-separated
    title: str
    excerpt: str  # plain text, whitespace collapsed
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    date: datetime  # timezone-aware
    date_source: DateSource
    is_published: bool  # the front matter's `published` flag; the date is judged elsewhere
    url: str
    image_url: str | None  # absolute http(s) URL, or None
    image_path: str | None  # a relative image's path under site.root, not yet checked
    image_file: str | None  # that image as a checked local file, ready for upload
    content_hash: str  # sha256 of the file's bytes
    notes: tuple[str, ...] = ()  # what was odd but not fatal (lenient YAML, ignored image)

    def is_due(self, now: datetime) -> bool:
        """Return whether the post's date has arrived at `now`."""
        return self.date <= now


@dataclass(frozen=True, slots=True)
class KnownFile:
    """A file of the posts folder as last read: a restart reads it again only if it changed."""

    path: str  # under posts_dir, '/'-separated
    fingerprint: Fingerprint
    key: str | None  # the post key it holds (or claims a second time); None: refused


class PostState(StrEnum):
    """Where a known post stands."""

    PUBLISHED = "published"  # live: shown by the commands
    SCHEDULED = "scheduled"  # dated in the future: pushed when its date arrives
    UNPUBLISHED = "unpublished"  # `published: false`
    GONE = "gone"  # its file was deleted


class PushKind(StrEnum):
    """Why a post is sent: a push is one reason."""

    ALERT = "alert"
    REPOST = "repost"
    CORRECTION = "correction"
    RETRACTION = "retraction"


@dataclass(frozen=True, slots=True)
class Record:
    """What storage knows of a post: its last good reading and where it stands."""

    post: Post
    state: PostState
    first_seen: datetime
    is_alerted: bool  # its one first alert is spent: pushed, or recorded instead (archive, burst)
    pushed_at: datetime | None = None  # when it was last pushed (for the edit window)


@dataclass(frozen=True, slots=True)
class NewPush:
    """A push decided on: send post `key` for `kind`."""

    key: str
    kind: PushKind


class DeliveryStatus(StrEnum):
    """An outbox row's state."""

    PENDING = "pending"  # waiting its turn
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"
    RETRY = "retry"  # failed for now; next_attempt_at says when
    DEAD = "dead"  # out of attempts: shown by /status, never dropped silently
    REJECTED = "rejected"  # the platform refused it, or its target is gone
    CANCELLED = "cancelled"  # its post was retracted, deleted or unpublished first


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    """How pushes look in one Telegram chat (`[[telegram.channels]]`)."""

    thread_id: int | None = None  # a forum topic
    is_silent: bool = False  # sent without a notification sound
    link_preview: bool = True  # a text message shows the link's preview


@dataclass(frozen=True, slots=True)
class DiscordOptions:
    """How pushes look in one Discord channel (`[[discord.channels]]`)."""

    mention_role: int | None = None  # the one mention allowed in its pushes
    crosspost: bool = False  # published to the followers of an announcement channel


TargetOptions = TelegramOptions | DiscordOptions | None


@dataclass(frozen=True, slots=True)
class Target:
    """A chat that receives pushes: subscribed by command or set in the config."""

    id: int
    platform: str
    address: str
    language: str | None = None
    categories: tuple[str, ...] = ()  # empty: every post
    is_static: bool = False
    kind: str = ""  # the platform's word for it: private, group, supergroup, channel …
    options: TargetOptions = None  # the platform's own options; None: its defaults


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What a platform needs to edit or delete a message it sent."""

    platform: str
    address: str  # the chat it was sent to (a chat may move later; its messages stay)
    message_id: int
    photo: str | None = None  # Telegram: the image a photo message shows (None: a text message)


@dataclass(frozen=True, slots=True)
class Message:
    """The platform-neutral rendering of a post, which every renderer starts from."""

    key: str
    kind: PushKind
    title: str
    excerpt: str
    url: str
    image_url: str | None
    image_file: str | None
    categories: tuple[str, ...]
    date: datetime  # when it was published: its date, or when sokbo saw it (a date-only post)
    site_name: str
    language: str
    is_timed: bool = True  # False: only the day is known; show no time of day


@dataclass(frozen=True, slots=True)
class Entry:
    """One post in a reply's list, as a news list shows it: a linked title, when, where."""

    title: str
    url: str
    when: str  # its date (and time, when known), in the site's time zone
    categories: tuple[str, ...]
    key: str | None = None  # shown to the bot's admins only (what /repost and /retract take)

    @property
    def about(self) -> str:
        """When and where, as one line: `11-22 08:00 · 정치 · 경제`."""
        return " · ".join([self.when, *self.categories])

    @property
    def text(self) -> str:
        """The entry as plain text: the title, then when and where, then the link."""
        key = "" if self.key is None else f" [{self.key}]"
        return f"• {self.title}{key}\n  {self.about}\n  {self.url}"


@dataclass(frozen=True, slots=True)
class Choice:
    """An answer to a reply's question: its label, and the command it runs for the one who
    asked ("" runs nothing: a "no")."""

    label: str
    command: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """A command's answer, as text lines every platform can show, and a list of posts that
    each platform shows its own way (linked titles, no link previews)."""

    lines: tuple[str, ...]
    is_private: bool = False  # only the caller should see it (Discord: ephemeral)
    progress_of: int | None = None  # a push whose delivery the reply may follow (a repost)
    entries: tuple[Entry, ...] = ()  # after the lines
    choices: tuple[Choice, ...] = ()  # the lines end with a question: buttons, or numbers

    @property
    def text(self) -> str:
        """The reply as one plain text: each choice numbered, with the command it runs (what
        to type where there are no buttons)."""
        choices = (
            f"{n}. {c.label}" + (f" — {c.command}" if c.command else "")
            for n, c in enumerate(self.choices, 1)
        )
        return "\n".join([*self.lines, *(entry.text for entry in self.entries), *choices])
