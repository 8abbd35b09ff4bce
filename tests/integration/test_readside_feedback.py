"""The read side's feedback queries over feedback the engine wrote from published events."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from consumer.db.tables import FLAGS
from consumer.readside import DatabaseService
from consumer.readside.engine import dispose_engines
from consumer.readside.models import Feedback
from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import running_service
from tests.support.waiting import wait_until

TIE = ev.at(7200)
Key = tuple[str, str]


@pytest.fixture
async def read(settings: Settings) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(settings.database) as service:
        yield service
    await dispose_engines()


def _feedback_events() -> list[dict[str, Any]]:
    """20 users on insight A at one instant, one re-submission, one stale event, and B."""
    events = [
        ev.feedback(
            "insight-a", f"user-{n:02}", 1 + n % 5, at=TIE,
            comment="useful" if n % 2 == 0 else ("" if n % 3 == 0 else None),
            flags=[FLAGS[n % len(FLAGS)]] if n % 4 == 0 else [],
        )
        for n in range(20)
    ]  # fmt: skip
    events.append(ev.feedback("insight-a", "user-03", 5, at=TIE + timedelta(seconds=10)))
    events.append(ev.feedback("insight-a", "user-04", 1, at=TIE - timedelta(seconds=10)))
    events += [
        ev.feedback("insight-b", f"user-{n:02}", 4, at=TIE + timedelta(minutes=n)) for n in range(5)
    ]
    return events


def _winners(events: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """The newest event per (insight, user): what the table must end up holding."""
    best: dict[Key, dict[str, Any]] = {}
    for event in events:
        key = (event["data"]["insight_id"], event["data"]["user_id"])
        if key not in best or (event["time"], event["id"]) > (best[key]["time"], best[key]["id"]):
            best[key] = event
    return best


async def _ingest(settings: Settings, publish: Publish, db: asyncpg.Pool) -> dict[Key, Any]:
    events = _feedback_events()
    winners = _winners(events)
    expected = {key: event["id"] for key, event in winners.items()}

    async def settled() -> bool:
        rows = await db.fetch("SELECT insight_id, user_id, event_id FROM insight_feedback")
        return {(r["insight_id"], r["user_id"]): str(r["event_id"]) for r in rows} == expected

    async with running_service(settings, [Stream.FEEDBACK]):
        await publish(settings.topics.feedback, events)
        await wait_until(settled, within=60, what="feedback written")
    return winners


async def _all_pages(read: DatabaseService, limit: int, **filters: Any) -> list[Feedback]:
    seen: list[Feedback] = []
    cursor = None
    while True:
        page = await read.list_feedback(limit=limit, cursor=cursor, **filters)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen


def _newest_first(items: list[Feedback]) -> list[Key]:
    keys = sorted(((f.submitted_at, f.insight_id, f.user_id) for f in items), reverse=True)
    return [(insight, user) for _, insight, user in keys]


async def test_unknown_insight_has_zero_stats_and_no_feedback(read: DatabaseService) -> None:
    """An insight nobody rated gives zero counts, no average and an empty last page."""
    stats = await read.get_feedback_stats("nobody-rated-this")
    assert (stats.count, stats.average_rating, stats.with_comment) == (0, None, 0)
    assert stats.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert stats.flags == dict.fromkeys(FLAGS, 0)
    page = await read.list_feedback(insight_id="nobody-rated-this")
    assert (page.items, page.next_cursor) == ([], None)


async def test_stats_summarise_the_current_feedback_of_one_insight(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Stats count each user's newest feedback once: average, 1..5 distribution, comments, flags."""
    winners = await _ingest(settings, publish, clean_db)
    data = [e["data"] for (insight, _), e in winners.items() if insight == "insight-a"]

    stats = await read.get_feedback_stats("insight-a")

    ratings = Counter(d["rating"] for d in data)
    assert stats.count == len(data) == 20
    assert stats.average_rating == pytest.approx(sum(d["rating"] for d in data) / len(data))
    assert stats.distribution == {r: ratings.get(r, 0) for r in range(1, 6)}
    assert stats.with_comment == sum(1 for d in data if d["comment"])
    flags = Counter(flag for d in data for flag in d["flags"])
    assert stats.flags == {flag: flags.get(flag, 0) for flag in FLAGS}


async def test_pages_walk_feedback_once_in_order_with_tied_times(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Paging by insight, by user or unfiltered yields each row once, newest first, ties by key."""
    winners = await _ingest(settings, publish, clean_db)

    by_insight = await _all_pages(read, limit=6, insight_id="insight-a")
    assert [(f.insight_id, f.user_id) for f in by_insight] == _newest_first(by_insight)
    assert {f.user_id for f in by_insight} == {u for i, u in winners if i == "insight-a"}

    by_user = await _all_pages(read, limit=1, user_id="user-01")
    assert [f.insight_id for f in by_user] == ["insight-b", "insight-a"]

    everything = await _all_pages(read, limit=7)
    assert [(f.insight_id, f.user_id) for f in everything] == _newest_first(everything)
    assert {(f.insight_id, f.user_id): str(f.event_id) for f in everything} == {
        key: event["id"] for key, event in winners.items()
    }


async def test_since_and_until_bound_submission_times_half_open(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """since is inclusive and until exclusive: [TIE+1m, TIE+3m) holds two of insight B's rows."""
    await _ingest(settings, publish, clean_db)
    since: datetime = TIE + timedelta(minutes=1)
    page = await read.list_feedback(
        insight_id="insight-b", since=since, until=TIE + timedelta(minutes=3)
    )
    assert [f.user_id for f in page.items] == ["user-02", "user-01"]
