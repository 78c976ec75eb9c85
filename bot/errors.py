"""sokbo's exception tree, translated from library errors at the edges.

BotError
├── ConfigError   a config file or environment value sokbo cannot use
├── PostError     a post file sokbo refuses (names the file, the reason, the line)
└── SendError     a platform call that did not succeed, by what to do about it
    ├── RateLimited(after, scope)  wait as told; not a failed attempt
    ├── TargetGone                 blocked, kicked, deleted: deactivate the target
    ├── TargetMoved(address)       a group became a supergroup: follow it and send again
    ├── Rejected                   the platform refused this message: do not retry it
    ├── Unknown                    timed out: maybe delivered; retry, and count it
    └── Transient                  5xx, network: retry with backoff, and count it
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class BotError(Exception):
    """Base of every error sokbo raises on purpose."""


class ConfigError(BotError):
    """A config value is missing, malformed or of the wrong type."""


class PostError(BotError):
    """A post file cannot be used; `str()` names the file, the line where known, and why."""

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its parts (files are read in worker processes)."""
        return (_post_error, (self.path, self.reason, self.line))


def _post_error(path: str, reason: str, line: int | None) -> PostError:
    return PostError(path, reason, line=line)


class PlatformError(BotError):
    """A platform would not let sokbo start: its token was refused, or it could not be reached.

    The message never holds the token.
    """


class Scope(StrEnum):
    """What a rate limit holds back."""

    TARGET = "target"  # one chat or channel
    PLATFORM = "platform"  # everything on the platform (a global limit)


class SendError(BotError):
    """A platform call that did not succeed; adapters raise only these."""


class RateLimited(SendError):
    """The platform asked to wait `after` before sending to `scope` again."""

    def __init__(self, after: timedelta, scope: Scope = Scope.TARGET) -> None:
        super().__init__(f"rate limited for {after.total_seconds():g} s ({scope})")
        self.after = after
        self.scope = scope


class TargetGone(SendError):
    """The target can no longer be reached (blocked, kicked, deleted)."""


class TargetMoved(SendError):
    """The target lives at a new address now (a Telegram group migrated to a supergroup)."""

    def __init__(self, address: str) -> None:
        super().__init__(f"moved to {address}")
        self.address = address


class Rejected(SendError):
    """The platform refused this message; sending it again would not help."""


class MessageGone(Rejected):
    """The message to edit or delete is gone (or too old to change): that edit is done."""


class Unknown(SendError):
    """The call timed out: the message may or may not have arrived."""


class Transient(SendError):
    """A server or network error worth retrying later."""
