"""Pure: which chats a queued push goes to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.lookup import reaches
from bot.model import PushKind, Target

FIRST_SENDS = frozenset({PushKind.ALERT, PushKind.REPOST})  # the pushes that make a message


@dataclass(frozen=True, slots=True)
class QueuedPush:
    """A push not yet fanned out, with what deciding its chats needs."""

    push_id: int
    kind: PushKind
    key: str
    categories: tuple[str, ...]  # its post's
    only: int | None  # `/repost KEY here`: this chat's target id alone
    reached: tuple[int, ...]  # active chats holding a sent message of its post, subscribed or not


def fan_out(push: QueuedPush, targets: Sequence[Target]) -> tuple[int, ...]:
    """The target ids `push` goes to, among the active, subscribed `targets`.

    A first send reaches every chat subscribed to one of its post's categories (or to every
    post); `/repost … here` only its chat, subscribed or not. A correction or retraction goes
    only where a message of the post was sent (an unsubscribed chat still holds it), so it
    never reaches a chat that did not get the post.
    """
    if push.only is not None:
        return (push.only,)
    if push.kind in FIRST_SENDS:
        return tuple(t.id for t in targets if reaches(t.categories, push.categories))
    return push.reached
