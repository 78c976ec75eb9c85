"""Which chats a push goes to: first sends by subscription, edits where messages are."""

from __future__ import annotations

from bot.fanout import QueuedPush, fan_out
from bot.model import PushKind, Target

EVERYTHING = Target(1, "fake", "all")
ECONOMY = Target(2, "fake", "economy", categories=("경제",))
SPORT = Target(3, "fake", "sport", categories=("Sport", "야구"))
CHATS = [EVERYTHING, ECONOMY, SPORT]


def push(kind: PushKind, *categories: str, only: int | None = None, reached: tuple[int, ...] = ()) -> QueuedPush:  # fmt: skip
    """A queued push of a post in `categories`."""
    return QueuedPush(7, kind, "key", categories, only, reached)


def test_a_first_send_reaches_every_chat_subscribed_to_one_of_its_categories() -> None:
    """Every-post chats always; category chats on any category, matched after folding."""
    assert fan_out(push(PushKind.ALERT, "경제", "politics"), CHATS) == (1, 2)
    assert fan_out(push(PushKind.REPOST, "SPORT"), CHATS) == (1, 3)
    assert fan_out(push(PushKind.ALERT), CHATS) == (1,)
    assert fan_out(push(PushKind.ALERT, "경제"), []) == ()


def test_a_repost_here_goes_to_its_chat_alone() -> None:
    """`/repost KEY here`: that chat, subscribed or not, whatever the categories."""
    assert fan_out(push(PushKind.REPOST, "경제", only=99), CHATS) == (99,)


def test_an_edit_goes_only_where_a_message_was_sent() -> None:
    """A correction or retraction reaches the chats holding the post, not new subscribers."""
    assert fan_out(push(PushKind.CORRECTION, "경제", reached=(2, 42)), CHATS) == (2, 42)
    assert fan_out(push(PushKind.RETRACTION, "경제"), CHATS) == ()
