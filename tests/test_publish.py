"""Table tests of the publish state machine, on explicit times (no clock is read)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import BotSettings
from bot.errors import PostError
from bot.model import DateSource, NewPush, Post, PostState, PushKind, Record
from bot.publish import Plan, Snapshot, Verdict, decide

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
RULES = BotSettings()
ALERT, CORRECTION = PushKind.ALERT, PushKind.CORRECTION


def post(
    key: str, *, age: timedelta = timedelta(minutes=5), at: datetime = T0, **changes: object
) -> Post:
    """A published post dated `age` before `at`; `changes` override fields."""
    base = Post(
        key=key, path=f"{key}.md", title=f"Title {key}", excerpt="Excerpt.", categories=("News",),
        tags=(), date=at - age, date_source=DateSource.FRONT_MATTER, is_published=True,
        url=f"https://news.example.com/{key}/", image_url=None, image_path=None, image_file=None,
        content_hash=f"hash-{key}",
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


class Newsroom:
    """Applies plans to an in-memory store, as the real store does, to drive scenarios."""

    def __init__(self, rules: BotSettings = RULES) -> None:
        self.rules = rules
        self.known: dict[str, Record] = {}
        self.pushes: list[tuple[datetime, NewPush]] = []
        self.cancelled: list[str] = []
        self.is_first_run = True

    def state(self, key: str) -> PostState:
        """Where post `key` stands now."""
        return self.known[key].state

    def scan(
        self, *posts: Post, at: datetime, refused: tuple[PostError, ...] = (), complete: bool = True
    ) -> Plan:
        """Decide on a snapshot at `at` and apply the plan."""
        recent = sum(
            1
            for when, push in self.pushes
            if push.kind is ALERT and at - when < timedelta(minutes=1)
        )
        plan = decide(self.known, Snapshot(posts, refused, complete), now=at, rules=self.rules,
                      is_first_run=self.is_first_run, recent_alerts=recent)  # fmt: skip
        for old, new in plan.renames:
            self.known[new] = self.known.pop(old)
        self.known.update({record.post.key: record for record in plan.records})
        self.pushes += [(at, push) for push in plan.pushes]
        self.cancelled += plan.cancelled
        self.is_first_run = False
        return plan


def verdicts(plan: Plan) -> dict[str, Verdict]:
    """Each key's logged verdict (each key is logged at most once per plan)."""
    keys = [d.key for d in plan.decisions]
    assert len(keys) == len(set(keys)), "a post was logged twice"
    return {d.key: d.verdict for d in plan.decisions}


def test_the_first_run_archives_everything_and_pushes_nothing() -> None:
    """An empty database's first scan records the archive as pushed: nobody is flooded."""
    room = Newsroom()
    plan = room.scan(post("a", age=timedelta(days=400)), post("b"), post("c", age=-timedelta(hours=2)),
                     post("d", is_published=False), at=T0)  # fmt: skip
    assert plan.pushes == ()
    assert verdicts(plan) == {"a": Verdict.ARCHIVED, "b": Verdict.ARCHIVED,
                              "c": Verdict.SCHEDULED, "d": Verdict.UNPUBLISHED}  # fmt: skip
    assert room.known["b"].is_alerted
    assert room.known["b"].pushed_at is None
    assert not room.known["c"].is_alerted
    assert plan.next_due == T0 + timedelta(hours=2)


def test_backfill_pushes_the_newest_n_in_date_order() -> None:
    """bot.backfill = 2 pushes the two newest existing posts, oldest of them first."""
    room = Newsroom(BotSettings(backfill=2))
    plan = room.scan(post("old", age=timedelta(days=3)), post("newest", age=timedelta(hours=1)),
                     post("newer", age=timedelta(hours=2)), at=T0)  # fmt: skip
    assert plan.pushes == (NewPush("newer", ALERT), NewPush("newest", ALERT))
    assert verdicts(plan)["old"] is Verdict.ARCHIVED
    assert verdicts(plan)["newest"] is Verdict.BACKFILLED


def test_a_new_post_after_the_baseline_gets_one_alert() -> None:
    """A post added after the first scan is pushed once; scanning again pushes nothing."""
    room = Newsroom()
    room.scan(post("a"), at=T0)
    plan = room.scan(post("a"), post("b"), at=T0 + timedelta(minutes=1))
    assert plan.pushes == (NewPush("b", ALERT),)
    assert room.known["b"].pushed_at == T0 + timedelta(minutes=1)
    assert room.scan(post("a"), post("b"), at=T0 + timedelta(minutes=2)).is_empty


def test_a_post_too_old_when_first_seen_is_recorded_not_pushed() -> None:
    """A merged old branch is not news: older than max_age_hours means recorded only."""
    room = Newsroom(BotSettings(max_age_hours=24))
    room.scan(at=T0)
    plan = room.scan(
        post("old", age=timedelta(hours=25)), post("fresh", age=timedelta(hours=23)), at=T0
    )
    assert plan.pushes == (NewPush("fresh", ALERT),)
    assert verdicts(plan)["old"] is Verdict.TOO_OLD
    assert room.known["old"].is_alerted


def test_a_burst_pushes_the_newest_max_burst_in_order_and_tells_admins() -> None:
    """15 new posts at once with max_burst 10: the newest 10 go, in order; 5 are recorded."""
    room = Newsroom(BotSettings(max_burst=10))
    room.scan(at=T0)
    posts = [post(f"p{n:02}", age=timedelta(minutes=30 - n)) for n in range(15)]
    plan = room.scan(*posts, at=T0)
    assert [push.key for push in plan.pushes] == [f"p{n:02}" for n in range(5, 15)]
    assert [d.key for d in plan.decisions if d.verdict is Verdict.BURST] == [
        f"p{n:02}" for n in range(5)
    ]
    assert plan.notices == (
        "burst: pushed 10, recorded 5 without pushing (10 pushed within a minute; bot.max_burst = 10): p04, p03, p02 and 2 older; /repost KEY sends one",
    )


def test_an_import_in_batches_then_a_real_post_are_each_told_by_name() -> None:
    """2,000 posts over two scans, then one more: each notice counts right and names what it held."""
    room = Newsroom(BotSettings(max_burst=10))
    room.scan(at=T0)
    first = [post(f"a{n:04}", age=timedelta(minutes=50, seconds=-n)) for n in range(1500)]
    plan = room.scan(*first, at=T0)
    assert len(plan.pushes) == 10
    assert plan.notices == (
        "burst: pushed 10, recorded 1,490 without pushing (10 pushed within a minute; bot.max_burst = 10): a1489, a1488, a1487 and 1,487 older; /repost KEY sends one",
    )
    second = [post(f"b{n:03}", age=timedelta(minutes=20, seconds=-n)) for n in range(500)]
    plan = room.scan(*first, *second, at=T0 + timedelta(seconds=20))
    assert plan.pushes == ()
    assert plan.notices == (
        "burst: pushed 0, recorded 500 without pushing (10 pushed within a minute; bot.max_burst = 10): b499, b498, b497 and 497 older; /repost KEY sends one",
    )
    plan = room.scan(*first, *second, post("real"), at=T0 + timedelta(seconds=30))
    assert plan.notices == (
        "burst: pushed 0, recorded 1 without pushing (10 pushed within a minute; bot.max_burst = 10): real; /repost KEY sends one",
    )


def test_a_burst_arriving_in_batches_counts_the_minute() -> None:
    """8 posts, then 5 more within the minute (max_burst 10): 2 of the second batch go."""
    room = Newsroom(BotSettings(max_burst=10))
    room.scan(at=T0)
    first = [post(f"a{n}", age=timedelta(minutes=20 - n)) for n in range(8)]
    assert len(room.scan(*first, at=T0).pushes) == 8
    second = [post(f"b{n}", age=timedelta(minutes=9 - n)) for n in range(5)]
    plan = room.scan(*first, *second, at=T0 + timedelta(seconds=30))
    assert [push.key for push in plan.pushes] == ["b3", "b4"]
    plan = room.scan(*first, *second, post("c"), at=T0 + timedelta(seconds=90))
    assert plan.pushes == (NewPush("c", ALERT),)


def test_a_scheduled_post_is_pushed_when_its_date_arrives() -> None:
    """A future-dated post waits, names its time, and is pushed once that time has come."""
    room = Newsroom()
    room.scan(at=T0)
    later = post("later", age=-timedelta(hours=1))
    plan = room.scan(later, at=T0)
    assert plan.pushes == ()
    assert verdicts(plan) == {"later": Verdict.SCHEDULED}
    assert plan.next_due == T0 + timedelta(hours=1)
    assert room.scan(later, at=T0 + timedelta(minutes=59)).is_empty
    plan = room.scan(later, at=T0 + timedelta(hours=1))
    assert plan.pushes == (NewPush("later", ALERT),)
    assert plan.next_due is None


def test_a_scheduled_post_missed_for_days_is_not_pushed_late() -> None:
    """A post that came due while sokbo was down for longer than max_age_hours is recorded only."""
    room = Newsroom()
    room.scan(post("later", age=-timedelta(hours=1)), at=T0)
    plan = room.scan(post("later", age=-timedelta(hours=1)), at=T0 + timedelta(days=3))
    assert plan.pushes == ()
    assert verdicts(plan) == {"later": Verdict.TOO_OLD}


def test_published_false_to_true_is_pushed_then_whatever_its_date() -> None:
    """A draft flipped to published is news when flipped, even if dated last week."""
    room = Newsroom()
    room.scan(post("d", is_published=False, age=timedelta(days=7)), at=T0)
    plan = room.scan(post("d", age=timedelta(days=7)), at=T0 + timedelta(hours=1))
    assert plan.pushes == (NewPush("d", ALERT),)


@pytest.mark.parametrize(
    ("change", "rules", "after", "pushed"),
    [
        ({"title": "Corrected title"}, RULES, timedelta(hours=1), True),
        ({"excerpt": "New excerpt."}, RULES, timedelta(hours=1), True),
        ({"image_url": "https://x.org/new.jpg"}, RULES, timedelta(hours=1), True),
        ({"url": "https://news.example.com/moved/"}, RULES, timedelta(hours=1), True),
        ({"title": "Corrected title"}, BotSettings(on_edit="ignore"), timedelta(hours=1), False),
        ({"title": "Corrected title"}, RULES, timedelta(hours=49), False),
        ({"categories": ("Sport",)}, RULES, timedelta(hours=1), False),
        ({"content_hash": "typo-fixed-in-body"}, RULES, timedelta(hours=1), False),
    ],
)
def test_an_edit_is_stored_and_a_visible_one_is_a_correction(
    change: dict[str, object], rules: BotSettings, after: timedelta, pushed: bool
) -> None:
    """Edits are stored; a changed title, excerpt, image or link within the window is corrected."""
    room = Newsroom(rules)
    room.scan(at=T0)
    room.scan(post("a"), at=T0)
    edited = replace(post("a"), **{"content_hash": "edited", **change})  # type: ignore[arg-type]
    plan = room.scan(edited, at=T0 + after)
    assert plan.pushes == ((NewPush("a", CORRECTION),) if pushed else ())
    assert verdicts(plan) == {"a": Verdict.CORRECTION if pushed else Verdict.UPDATED}
    assert room.known["a"].post == edited


def test_an_archived_post_edited_is_not_corrected() -> None:
    """A post never actually pushed has no messages to correct."""
    room = Newsroom()
    room.scan(post("a"), at=T0)
    plan = room.scan(post("a", title="New"), at=T0 + timedelta(minutes=1))
    assert plan.pushes == ()
    assert verdicts(plan) == {"a": Verdict.UPDATED}


def test_a_rename_with_the_same_content_is_the_same_post() -> None:
    """Renamed in one scan with unchanged bytes: same post, new key, no new alert."""
    room = Newsroom()
    room.scan(at=T0)
    room.scan(post("2024-07-13-a"), at=T0)
    moved = post(
        "news/2024-07-13-a",
        content_hash="hash-2024-07-13-a",
        title="Title 2024-07-13-a",
        url="https://news.example.com/2024-07-13-a/",
    )
    plan = room.scan(moved, at=T0 + timedelta(minutes=5))
    assert plan.pushes == ()
    assert plan.renames == (("2024-07-13-a", "news/2024-07-13-a"),)
    assert set(room.known) == {"news/2024-07-13-a"}
    assert room.known["news/2024-07-13-a"].is_alerted


def test_a_rename_that_moves_the_link_corrects_the_sent_messages() -> None:
    """A new file name is a new slug: the sent messages' link is corrected, not re-alerted."""
    room = Newsroom()
    room.scan(at=T0)
    room.scan(post("2024-07-13-a"), at=T0)
    plan = room.scan(
        post("2024-07-13-b", content_hash="hash-2024-07-13-a"), at=T0 + timedelta(minutes=5)
    )
    assert plan.renames == (("2024-07-13-a", "2024-07-13-b"),)
    assert plan.pushes == (NewPush("2024-07-13-b", CORRECTION),)


def test_the_same_slug_under_two_dates_is_two_posts() -> None:
    """2024-06-12-45 and 2024-07-19-45 are different articles, each alerted."""
    room = Newsroom()
    room.scan(at=T0)
    plan = room.scan(post("2024-06-12-45"), post("2024-07-19-45", age=timedelta(minutes=1)), at=T0)
    assert [push.key for push in plan.pushes] == ["2024-06-12-45", "2024-07-19-45"]


@pytest.mark.parametrize(
    "hide",
    [
        lambda _: None,
        lambda p: replace(p, is_published=False),
        lambda p: replace(p, date=T0 + timedelta(days=1)),
    ],
    ids=["deleted", "unpublished", "re-dated"],
)
def test_a_hidden_post_cancels_its_pushes_and_coming_back_is_never_a_new_alert(
    hide: object,
) -> None:
    """Deleted, unpublished or re-dated: hidden and its unsent pushes cancelled; back: no alert."""
    room = Newsroom()
    room.scan(at=T0)
    room.scan(post("a"), at=T0)
    hidden = hide(post("a"))  # type: ignore[operator]
    plan = room.scan(*([hidden] if hidden else []), at=T0 + timedelta(minutes=1))
    assert plan.cancelled == ("a",)
    assert verdicts(plan) == {"a": Verdict.HIDDEN}
    assert room.state("a") is not PostState.PUBLISHED
    plan = room.scan(post("a"), at=T0 + timedelta(minutes=2))
    assert plan.pushes == ()
    assert verdicts(plan) == {"a": Verdict.RESTORED}
    assert room.state("a") is PostState.PUBLISHED


def test_a_broken_edit_keeps_the_post_as_it_was() -> None:
    """A post whose file is now refused is neither deleted nor changed, and nothing is cancelled."""
    room = Newsroom()
    room.scan(at=T0)
    room.scan(post("a"), at=T0)
    plan = room.scan(
        at=T0 + timedelta(minutes=1), refused=(PostError("a.md", "invalid YAML", line=2),)
    )
    assert plan.is_empty
    assert room.known["a"].state is PostState.PUBLISHED


def test_a_missing_folder_deletes_nothing() -> None:
    """When the folder itself is gone, nothing counts as deleted; when it is back, nothing is new."""
    room = Newsroom()
    room.scan(post("a"), post("b"), at=T0)
    assert room.scan(at=T0 + timedelta(minutes=1), complete=False).is_empty
    assert room.scan(post("a"), post("b"), at=T0 + timedelta(minutes=2)).is_empty


def test_an_undated_post_keeps_its_first_seen_date() -> None:
    """A post dated by first sight keeps that date on every later scan."""
    room = Newsroom()
    room.scan(at=T0)
    undated = post("u", age=timedelta(0), date_source=DateSource.FIRST_SEEN)
    room.scan(undated, at=T0)
    later = T0 + timedelta(hours=2)
    assert room.scan(replace(undated, date=later), at=later).is_empty
    assert room.known["u"].post.date == T0


def test_the_same_file_read_differently_is_no_correction() -> None:
    """A new reader (or new settings) reads the same bytes into a shorter excerpt: recorded,
    not edited in every chat; the same excerpt change with new bytes is a correction."""
    room = Newsroom()
    room.scan(at=T0)
    room.scan(post("a", at=T0), at=T0)
    reread = room.scan(post("a", at=T0, excerpt="Shorter."), at=T0 + timedelta(minutes=5))
    assert reread.pushes == ()
    assert [d.verdict for d in reread.decisions] == [Verdict.UPDATED]
    edited = room.scan(
        post("a", at=T0, excerpt="Edited.", content_hash="hash-a-2"), at=T0 + timedelta(minutes=6)
    )
    assert [p.kind for p in edited.pushes] == [PushKind.CORRECTION]
