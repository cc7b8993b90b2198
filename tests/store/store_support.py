"""Builders shared by the store tests."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from datetime import date
from typing import Any

from store import EventMetadata, EventStore, NewEvent, RecordedEvent

# A source as the domain cites one (DOMAIN.md, "Dates and sources"); opaque to the store.
SOURCE: dict[str, Any] = {
    "title": "Azerbaijan, ICMP discuss cooperation on missing persons",
    "publisher": "Trend News Agency",
    "date": "2025-03-10",
    "locator": "https://en.trend.az/azerbaijan/politics/",
}


def metadata(**overrides: Any) -> EventMetadata:
    fields: dict[str, Any] = {"occurred_on": date(2021, 11, 15)} | overrides
    return EventMetadata(**fields)


def event(event_type: str = "ContactLogged", **data: Any) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        data=data or {"venue": "Embassy in The Hague", "n": 1},
        metadata=metadata(),
    )


async def drain(store: EventStore, checkpoint: int) -> tuple[list[RecordedEvent], int]:
    """Everything the feed delivers now after `checkpoint`, and the new checkpoint."""
    seen: list[RecordedEvent] = []
    while batch := await store.read_all(after_position=checkpoint, limit=100):
        seen.extend(batch)
        checkpoint = batch[-1].position
    return seen, checkpoint


async def follow_feed(
    store: EventStore,
    start: int,
    writers: Awaitable[Any],
    written: list[uuid.UUID],
    *,
    limit: int = 50,
) -> list[RecordedEvent]:
    """Poll the feed from `start` while `writers` run, until every id in `written` (filled
    by the writers) has arrived; return everything read, in feed order."""
    done = asyncio.Event()
    seen: list[RecordedEvent] = []

    async def reader() -> None:
        checkpoint = start
        while True:
            finished = done.is_set()
            batch = await store.read_all(after_position=checkpoint, limit=limit)
            seen.extend(batch)
            if batch:
                checkpoint = batch[-1].position
            elif finished and set(written) <= {e.event_id for e in seen}:
                return
            else:
                await asyncio.sleep(0.005)

    reading = asyncio.create_task(reader())
    await writers
    done.set()
    await asyncio.wait_for(reading, timeout=60)
    return seen


def assert_each_stream_in_version_order(events: Iterable[RecordedEvent]) -> None:
    versions: dict[str, list[int]] = defaultdict(list)
    for e in events:
        versions[e.stream_id].append(e.version)
    for stream, order in versions.items():
        assert order == list(range(1, len(order) + 1)), stream
