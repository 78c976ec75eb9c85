"""Pure: a post and a push kind → the platform-neutral Message every renderer starts from."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.config import SiteConfig
from bot.model import DateSource, Message, Post, PushKind


def is_date_only(post: Post, zone: ZoneInfo) -> bool:
    """Whether a post's date names a day and no time (`date: 2024-07-13`, or a file name's
    date): Jekyll puts those at midnight, which is not when anything happened."""
    if post.date_source is DateSource.FIRST_SEEN:
        return False
    return post.date.astimezone(zone).timetz().replace(tzinfo=None) == time(0)


def published(post: Post, zone: ZoneInfo, seen: datetime | None) -> tuple[datetime, bool]:
    """When to say a post was published, and whether that moment has a time of day: its own
    date if it has a time; else when sokbo first saw it, if that was on its day; else its day."""
    if not is_date_only(post, zone):
        return post.date, True
    if seen is not None and seen.astimezone(zone).date() == post.date.astimezone(zone).date():
        return seen, True
    return post.date, False


def to_message(
    post: Post,
    *,
    kind: PushKind,
    site: SiteConfig,
    language: str,
    seen: datetime | None = None,
) -> Message:
    """Return what a push of `post` says, before any platform shapes it (`seen`: when sokbo
    first saw it, the time shown for a post dated by day only)."""
    date, is_timed = published(post, site.zone, seen)
    return Message(
        key=post.key,
        kind=kind,
        title=post.title,
        excerpt=post.excerpt,
        url=post.url,
        image_url=post.image_url,
        image_file=post.image_file,
        categories=post.categories,
        date=date,
        site_name=site.display_name,
        language=language,
        is_timed=is_timed,
    )
