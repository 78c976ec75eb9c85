"""The questions sokbo asked and awaits answers to, kept on its side: a button carries a token."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.model import Choice

# A button's data holds 64 bytes on Telegram (about 21 Hangul characters) and 100 characters
# on Discord: never the answer itself, only a token for the question and the answer's number.
TOKEN_BYTES = 6  # 8 URL-safe characters
MOST_OPEN = 1_000  # questions kept at once; the oldest go first
LASTING = timedelta(hours=1)  # an unanswered question closes after this


@dataclass(frozen=True, slots=True)
class Asked:
    """An open question: who may answer it, in which chat, and its answers."""

    user: str
    chat: str
    choices: tuple[Choice, ...]
    until: datetime


class Questions:
    """Open questions by token, bounded in number and age; each is answered once."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._open: OrderedDict[str, Asked] = OrderedDict()

    def ask(self, choices: tuple[Choice, ...], *, user: str, chat: str) -> str:
        """Keep a question; return the token its buttons carry."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._open[token] = Asked(user, chat, choices, self.clock.now() + LASTING)
        while len(self._open) > MOST_OPEN:
            self._open.popitem(last=False)
        return token

    def get(self, token: str) -> Asked | None:
        """The open question with `token`, if it is still open."""
        asked = self._open.get(token)
        if asked is not None and asked.until < self.clock.now():
            del self._open[token]
            return None
        return asked

    def take(self, data: str, *, user: str) -> Choice | str:
        """The answer a pressed button gives (its question closes), or the UI string saying
        why it gives none: "question_closed", or "not_your_question" (only the asker may)."""
        found = read_button(data)
        asked = None if found is None else self.get(found[0])
        if found is None or asked is None:
            return "question_closed"
        token, index = found
        if asked.user != user or not 0 <= index < len(asked.choices):
            return "not_your_question"
        self.close(token)
        return asked.choices[index]

    def close(self, token: str) -> None:
        """The question was answered: its other buttons do nothing now."""
        self._open.pop(token, None)


def button_data(token: str, index: int) -> str:
    """What a button carries: the question's token and the answer's number."""
    return f"{token}:{index}"


def read_button(data: str) -> tuple[str, int] | None:
    """The token and answer number a button carried; None if it is not one of ours."""
    token, _, number = data.partition(":")
    return (token, int(number)) if token and number.isdecimal() else None
