"""Pure: a post and a push kind → the platform-neutral Message every renderer starts from."""

from __future__ import annotations

from bot.config import SiteConfig
from bot.model import Message, Post, PushKind


def to_message(post: Post, *, kind: PushKind, site: SiteConfig, language: str) -> Message:
    """Return what a push of `post` says, before any platform shapes it."""
    return Message(
        key=post.key,
        kind=kind,
        title=post.title,
        excerpt=post.excerpt,
        url=post.url,
        image_url=post.image_url,
        image_file=post.image_file,
        categories=post.categories,
        date=post.date,
        site_name=site.display_name,
        language=language,
    )
