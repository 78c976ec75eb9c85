"""sokbo's exception tree, translated from library errors at the edges.

BotError
├── ConfigError   a config file or environment value sokbo cannot use
└── PostError     a post file sokbo refuses (names the file, the reason, the line)
"""

from __future__ import annotations


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
