"""The global feed: every committed event exactly once, even when commits arrive late."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import date

import asyncpg
import pytest

from store import ConcurrencyConflict, EventStore, NewEvent, RecordedEvent, UnknownCheckpoint
from store.append import append_events
from store.eventstore import _init_connection
from tests.store.store_support import (
    assert_each_stream_in_version_order,
    drain,
    event,
    follow_feed,
)


async def feed_head(store: EventStore) -> int:
    _, checkpoint = await drain(store, 0)
    return checkpoint


async def wait_for(store: EventStore, checkpoint: int, ids: set[uuid.UUID]) -> list[RecordedEvent]:
    """Poll the feed until all `ids` arrived (other sessions' transactions may lag xmin)."""
    seen: list[RecordedEvent] = []
    deadline = time.monotonic() + 20
    while not ids <= {e.event_id for e in seen}:
        assert time.monotonic() < deadline, "feed did not deliver in time"
        batch, checkpoint = await drain(store, checkpoint)
        seen.extend(batch)
        await asyncio.sleep(0.02)
    return seen


async def test_reader_waits_for_an_open_transaction(
    store: EventStore, database_url: str, stream_id: str
) -> None:
    start = await feed_head(store)
    slow = await asyncpg.connect(database_url)
    await _init_connection(slow)
    try:
        tx = slow.transaction()
        await tx.start()
        # The slow writer draws its xid (and position) first, then stalls before commit.
        late = await append_events(slow, f"{stream_id}-slow", 0, [event()])
        early = [await store.append(f"{stream_id}-fast-{i}", 0, [event()]) for i in range(3)]
        assert min(r.positions[0] for r in early) > late.positions[0]

        held, checkpoint = await drain(store, start)
        assert not {p for r in early for p in r.positions} & {e.position for e in held}

        await tx.commit()
        after = await wait_for(
            store, checkpoint, {e.event_id for e in await store.read_stream(f"{stream_id}-slow")}
        )
        await_ids = [e.position for e in held + after]
        expected = [late.positions[0], *(r.positions[0] for r in early)]
        assert [p for p in await_ids if p in expected] == expected
    finally:
        await slow.close()


async def test_concurrent_writers_and_a_catch_up_reader(
    store: EventStore, database_url: str
) -> None:
    """8 writers x 200 appends (own and shared streams, random pauses inside their
    transactions) while a reader polls: it sees each event exactly once, each stream in
    version order, and nothing it has passed ever shows up behind it."""
    run = uuid.uuid4().hex[:8]
    start = await feed_head(store)
    written: list[uuid.UUID] = []
    rng = random.Random(7)

    async def writer(n: int) -> None:
        conn = await asyncpg.connect(database_url)
        await _init_connection(conn)
        try:
            for i in range(200):
                stream = f"feed-{run}-shared-{i % 3}" if i % 2 else f"feed-{run}-own-{n}"
                new = event(writer=n, i=i)
                while True:
                    version = await store.stream_version(stream)
                    try:
                        async with conn.transaction():
                            await append_events(conn, stream, version, [new])
                            if rng.random() < 0.3:
                                await asyncio.sleep(rng.random() * 0.01)
                        break
                    except ConcurrencyConflict:
                        continue
                written.append(new.event_id)
        finally:
            await conn.close()

    seen = await follow_feed(store, start, asyncio.gather(*(writer(n) for n in range(8))), written)

    mine = [e for e in seen if e.stream_id.startswith(f"feed-{run}-")]
    assert len(mine) == len(written) == 1600
    assert len({e.event_id for e in mine}) == 1600  # exactly once
    assert {e.event_id for e in mine} == set(written)
    keys = [(e.tx_id, e.position) for e in seen]
    assert keys == sorted(keys)  # never anything behind the cursor
    assert_each_stream_in_version_order(mine)


async def test_feed_pages_and_resumes_from_a_position(store: EventStore, stream_id: str) -> None:
    start = await feed_head(store)
    events = [event() for _ in range(5)]
    await store.append(stream_id, 0, events)
    # Other sessions' write transactions (xids are cluster-wide) may hold the feed back.
    await wait_for(store, start, {e.event_id for e in events})
    first = await store.read_all(after_position=start, limit=2)
    rest, _ = await drain(store, first[-1].position)
    assert [e.version for e in first + rest if e.stream_id == stream_id] == [1, 2, 3, 4, 5]


async def test_unknown_checkpoint_is_an_error(store: EventStore) -> None:
    with pytest.raises(UnknownCheckpoint):
        await store.read_all(after_position=2**62)


async def test_narrow_feed_and_replay_match_read_all(store: EventStore, stream_id: str) -> None:
    start = await feed_head(store)
    batch = [event(step=i) for i in range(7)]
    await store.append(stream_id, 0, batch)
    other = event(n=1, text='Bakü \\ "q"')
    await store.append(f"{stream_id}-b", 0, [other])
    full = await wait_for(store, start, {e.event_id for e in [*batch, other]})
    # The feed only grows at its end: a later read starts with what an earlier one saw.
    narrow = (await store.read_all_data(start, limit=1000))[: len(full)]
    assert [(e.position, e.stream_id, e.version, e.event_type, e.schema_version) for e in full] == [
        (n.position, n.stream_id, n.version, n.event_type, n.schema_version) for n in narrow
    ]
    assert [e.data for e in full] == [json.loads(n.data) for n in narrow]
    pages = [page async for page in store.replay(start, page=3)]
    assert all(len(page) <= 3 for page in pages)
    assert [n for page in pages for n in page][: len(narrow)] == narrow
    with pytest.raises(UnknownCheckpoint):
        await store.read_all_data(after_position=2**62)


async def test_domain_events_decode_from_the_stored_text(store: EventStore, stream_id: str) -> None:
    """`decode_event` on the narrow feed's JSON text (pydantic straight from JSON, upcasting
    older versions) gives what it gives on the parsed data."""
    import domain

    start = await feed_head(store)
    v1 = NewEvent(
        uuid.uuid4(),
        "ContactLogged",
        1,
        {"occurred_on": "2018-05-17", "venue": "The Hague", "modality": "membership"},
        event().metadata,
    )
    v2 = NewEvent(
        uuid.uuid4(),
        *domain.encode_event(
            domain.ContactLogged(
                occurred_on=domain.BusinessDate.of(date(2018, 6, 1)),
                venue="Baku",
                participants=("A",),
                summary="é",
            )
        ),
        event().metadata,
    )
    await store.append(stream_id, 0, [v1, v2])
    seen = await wait_for(store, start, {v1.event_id, v2.event_id})
    full = [e for e in seen if e.stream_id == stream_id]
    narrow = [e for e in await store.read_all_data(start, 1000) if e.stream_id == stream_id]
    assert [domain.decode_event(n.event_type, n.schema_version, n.data) for n in narrow] == [
        domain.decode_event(e.event_type, e.schema_version, e.data) for e in full
    ]
    with pytest.raises(domain.EventDecodeError):
        domain.decode_event("ContactLogged", 2, '{"occurred_on": "2018-05-17"}')
    with pytest.raises(domain.EventDecodeError):
        domain.decode_event("ContactLogged", 1, "[1]")
