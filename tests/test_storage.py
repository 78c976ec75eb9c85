"""Storage's domain operations, as every backend must do them (see conftest.BACKENDS)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from bot.errors import PostError
from bot.model import (
    DeliveryStatus,
    DiscordOptions,
    KnownFile,
    MessageRef,
    NewPush,
    PostState,
    PushKind,
    Record,
    TelegramOptions,
)
from bot.outcome import Outcome
from bot.publish import Plan
from bot.storage import Progress, StaticChat, Storage
from tests.conftest import Opener, fan_out_queued
from tests.test_publish import post

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SEOUL = timezone(timedelta(hours=9))
ALERT = PushKind.ALERT


def record(key: str, **changes: object) -> Record:
    """A published, pushed record for post `key`."""
    base = Record(
        post(key, at=T0), PostState.PUBLISHED, first_seen=T0, is_alerted=True, pushed_at=T0
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def scan(storage: Storage, plan: Plan, *, now: datetime = T0) -> None:
    """Record a scan's plan with no refusals."""
    await storage.archive.record_scan(plan, (), now=now, site=None)


async def test_records_round_trip_and_survive_a_reopen(open_storage: Opener) -> None:
    """Every field of a record, offsets and tuples included, reads back as written."""
    original = record("a", post=replace(post("a", at=T0), date=datetime(2024, 7, 13, 9, 30, tzinfo=SEOUL),
                                         categories=("정치", "경제"), notes=("note",), image_url="https://x.org/a.jpg"))  # fmt: skip
    scheduled = record("b", state=PostState.SCHEDULED, is_alerted=False, pushed_at=None)
    async with open_storage() as storage:
        assert await storage.archive.is_first_run()
        await scan(storage, Plan(records=(original, scheduled)))
    async with open_storage() as storage:
        known = await storage.archive.records()
        assert await storage.archive.record("b") == scheduled
        assert not await storage.archive.is_first_run()
    assert known == {"a": original, "b": scheduled}
    assert known["a"].post.date.utcoffset() == timedelta(hours=9)


async def test_newest_lists_published_posts_by_date_and_category(open_storage: Opener) -> None:
    """Newest first, published only, at most `count`, in a category matched after folding."""
    posts = [
        record("old", post=post("old", at=T0, age=timedelta(hours=3), categories=("경제",))),
        record("mid", post=post("mid", at=T0, age=timedelta(hours=2), categories=("World",))),
        record("new", post=post("new", at=T0, age=timedelta(hours=1), categories=("경제", "X"))),
        record("later", state=PostState.SCHEDULED, is_alerted=False),
        record("hidden", state=PostState.UNPUBLISHED),
    ]
    async with open_storage() as storage:
        await scan(storage, Plan(records=tuple(posts)))
        assert [r.post.key for r in await storage.archive.newest(5)] == ["new", "mid", "old"]
        assert [r.post.key for r in await storage.archive.newest(2)] == ["new", "mid"]
        economy = await storage.archive.newest(5, category="경제")
        assert [r.post.key for r in economy] == ["new", "old"]
        assert await storage.archive.newest(5, category="world") != []
        assert await storage.archive.newest(5, category="none") == []


async def test_pushes_are_created_and_cancelled_with_their_deliveries(open_storage: Opener) -> None:
    """Cancelling a post stops its queued pushes and unsent deliveries, not its sent ones."""
    async with open_storage() as storage:
        for address in ("sent", "waiting", "retrying"):
            await storage.chats.subscribe("fake", address, (), now=T0)
        await scan(storage, Plan(records=(record("a"),), pushes=(NewPush("a", ALERT),)))
        assert await storage.archive.recent_alerts(T0 + timedelta(seconds=59)) == 1
        assert await storage.archive.recent_alerts(T0 + timedelta(seconds=61)) == 0
        assert await fan_out_queued(storage, now=T0) == 3
        jobs = await storage.outbox.claim(now=T0, platforms=["fake"], limit=10)
        by_address = {job.target.address: job for job in jobs}
        await storage.outbox.sent(by_address["sent"], MessageRef("fake", "sent", 1), now=T0)
        retry = Outcome(DeliveryStatus.RETRY, 1, "502", retry_at=T0 + timedelta(minutes=1))
        await storage.outbox.failed(by_address["retrying"], retry, now=T0)
        await storage.outbox.failed(by_address["waiting"], retry, now=T0)
        await scan(storage, Plan(pushes=(NewPush("a", PushKind.CORRECTION),)))
        await scan(storage, Plan(cancelled=("a",)), now=T0 + timedelta(minutes=1))
        summary = await storage.reports.summary()
        deliveries = await storage.outbox.deliveries(key="a")
    assert [(d.address, d.status) for d in deliveries] == [
        ("sent", "sent"),
        ("waiting", "cancelled"),
        ("retrying", "cancelled"),
    ]
    assert deliveries[0].ref == MessageRef("fake", "sent", 1)
    assert summary.pushes_pending == 0  # the correction was cancelled before it fanned out


async def test_a_rename_keeps_the_post_and_its_pushes(open_storage: Opener) -> None:
    """A renamed key is the same post: its pushes and deliveries follow it."""
    async with open_storage() as storage:
        await storage.chats.subscribe("fake", "chat", (), now=T0)
        await scan(storage, Plan(records=(record("old"),), pushes=(NewPush("old", ALERT),)))
        moved = record("new", post=replace(post("old", at=T0), key="new"))
        await scan(storage, Plan(records=(moved,), renames=(("old", "new"),)))
        assert set(await storage.archive.records()) == {"new"}
        await fan_out_queued(storage, now=T0)
        assert [d.key for d in await storage.outbox.deliveries()] == ["new"]


async def test_refusals_are_replaced_and_keep_their_first_sighting(open_storage: Opener) -> None:
    """The refused files mirror the folder; an unchanged refusal keeps its first time."""
    broken = PostError("a.md", "invalid YAML", line=3)
    async with open_storage() as storage:
        archive = storage.archive
        await archive.record_scan(Plan(), (broken,), now=T0, site=None)
        later = T0 + timedelta(minutes=1)
        await archive.record_scan(
            Plan(), (broken, PostError("b.md", "empty")), now=later, site=None
        )
        refusals = await archive.refusals()
        assert refusals["a.md"].first_seen == T0
        assert (refusals["a.md"].reason, refusals["a.md"].line) == ("invalid YAML", 3)
        last = T0 + timedelta(minutes=2)
        await archive.record_scan(Plan(), (PostError("b.md", "empty"),), now=last, site=None)
        assert set(await archive.refusals()) == {"b.md"}
        summary = await storage.reports.summary()
    assert summary.last_scan == last
    assert [r.path for r in summary.refused] == ["b.md"]


async def test_the_site_is_remembered_only_when_given(open_storage: Opener) -> None:
    """A scan records the site identity it is handed; a scan without one keeps the old."""
    async with open_storage() as storage:
        assert await storage.archive.site() is None
        await storage.archive.record_scan(Plan(), (), now=T0, site="one")
        await storage.archive.record_scan(Plan(), (), now=T0, site=None)
        assert await storage.archive.site() == "one"


async def test_subscriptions_narrow_widen_and_end(open_storage: Opener) -> None:
    """Categories narrow an every-post subscription, none widens it again, and unsubscribe ends it."""
    async with open_storage() as storage:
        chats = storage.chats
        target = await chats.subscribe("fake", "c", (), now=T0, language="ko", kind="group")
        assert (target.categories, target.language, target.kind) == ((), "ko", "group")
        assert (await chats.subscribe("fake", "c", ("경제", "정치"), now=T0)).categories in {
            ("경제", "정치"),
            ("정치", "경제"),
        }
        await chats.unsubscribe("fake", "c", ("정치",))
        assert [t.categories for t in await chats.active_targets()] == [("경제",)]
        assert (await chats.subscribe("fake", "c", (), now=T0)).categories == ()
        await chats.unsubscribe("fake", "c", ())
        assert await chats.active_targets() == []
        known = await chats.target("fake", "c")
        assert known is not None
        assert known.language == "ko"  # known still, subscribed to nothing


async def test_static_chats_are_applied_with_their_options_and_dropped_when_gone(
    open_storage: Opener,
) -> None:
    """The config's chats get pushes with their typed options; one taken out of it stops,
    and goes back to an ordinary chat; chats of platforms not running are left alone."""
    topic = StaticChat("telegram", "-100", ("정치",), "en", "channel", TelegramOptions(7, True))
    role = StaticChat("discord", "55", (), None, "text", DiscordOptions(99, crosspost=True))
    async with open_storage() as storage:
        chats = storage.chats
        await chats.subscribe("telegram", "reader", (), now=T0)
        assert (
            await chats.apply_static([topic, role], platforms=["telegram", "discord"], now=T0) == 0
        )
        channel = await chats.target("telegram", "-100")
        assert channel is not None
        assert (channel.is_static, channel.categories, channel.language) == (True, ("정치",), "en")
        assert channel.options == TelegramOptions(7, is_silent=True, link_preview=True)
        assert await chats.apply_static([topic], platforms=["telegram"], now=T0) == 0
        assert {t.address for t in await chats.active_targets()} == {"-100", "55", "reader"}
        assert await chats.apply_static([], platforms=["discord"], now=T0) == 1
        assert {t.address for t in await chats.active_targets()} == {"-100", "reader"}
        resubscribed = await chats.subscribe("discord", "55", (), now=T0)
        assert (resubscribed.is_static, resubscribed.options) == (False, DiscordOptions())


async def test_a_gone_chat_is_deactivated_and_its_deliveries_rejected(open_storage: Opener) -> None:
    """A chat that is gone leaves the active chats; what it had waiting is rejected with why."""
    async with open_storage() as storage:
        await storage.chats.subscribe("fake", "gone", (), now=T0)
        await storage.chats.subscribe("fake", "here", (), now=T0)
        await scan(storage, Plan(records=(record("a"),), pushes=(NewPush("a", ALERT),)))
        await fan_out_queued(storage, now=T0)
        await storage.chats.deactivate("fake", "gone", error="the bot was removed", now=T0)
        assert [t.address for t in await storage.chats.active_targets()] == ["here"]
        assert [(d.address, d.status, d.last_error) for d in await storage.outbox.deliveries()] == [
            ("gone", "rejected", "the bot was removed"),
            ("here", "pending", None),
        ]
        assert await storage.chats.subscribe("fake", "gone", (), now=T0)  # back by command
        assert len(await storage.chats.active_targets()) == 2


async def test_a_moved_chat_keeps_its_subscription_and_messages(open_storage: Opener) -> None:
    """A group that became a supergroup gets pushes at its new address; its old messages stay
    where they were sent, and a correction edits them there."""
    async with open_storage() as storage:
        await storage.chats.subscribe("telegram", "-1", ("경제",), now=T0)
        plan = Plan(records=(record("a", post=post("a", at=T0, categories=("경제",))),),
                    pushes=(NewPush("a", ALERT),))  # fmt: skip
        await scan(storage, plan)
        await fan_out_queued(storage, now=T0)
        [job] = await storage.outbox.claim(now=T0, platforms=["telegram"], limit=5)
        photo = MessageRef("telegram", "-1", 10, "https://img.example.com/a.jpg")
        await storage.outbox.sent(job, photo, now=T0)
        await storage.chats.move("telegram", "-1", "-1009")
        [moved] = await storage.chats.active_targets()
        assert (moved.address, moved.categories) == ("-1009", ("경제",))
        await scan(storage, Plan(pushes=(NewPush("a", PushKind.CORRECTION),)))
        await fan_out_queued(storage, now=T0)
        [edit] = await storage.outbox.claim(now=T0, platforms=["telegram"], limit=5)
        assert (edit.kind, edit.target.address, edit.refs) == (
            PushKind.CORRECTION,
            "-1009",
            (photo,),
        )


async def test_progress_and_pause(open_storage: Opener) -> None:
    """A push's progress counts sent and failed deliveries; paused, only retractions are claimed."""
    async with open_storage() as storage:
        for address in ("a", "b"):
            await storage.chats.subscribe("fake", address, (), now=T0)
        await scan(storage, Plan(records=(record("p"),)))
        push = await storage.outbox.queue("p", PushKind.REPOST, now=T0)
        assert push is not None
        assert await storage.outbox.queue("missing", PushKind.REPOST, now=T0) is None
        assert await storage.outbox.progress(push) is None  # not fanned out yet
        await storage.outbox.set_paused(True)
        await fan_out_queued(storage, now=T0)
        assert await storage.outbox.claim(now=T0, platforms=["fake"], limit=5) == []
        assert (await storage.reports.summary()).is_paused
        await storage.outbox.set_paused(False)
        first, second = await storage.outbox.claim(now=T0, platforms=["fake"], limit=5)
        await storage.outbox.sent(first, MessageRef("fake", "a", 1), now=T0)
        await storage.outbox.failed(second, Outcome(DeliveryStatus.DEAD, 5, "x"), now=T0)
        progress = await storage.outbox.progress(push)
        assert progress is not None
        assert (progress.sent, progress.failed, progress.total, progress.is_done) == (1, 1, 2, True)
        summary = await storage.reports.summary()
    assert (summary.deliveries, summary.targets, summary.is_paused) == (
        {"sent": 1, "dead": 1},
        2,
        False,
    )


async def test_in_flight_deliveries_go_again_and_old_ones_are_pruned(open_storage: Opener) -> None:
    """A crash's in-flight deliveries are retried at start; sent ones past the window are gone."""
    async with open_storage() as storage:
        for address in ("a", "b"):
            await storage.chats.subscribe("fake", address, (), now=T0)
        await scan(storage, Plan(records=(record("p"),), pushes=(NewPush("p", ALERT),)))
        await fan_out_queued(storage, now=T0)
        first, _ = await storage.outbox.claim(now=T0, platforms=["fake"], limit=5)
        await storage.outbox.sent(first, MessageRef("fake", "a", 1), now=T0)
    async with open_storage() as storage:  # the other one was in flight when sokbo stopped
        later = T0 + timedelta(hours=49)
        assert await storage.outbox.reset_in_flight(now=later) == 1
        assert await storage.outbox.prune(now=later, window=timedelta(hours=48)) == 1
        assert [(d.address, d.status) for d in await storage.outbox.deliveries()] == [
            ("b", "retry")
        ]


async def test_nothing_grows_for_ever_pushes_and_failures_are_pruned(open_storage: Opener) -> None:
    """A push goes with its last delivery; a dead one stays in status for 30 days, then goes."""
    async with open_storage() as storage:
        for address in ("a", "b"):
            await storage.chats.subscribe("fake", address, (), now=T0)
        await scan(storage, Plan(records=(record("p"),), pushes=(NewPush("p", ALERT),)))
        await fan_out_queued(storage, now=T0)
        first, second = await storage.outbox.claim(now=T0, platforms=["fake"], limit=5)
        await storage.outbox.sent(first, MessageRef("fake", first.target.address, 1), now=T0)
        await storage.outbox.failed(second, Outcome(DeliveryStatus.DEAD, 8, "x"), now=T0)
        push_id = (await storage.outbox.deliveries())[0].push_id
        window = timedelta(hours=48)
        assert await storage.outbox.prune(now=T0 + timedelta(hours=49), window=window) == 1
        assert [d.status for d in await storage.outbox.deliveries()] == [DeliveryStatus.DEAD]
        assert await storage.outbox.progress(push_id) == Progress(0, 1, 1)
        assert await storage.outbox.prune(now=T0 + timedelta(days=31), window=window) == 1
        assert await storage.outbox.deliveries() == []
        assert await storage.outbox.progress(push_id) is None  # the push itself is gone


async def test_a_push_cancelled_after_it_was_read_gets_no_deliveries(open_storage: Opener) -> None:
    """Delivery read the queued push, then the post was retracted: the plan it wrote is void."""
    async with open_storage() as storage:
        await storage.chats.subscribe("fake", "chat", (), now=T0)
        await scan(storage, Plan(records=(record("a"),), pushes=(NewPush("a", ALERT),)))
        [queued] = await storage.outbox.queued()
        await storage.outbox.cancel_unsent("a", now=T0)
        assert await storage.outbox.fan_out({queued.push_id: (1,)}, now=T0) == 0
        assert await storage.outbox.deliveries() == []
        assert await storage.outbox.queued() == []


async def test_a_chat_that_moves_onto_a_known_chat_becomes_one_with_it(
    open_storage: Opener,
) -> None:
    """A group migrated to a supergroup sokbo already knows: one chat, both subscriptions, and
    a push both were waiting for goes there once."""
    async with open_storage() as storage:
        await storage.chats.subscribe("telegram", "-1", ("경제",), now=T0)
        await storage.chats.subscribe("telegram", "-100", ("정치",), now=T0)
        both = record("a", post=post("a", at=T0, categories=("경제", "정치")))
        await scan(storage, Plan(records=(both,), pushes=(NewPush("a", ALERT),)))
        await fan_out_queued(storage, now=T0)
        await storage.chats.move("telegram", "-1", "-100")
        [merged] = await storage.chats.active_targets()
        assert (merged.address, sorted(merged.categories)) == ("-100", ["경제", "정치"])
        assert [(d.address, d.status) for d in await storage.outbox.deliveries()] == [
            ("-1", "cancelled"),
            ("-100", "pending"),
        ]


async def test_a_chat_that_took_every_post_keeps_every_post_when_chats_merge(
    open_storage: Opener,
) -> None:
    """Merged, the one chat gets what either got: every post, if either did."""
    async with open_storage() as storage:
        await storage.chats.subscribe("telegram", "-1", (), now=T0)
        await storage.chats.subscribe("telegram", "-100", ("정치",), now=T0)
        await storage.chats.move("telegram", "-1", "-100")
        [merged] = await storage.chats.active_targets()
        assert (merged.address, merged.categories) == ("-100", ())


async def test_categories_are_counted_and_follow_each_scan(open_storage: Opener) -> None:
    """Published posts' categories with their counts, most first; a recategorised post moves."""
    a = record("a", post=post("a", at=T0, categories=("정치", "경제")))
    b = record("b", post=post("b", at=T0, categories=("경제",)))
    hidden = record("c", post=post("c", at=T0, categories=("날씨",)), state=PostState.UNPUBLISHED)
    async with open_storage() as storage:
        await scan(storage, Plan(records=(a, b, hidden)))
        assert await storage.archive.categories() == [("경제", 2), ("정치", 1)]
        moved = replace(b, post=replace(b.post, categories=("정치", "Science")))
        await scan(storage, Plan(records=(moved,)))
        assert await storage.archive.categories() == [("정치", 2), ("Science", 1), ("경제", 1)]
        assert [r.post.key for r in await storage.archive.newest(5, category="science")] == ["b"]


async def test_scheduled_posts_come_due_in_order_unless_their_file_is_refused(
    open_storage: Opener,
) -> None:
    """The next date ahead, and the posts whose date arrived (a broken file keeps its post)."""
    soon = record("soon", post=post("soon", at=T0, age=-timedelta(hours=1)))
    late = record("late", post=post("late", at=T0, age=-timedelta(hours=2)))
    plan = Plan(records=tuple(replace(r, state=PostState.SCHEDULED) for r in (soon, late)))
    async with open_storage() as storage:
        archive = storage.archive
        await scan(storage, plan)
        assert await archive.next_due(T0) == T0 + timedelta(hours=1)
        assert await archive.due(T0) == []
        assert [r.post.key for r in await archive.due(T0 + timedelta(hours=2))] == ["soon", "late"]
        await archive.record_scan(Plan(), (PostError("soon.md", "empty"),), now=T0, site=None)
        assert [r.post.key for r in await archive.due(T0 + timedelta(hours=2))] == ["late"]
        assert await archive.next_due(T0 + timedelta(hours=2)) is None


async def test_a_partial_scan_touches_only_the_files_it_looked_at(open_storage: Opener) -> None:
    """The files as read and the refusals change at the scan's paths; the others stay."""
    a, b = KnownFile("a.md", (10, 1, 1), "a"), KnownFile("b.md", (20, 2, 2), None)
    async with open_storage() as storage:
        archive = storage.archive
        await archive.record_scan(
            Plan(records=(record("a"),)), (PostError("b.md", "empty"), PostError("c.md", "empty")),
            now=T0, site=None, files=(a, b), reading="v1",
        )  # fmt: skip
        assert sorted(await archive.files(), key=lambda f: f.path) == [a, b]
        assert await archive.reading() == "v1"
        fixed = KnownFile("b.md", (30, 3, 3), "b")
        await archive.record_scan(
            Plan(records=(record("b"),)), (), now=T0, site=None, scope={"b.md"}, files=(fixed,)
        )
        assert sorted(await archive.files(), key=lambda f: f.path) == [a, fixed]
        assert set(await archive.refusals()) == {"c.md"}  # not looked at: still refused
        assert set(await archive.refusals(["b.md", "c.md"])) == {"c.md"}
        assert await archive.reading() == "v1"
        involved = await archive.involved(["b"], ["a.md", "nothing.md"])
        assert set(involved) == {"a", "b"}


async def test_the_chats_getting_pushes_are_counted_as_they_change(open_storage: Opener) -> None:
    """The summary counts active chats with a subscription: after subscribing, unsubscribing,
    a chat gone, and a group that moved onto a chat already known (the two become one)."""
    async with open_storage() as storage:
        chats = storage.chats

        async def counted() -> int:
            return (await storage.reports.summary()).targets

        for address in ("a", "b", "c", "d"):
            await chats.subscribe("fake", address, ("정치", "경제"), now=T0)
        await chats.ensure_target("fake", "no-subscription", now=T0)
        assert await counted() == 4 == len(await chats.active_targets())
        await chats.unsubscribe("fake", "a", ("정치",))
        assert await counted() == 4
        await chats.unsubscribe("fake", "a", ())
        assert await counted() == 3
        await chats.deactivate("fake", "b", error="blocked", now=T0)
        assert await counted() == 2
        await chats.move("fake", "c", "d")  # d is known: c's subscriptions merge into it
        assert await counted() == 1 == len(await chats.active_targets())
        await chats.subscribe("fake", "b", (), now=T0)  # back, to everything
        assert await counted() == 2 == len(await chats.active_targets())


async def test_posts_are_counted_by_state_as_they_change(open_storage: Opener) -> None:
    """The summary's counts follow each post from state to state, renames and re-reads too."""
    async with open_storage() as storage:

        async def counts() -> dict[str, int]:
            return dict((await storage.reports.summary()).posts_by_state)

        soon = record("soon", state=PostState.SCHEDULED, is_alerted=False, pushed_at=None)
        await scan(storage, Plan(records=(record("a"), record("b"), soon)))
        assert await counts() == {"published": 2, "scheduled": 1}
        await scan(storage, Plan(records=(record("a"), replace(record("b"), state=PostState.GONE))))
        assert await counts() == {"published": 1, "scheduled": 1, "gone": 1}
        moved = record("a2", post=replace(post("a", at=T0), key="a2"))
        await scan(storage, Plan(records=(moved, replace(soon, state=PostState.PUBLISHED)),
                                 renames=(("a", "a2"),)))  # fmt: skip
        assert await counts() == {"published": 2, "gone": 1}
