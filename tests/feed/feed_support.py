"""Builders and writers shared by the feed tests."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date

import asyncpg

from store import ConcurrencyConflict, EventMetadata, EventStore, NewEvent, RecordedEvent
from store.append import append_events
from store.eventstore import _init_connection
from store.feed import subscribe


def consent(agency: str, tor_version: int = 1) -> NewEvent:
    """A small event shaped like the domain's ConsentGranted."""
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type="ConsentGranted",
        schema_version=1,
        data={"agency": agency, "tor_version": tor_version, "occurred_on": "2023-04-10"},
        metadata=EventMetadata(
            occurred_on=date(2023, 4, 10), actor={"party": agency, "role": "head"}
        ),
    )


async def feed_from(store: EventStore, after: int) -> list[RecordedEvent]:
    """Everything the feed delivers now after `after`, in feed order."""
    async with subscribe(store, after, batch_size=200) as feed:
        return [event async for event in feed]


async def feed_head(store: EventStore) -> int:
    events = await feed_from(store, 0)
    return events[-1].position if events else 0


async def write_concurrently(
    store: EventStore,
    database_url: str,
    streams: list[str],
    *,
    writers: int,
    appends: int,
    late_share: float,
    hold: tuple[float, float],
    seed: int,
) -> list[tuple[uuid.UUID, int]]:
    """`writers` tasks each append `appends` single events to random `streams`; a share of
    them commit late (the transaction stays open `hold` seconds after drawing its xid and
    position). Returns (event id, position) in the order the commits completed."""
    committed: list[tuple[uuid.UUID, int]] = []

    async def writer(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        conn = await asyncpg.connect(database_url)
        await _init_connection(conn)
        try:
            for _ in range(appends):
                stream = rng.choice(streams)
                new = consent(f"agency_{n}")
                late = rng.random() < late_share
                while True:
                    version = await store.stream_version(stream)
                    try:
                        async with conn.transaction():
                            result = await append_events(conn, stream, version, [new])
                            if late:
                                await asyncio.sleep(rng.uniform(*hold))
                        break
                    except ConcurrencyConflict:
                        continue
                committed.append((new.event_id, result.positions[0]))
        finally:
            await conn.close()

    await asyncio.gather(*(writer(n) for n in range(writers)))
    return committed
