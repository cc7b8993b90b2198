"""Group commit: concurrent single-event appends share a transaction, each keeping its own
concurrency check, idempotency and error."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from store import ConcurrencyConflict, EventStore, IdempotencyConflict, NewEvent, StoreError
from store.append import append_events
from store.eventstore import _init_connection
from store.group_commit import GroupCommit
from tests.store.store_support import (
    assert_each_stream_in_version_order,
    drain,
    event,
    follow_feed,
)


def commit_of(store: EventStore) -> GroupCommit:
    group = store.group_commit
    assert group is not None
    return group


async def appended_together(
    store: EventStore, calls: list[tuple[str, int, NewEvent]]
) -> list[object]:
    """Start a throwaway append (it goes alone) and then every call in the same loop turn
    (they queue behind it and form one group); return results or exceptions in call order."""
    group = commit_of(store)
    before = group.groups_sent
    lead = asyncio.ensure_future(store.append(f"lead-{uuid.uuid4().hex[:12]}", 0, [event()]))
    await asyncio.sleep(0)
    results = await asyncio.gather(
        *(store.append(s, v, [e]) for s, v, e in calls), return_exceptions=True
    )
    await lead
    assert group.groups_sent > before, "the appends were not grouped"
    return list(results)


async def test_concurrent_writers_are_grouped_and_chained(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    streams = [f"group-{run}-{i}" for i in range(24)]
    group = commit_of(store)
    before = group.grouped_appends

    async def writer(stream: str) -> None:
        for version in range(15):
            result = await store.append(stream, version, [event(stream=stream, v=version)])
            assert (result.first_version, result.already_recorded) == (version + 1, False)

    await asyncio.gather(*(writer(s) for s in streams))

    assert group.grouped_appends - before > 200  # most of the 360 went in groups
    for stream in streams:
        recorded = await store.read_stream(stream)
        assert [e.version for e in recorded] == list(range(1, 16))
        assert [e.data["v"] for e in recorded] == list(range(15))
        report = await store.verify(stream)
        assert report.breaks == []


async def test_items_the_group_does_not_write_get_their_own_outcome(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    ok, moved, retried, fresh = (f"outcome-{run}-{k}" for k in range(4))
    await store.append(ok, 0, [event()])
    await store.append(moved, 0, [event()])
    await store.append(moved, 1, [event()])
    first = event()
    original = await store.append(retried, 0, [first])
    group = commit_of(store)
    written, replayed = group.grouped_appends, group.replayed_alone

    results = await appended_together(
        store,
        [
            (ok, 1, event()),  # written by the group
            (moved, 1, event()),  # the stream is at 2: 0 from the group, then a conflict
            (retried, 0, first),  # the same append again: 0, then already recorded
            (fresh, 0, event()),  # a new stream, written by the group
        ],
    )

    assert group.grouped_appends - written == 2 and group.replayed_alone - replayed == 2
    assert results[0].first_version == 2 and not results[0].already_recorded  # type: ignore[attr-defined]
    assert isinstance(results[1], ConcurrencyConflict) and results[1].actual == 2
    assert results[2].already_recorded  # type: ignore[attr-defined]
    assert results[2].positions == original.positions  # type: ignore[attr-defined]
    assert results[3].first_version == 1  # type: ignore[attr-defined]
    recorded = await store.read_stream(ok)
    assert [e.version for e in recorded] == [1, 2]
    assert recorded[1].position == results[0].positions[0]  # type: ignore[attr-defined]
    assert [e.version for e in await store.read_stream(moved)] == [1, 2]
    assert [e.version for e in await store.read_stream(retried)] == [1]
    assert [e.version for e in await store.read_stream(fresh)] == [1]
    # One transaction for the group: both events it wrote carry the same xid.
    assert recorded[1].tx_id == (await store.read_stream(fresh))[0].tx_id


async def test_a_group_refused_as_a_whole_is_replayed_item_by_item(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    ok, stolen = f"whole-{run}-ok", f"whole-{run}-stolen"
    elsewhere = event()
    await store.append(f"whole-{run}-other", 0, [elsewhere])
    await store.append(stolen, 0, [event()])
    group = commit_of(store)
    replayed = group.replayed_alone

    results = await appended_together(
        store,
        [
            (ok, 0, event()),
            # An id recorded on another stream: the group's INSERT fails on the unique index.
            (stolen, 1, NewEvent(elsewhere.event_id, "T", 1, {"x": 1}, elsewhere.metadata)),
            (f"whole-{run}-new", 0, event()),
        ],
    )

    assert group.replayed_alone - replayed == 3
    assert results[0].first_version == 1  # type: ignore[attr-defined]
    assert isinstance(results[1], IdempotencyConflict)
    assert results[2].first_version == 1  # type: ignore[attr-defined]
    assert [e.version for e in await store.read_stream(stolen)] == [1]


async def test_a_callers_bad_event_fails_only_that_caller(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    bad = event()
    bad = NewEvent(bad.event_id, "T", 1, {"x": float("nan")}, bad.metadata)
    results = await appended_together(
        store,
        [
            (f"client-{run}-a", 0, event()),
            (f"client-{run}-b", 0, bad),
            (f"client-{run}-c", 0, event()),
        ],
    )
    assert isinstance(results[1], ValueError)
    assert results[0].first_version == results[2].first_version == 1  # type: ignore[attr-defined]
    assert await store.read_stream(f"client-{run}-b") == []


@pytest.mark.parametrize("holder_commits", [False, True], ids=["rolled-back", "committed"])
async def test_a_locked_head_delays_only_its_own_append(
    store: EventStore, database_url: str, holder_commits: bool
) -> None:
    """Another transaction is appending to two streams: appends to them wait (one alone, one
    skipped by its group and replayed alone); appends to other streams go on meanwhile."""
    run = uuid.uuid4().hex[:8]
    locked = [f"locked-{run}-{k}" for k in range(2)]
    free = f"locked-{run}-free"
    for stream in [*locked, free]:
        await store.append(stream, 0, [event()])
    holder = await asyncpg.connect(database_url)
    await _init_connection(holder)
    tx = holder.transaction()
    await tx.start()
    try:
        for stream in locked:  # holds both heads locked until it ends
            await append_events(holder, stream, 1, [event()])
        group = commit_of(store)
        replayed = group.replayed_alone
        waiting_alone = asyncio.ensure_future(store.append(locked[0], 1, [event()]))
        await asyncio.sleep(0.2)  # blocked in PostgreSQL, alone
        waiting_in_group = asyncio.ensure_future(store.append(locked[1], 1, [event()]))
        others = asyncio.gather(
            store.append(free, 1, [event()]),
            *(store.append(f"locked-{run}-new-{k}", 0, [event()]) for k in range(3)),
        )
        done = await asyncio.wait_for(others, timeout=10)
        assert [r.first_version for r in done] == [2, 1, 1, 1]
        assert group.replayed_alone - replayed == 1  # the locked head, skipped by its group
        assert not waiting_alone.done() and not waiting_in_group.done()
        await (tx.commit() if holder_commits else tx.rollback())
        outcomes = await asyncio.wait_for(
            asyncio.gather(waiting_alone, waiting_in_group, return_exceptions=True), timeout=10
        )
        if holder_commits:
            assert all(isinstance(o, ConcurrencyConflict) for o in outcomes), outcomes
        else:
            assert [o.first_version for o in outcomes] == [2, 2]  # type: ignore[union-attr]
    finally:
        if holder.is_in_transaction():  # an assertion failed first
            await tx.rollback()
        await holder.close()
    for stream in locked:
        assert [e.version for e in await store.read_stream(stream)] == [1, 2]


async def test_close_waits_for_queued_appends(database_url: str) -> None:
    store = await EventStore.connect(database_url)
    run = uuid.uuid4().hex[:8]
    calls = [
        asyncio.ensure_future(store.append(f"close-{run}-{k}", 0, [event()])) for k in range(6)
    ]
    await asyncio.sleep(0)  # one is being written alone, five are queued
    await store.close()
    results = await asyncio.gather(*calls)
    assert [r.first_version for r in results] == [1] * 6


async def test_an_interrupted_group_tells_its_callers_and_the_store_goes_on(
    store: EventStore,
) -> None:
    run = uuid.uuid4().hex[:8]
    group = commit_of(store)
    lead = asyncio.ensure_future(store.append(f"cut-{run}-lead", 0, [event()]))
    await asyncio.sleep(0)
    queued = [asyncio.ensure_future(store.append(f"cut-{run}-{k}", 0, [event()])) for k in range(3)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the group's write has started
    writes = [t for t in group._tasks if not t.done()]
    assert writes, "no group write in flight"
    for task in writes:
        task.cancel()
    outcomes = await asyncio.gather(*queued, return_exceptions=True)
    await lead
    for outcome in outcomes:  # written or not: the caller is told, and may retry
        assert isinstance(outcome, StoreError) and "outcome unknown" in str(outcome), outcome
    result = await asyncio.wait_for(store.append(f"cut-{run}-after", 0, [event()]), timeout=5)
    assert result.first_version == 1


async def test_one_stream_twice_in_flight_one_wins(store: EventStore) -> None:
    stream = f"twice-{uuid.uuid4().hex[:8]}"
    await store.append(stream, 0, [event()])
    other = f"twice-other-{uuid.uuid4().hex[:8]}"
    # The first call goes alone; the other three queue: two of them name the same stream.
    results = await appended_together(
        store,
        [
            (other, 0, event()),
            (stream, 1, event()),
            (stream, 1, event()),
            (other + "x", 0, event()),
        ],
    )
    outcomes = [type(r).__name__ for r in results[1:3]]
    assert sorted(outcomes) == ["AppendResult", "ConcurrencyConflict"]
    assert [e.version for e in await store.read_stream(stream)] == [1, 2]


async def test_data_the_database_refuses_fails_only_its_own_append(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    bad = event()
    bad = NewEvent(bad.event_id, "T", 1, {"text": "nul \u0000 inside"}, bad.metadata)
    results = await appended_together(
        store,
        [
            (f"refuse-{run}-a", 0, event()),
            (f"refuse-{run}-b", 0, event()),
            (f"refuse-{run}-c", 0, bad),
            (f"refuse-{run}-d", 0, event()),
        ],
    )
    assert isinstance(results[2], Exception)
    for k in "abd":
        assert [e.version for e in await store.read_stream(f"refuse-{run}-{k}")] == [1]
    assert await store.read_stream(f"refuse-{run}-c") == []


async def test_a_cancelled_caller_is_dropped_before_its_group_forms(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    first = asyncio.ensure_future(store.append(f"cancel-{run}-a", 0, [event()]))
    queued = asyncio.ensure_future(store.append(f"cancel-{run}-b", 0, [event()]))
    kept = asyncio.ensure_future(store.append(f"cancel-{run}-c", 0, [event()]))
    await asyncio.sleep(0)  # all three started; the first is being written alone
    queued.cancel()
    await asyncio.gather(first, kept)
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await store.read_stream(f"cancel-{run}-b") == []
    assert [e.version for e in await store.read_stream(f"cancel-{run}-c")] == [1]


async def test_grouped_appends_reach_the_feed_once_in_stream_order(
    store: EventStore, database_url: str
) -> None:
    """Grouped writers on shared streams (conflicts and retries included) while a reader
    follows the feed: each event once, each stream in version order."""
    run = uuid.uuid4().hex[:8]
    _, start = await drain(store, 0)
    written: list[uuid.UUID] = []

    async def writer(n: int) -> None:
        for i in range(60):
            stream = f"gfeed-{run}-{(n + i) % 5}"
            new = event(writer=n, i=i)
            while True:
                try:
                    await store.append(stream, await store.stream_version(stream), [new])
                    break
                except ConcurrencyConflict:
                    continue
            written.append(new.event_id)

    grouped = commit_of(store).grouped_appends
    seen = await follow_feed(
        store, start, asyncio.gather(*(writer(n) for n in range(12))), written, limit=40
    )

    assert commit_of(store).grouped_appends > grouped  # the writers did go in groups
    mine = [e for e in seen if e.stream_id.startswith(f"gfeed-{run}-")]
    assert sorted(e.event_id for e in mine) == sorted(written)
    assert_each_stream_in_version_order(mine)
    assert (await store.verify()).breaks == []


async def test_the_group_function_refuses_malformed_groups(store: EventStore) -> None:
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError) as raised:
            await conn.fetchval(
                "SELECT accord.append_event_group(ARRAY['s','s'], ARRAY[0,0],"
                " ARRAY[gen_random_uuid(), gen_random_uuid()], ARRAY['T','T'], ARRAY[1,1],"
                " ARRAY['{}'::jsonb,'{}'::jsonb], ARRAY[NULL::jsonb,NULL],"
                " ARRAY['2021-11', '2021-11'], ARRAY[NULL::text,NULL],"
                " ARRAY[NULL::text,NULL], ARRAY[NULL::text,NULL], ARRAY[NULL::text,NULL],"
                " ARRAY['\\x00'::bytea,'\\x00'])"
            )
        assert raised.value.sqlstate == "AC003"
