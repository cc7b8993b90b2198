"""Appending: round trip, optimistic concurrency, idempotency, nothing left by failures."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from datetime import date

import pytest

from store import (
    AppendResult,
    ConcurrencyConflict,
    EventStore,
    IdempotencyConflict,
    NewEvent,
    StoreError,
)
from store.digest import GENESIS_HASH, chain_hash
from tests.store.store_support import event, metadata


async def count_rows(store: EventStore, stream_id: str) -> tuple[int, int]:
    events = await store.pool.fetchval(
        "SELECT count(*) FROM accord.events WHERE stream_id = $1", stream_id
    )
    streams = await store.pool.fetchval(
        "SELECT count(*) FROM accord.streams WHERE stream_id = $1", stream_id
    )
    return int(events), int(streams)


async def test_round_trip_keeps_every_field(store: EventStore, stream_id: str) -> None:
    full = metadata(
        actor={"party": "mfa", "role": "representative", "name": "Leyla Ağayeva"},
        occurred_on=date(2018, 5, 17),
        correlation_id="corr-1",
        causation_id="cmd-7",
        workflow_id="process-az",
        run_id="run-42",
    )
    opened = NewEvent(uuid.uuid4(), "ProcessOpened", 1, {"country": "Azerbaijan"}, full)
    contact = NewEvent(
        uuid.uuid4(),
        "ContactLogged",
        2,
        {"venue": "Bakü", "participants": ["A", "B"], "share": 0.25, "nested": {"k": None}},
        metadata(),
    )

    result = await store.append(stream_id, 0, [opened, contact])

    assert (result.first_version, result.last_version, result.already_recorded) == (1, 2, False)
    assert len(result.positions) == 2 and result.positions[0] < result.positions[1]
    recorded = await store.read_stream(stream_id)
    assert [r.event_id for r in recorded] == [opened.event_id, contact.event_id]
    first, second = recorded
    assert (first.stream_id, first.version, first.position) == (stream_id, 1, result.positions[0])
    assert (first.event_type, first.schema_version, first.data) == (
        "ProcessOpened",
        1,
        {"country": "Azerbaijan"},
    )
    assert first.metadata == full
    assert second.data == contact.data and second.metadata == contact.metadata
    assert first.tx_id == second.tx_id  # one append, one transaction
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert first.hash == chain_hash(
        GENESIS_HASH, first.content_digest, first.position, first.recorded_at
    )
    assert await store.stream_version(stream_id) == 2
    assert [r.version for r in await store.read_stream(stream_id, after_version=1)] == [2]


async def test_stream_version_of_unknown_stream_is_zero(store: EventStore) -> None:
    assert await store.stream_version("process-never-written") == 0


async def test_same_expected_version_exactly_one_wins(store: EventStore, stream_id: str) -> None:
    await store.append(stream_id, 0, [event()])

    outcomes = await asyncio.gather(
        store.append(stream_id, 1, [event()]),
        store.append(stream_id, 1, [event()]),
        return_exceptions=True,
    )

    conflicts = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert len(conflicts) == 1, outcomes
    conflict = conflicts[0]
    assert (conflict.stream_id, conflict.expected, conflict.actual) == (stream_id, 1, 2)
    assert await store.stream_version(stream_id) == 2
    assert await count_rows(store, stream_id) == (2, 1)


async def test_new_streams_race_too(store: EventStore, stream_id: str) -> None:
    outcomes = await asyncio.gather(
        *(store.append(stream_id, 0, [event()]) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(o, ConcurrencyConflict) for o in outcomes) == 4
    assert await count_rows(store, stream_id) == (1, 1)


async def test_retry_returns_same_positions_and_writes_nothing(
    store: EventStore, stream_id: str
) -> None:
    batch = [event(), event("MeetingRecorded")]
    first = await store.append(stream_id, 0, batch)
    await store.append(stream_id, 2, [event()])  # the stream moves on meanwhile

    retry = await store.append(stream_id, 0, batch)

    assert retry.already_recorded
    assert retry.positions == first.positions
    assert (retry.first_version, retry.last_version) == (1, 2)
    assert await count_rows(store, stream_id) == (3, 1)


@pytest.mark.parametrize("change", ["data", "version", "stream"])
async def test_same_id_other_content_is_refused(
    store: EventStore, stream_id: str, change: str
) -> None:
    original = event(n=1)
    await store.append(stream_id, 0, [original])
    other = NewEvent(
        original.event_id,
        original.event_type,
        original.schema_version,
        {"n": 2} if change == "data" else original.data,
        original.metadata,
    )
    target = f"{stream_id}-other" if change == "stream" else stream_id
    expected = 1 if change == "version" else 0

    with pytest.raises(IdempotencyConflict) as caught:
        await store.append(target, expected, [other])

    assert caught.value.event_id == original.event_id
    assert await count_rows(store, stream_id) == (1, 1)
    assert await count_rows(store, f"{stream_id}-other") == (0, 0)


async def test_partial_retry_is_a_conflict(store: EventStore, stream_id: str) -> None:
    known = event()
    await store.append(stream_id, 0, [known])
    with pytest.raises(IdempotencyConflict):
        await store.append(stream_id, 0, [known, event()])
    assert await count_rows(store, stream_id) == (1, 1)


async def test_failed_appends_leave_no_row(store: EventStore, stream_id: str) -> None:
    with pytest.raises(ConcurrencyConflict) as caught:
        await store.append(stream_id, 3, [event(), event()])
    assert (caught.value.expected, caught.value.actual) == (3, 0)
    assert await count_rows(store, stream_id) == (0, 0)

    await store.append(stream_id, 0, [event()])
    with pytest.raises(ConcurrencyConflict):
        await store.append(stream_id, 0, [event()])
    # jsonb refuses NUL characters: the whole append fails inside the database.
    with pytest.raises(StoreError, match="Unicode escape"):
        await store.append(stream_id, 1, [event(), event(bad="nul\u0000")])
    assert await count_rows(store, stream_id) == (1, 1)
    assert await store.stream_version(stream_id) == 1


async def test_concurrent_same_event_id_on_two_streams(store: EventStore, stream_id: str) -> None:
    shared = event()
    outcomes = await asyncio.gather(
        store.append(f"{stream_id}-a", 0, [shared]),
        store.append(f"{stream_id}-b", 0, [shared]),
        return_exceptions=True,
    )
    assert sum(isinstance(o, IdempotencyConflict) for o in outcomes) == 1, outcomes
    total = sum([(await count_rows(store, f"{stream_id}-{s}"))[0] for s in "ab"])
    assert total == 1


async def test_caller_mistakes_are_refused_before_the_database(store: EventStore) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await store.append("s", 0, [])
    with pytest.raises(ValueError, match=">= 0"):
        await store.append("s", -1, [event()])
    twice = event()
    with pytest.raises(ValueError, match="twice"):
        await store.append("s", 0, [twice, twice])
    with pytest.raises(ValueError, match="would not survive"):
        await store.append("s", 0, [event(amount=1e22)])
    assert await store.stream_version("s") == 0


async def test_single_event_retry_and_conflicts(store: EventStore, stream_id: str) -> None:
    """The one-event fast path keeps the batch path's guarantees."""
    first = event()
    recorded = await store.append(stream_id, 0, [first])
    await store.append(stream_id, 1, [event()])

    retry = await store.append(stream_id, 0, [first])
    assert retry == AppendResult(stream_id, 1, 1, recorded.positions, already_recorded=True)

    changed = NewEvent(first.event_id, first.event_type, 1, {"n": 99}, first.metadata)
    with pytest.raises(IdempotencyConflict) as caught:
        await store.append(stream_id, 0, [changed])
    assert caught.value.event_id == first.event_id
    with pytest.raises(IdempotencyConflict) as caught:  # passes the head check, hits the index
        await store.append(stream_id, 2, [first])
    assert caught.value.event_id == first.event_id
    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append(stream_id, 1, [event()])
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert await count_rows(store, stream_id) == (2, 1)
    assert (await store.verify(stream_id)).ok


async def test_one_and_many_event_appends_chain_alike(store: EventStore, stream_id: str) -> None:
    await store.append(stream_id, 0, [event()])
    await store.append(stream_id, 1, [event(), event()])
    await store.append(stream_id, 3, [event()])
    recorded = await store.read_stream(stream_id)
    assert [e.version for e in recorded] == [1, 2, 3, 4]
    prev = GENESIS_HASH
    for e in recorded:
        assert e.prev_hash == prev
        assert e.hash == chain_hash(prev, e.content_digest, e.position, e.recorded_at)
        prev = e.hash
    assert (await store.heads()) and (await store.verify(stream_id)).ok


async def test_idle_connections_go_back_to_the_pool(database_url: str, stream_id: str) -> None:
    """The store keeps a connection for an immediate next call only, never starves others."""
    async with await EventStore.connect(database_url, min_size=1, max_size=1) as small:
        # Back to back. The pool's only connection is in use during each call, so the pool is
        # exhausted and the connection goes back every time (a larger pool keeps it instead).
        for version in range(3):
            await small.append(stream_id, version, [event()])
        # Another user of the pool gets the single connection once the loop turns.
        async with small.pool.acquire() as conn:
            assert await conn.fetchval("SELECT 1") == 1
        # A caller holding a pool connection can still call the store (it waits, then runs).
        holder = await small.pool.acquire()
        pending = asyncio.ensure_future(small.stream_version(stream_id))
        await asyncio.sleep(0.05)
        assert not pending.done()
        await small.pool.release(holder)
        assert await asyncio.wait_for(pending, 5) == 3
        # Cancelled mid-call: the connection goes back to the pool, usable again.
        slow = asyncio.ensure_future(small.append(f"{stream_id}-x", 0, [event()]))
        await asyncio.sleep(0)
        slow.cancel()
        with suppress(asyncio.CancelledError):
            await slow
        assert await asyncio.wait_for(small.stream_version(stream_id), 5) == 3
        await asyncio.sleep(0)
        assert small.pool.get_idle_size() == 1


async def test_callers_looping_on_the_store_take_turns(database_url: str, stream_id: str) -> None:
    """Keeping a connection for the next call never starves a caller waiting for one."""
    async with await EventStore.connect(database_url, min_size=1, max_size=1) as small:
        order: list[str] = []

        async def writer(name: str) -> None:
            for version in range(5):
                await small.append(f"{stream_id}-{name}", version, [event()])
                order.append(name)

        await asyncio.gather(writer("a"), writer("b"))
        assert order.index("b") < order.index("a") + 4, order  # b did not wait for all of a
        async with small.pool.acquire() as conn:  # and the connection is back in the pool
            assert await conn.fetchval("SELECT 1") == 1


async def test_data_the_database_refuses_is_a_final_error(database_url: str) -> None:
    """A NUL character cannot be stored in jsonb: a typed, non-retryable rejection."""
    from store import EventStore, RejectedByDatabase

    async with await EventStore.connect(database_url) as store:
        stream = f"nul-{uuid.uuid4().hex[:8]}"
        bad = event(venue="Baku\u0000")
        with pytest.raises(RejectedByDatabase) as caught:
            await store.append(stream, 0, [bad])
        assert caught.value.sqlstate.startswith("22")
        assert await store.stream_version(stream) == 0
