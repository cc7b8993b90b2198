"""Group commit: concurrent single-event appends share a transaction, each keeping its own
concurrency check, idempotency and error."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import asyncpg
import pytest

from store import ConcurrencyConflict, EventStore, IdempotencyConflict, NewEvent
from tests.store.store_support import drain, event


async def appended_together(
    store: EventStore, calls: list[tuple[str, int, NewEvent]]
) -> list[object]:
    """Start every append in the same loop turn (the first goes alone, the rest queue
    behind it and form one group); return results or exceptions in call order."""
    group = store.group_commit
    assert group is not None
    before = group.groups_sent
    results = await asyncio.gather(
        *(store.append(s, v, [e]) for s, v, e in calls), return_exceptions=True
    )
    assert group.groups_sent > before, "the appends were not grouped"
    return list(results)


async def test_concurrent_writers_are_grouped_and_chained(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    streams = [f"group-{run}-{i}" for i in range(24)]
    group = store.group_commit
    assert group is not None
    before = group.groups_sent

    async def writer(stream: str) -> None:
        for version in range(15):
            result = await store.append(stream, version, [event(stream=stream, v=version)])
            assert (result.first_version, result.already_recorded) == (version + 1, False)

    await asyncio.gather(*(writer(s) for s in streams))

    assert group.groups_sent > before
    for stream in streams:
        recorded = await store.read_stream(stream)
        assert [e.version for e in recorded] == list(range(1, 16))
        assert [e.data["v"] for e in recorded] == list(range(15))
        report = await store.verify(stream)
        assert report.breaks == []


async def test_each_item_keeps_its_own_outcome(store: EventStore) -> None:
    run = uuid.uuid4().hex[:8]
    ok, moved, retried, stolen, fresh = (f"outcome-{run}-{k}" for k in range(5))
    await store.append(ok, 0, [event()])
    await store.append(moved, 0, [event()])
    await store.append(moved, 1, [event()])
    first = event()
    original = await store.append(retried, 0, [first])
    elsewhere = event()
    await store.append(f"outcome-{run}-other", 0, [elsewhere])
    await store.append(stolen, 0, [event()])

    results = await appended_together(
        store,
        [
            (ok, 1, event()),  # written
            (moved, 1, event()),  # the stream is at 2: conflict
            (retried, 0, first),  # the same append again: already recorded
            (stolen, 1, NewEvent(elsewhere.event_id, "T", 1, {"x": 1}, elsewhere.metadata)),
            (fresh, 0, event()),  # a new stream, written
        ],
    )

    assert results[0].first_version == 2 and not results[0].already_recorded  # type: ignore[attr-defined]
    assert isinstance(results[1], ConcurrencyConflict) and results[1].actual == 2
    assert results[2].already_recorded  # type: ignore[attr-defined]
    assert results[2].positions == original.positions  # type: ignore[attr-defined]
    assert isinstance(results[3], IdempotencyConflict)
    assert results[4].first_version == 1  # type: ignore[attr-defined]
    assert [e.version for e in await store.read_stream(ok)] == [1, 2]
    assert [e.version for e in await store.read_stream(moved)] == [1, 2]
    assert [e.version for e in await store.read_stream(retried)] == [1]
    assert [e.version for e in await store.read_stream(stolen)] == [1]
    assert [e.version for e in await store.read_stream(fresh)] == [1]


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


async def test_a_cancelled_caller_is_dropped_before_its_group_is_sent(store: EventStore) -> None:
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
    done = asyncio.Event()

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

    seen = []

    async def reader() -> None:
        checkpoint = start
        while True:
            finished = done.is_set()
            batch = await store.read_all(after_position=checkpoint, limit=40)
            seen.extend(batch)
            if batch:
                checkpoint = batch[-1].position
            elif finished and set(written) <= {e.event_id for e in seen}:
                return
            else:
                await asyncio.sleep(0.005)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(n) for n in range(12)))
    done.set()
    await asyncio.wait_for(reading, timeout=60)

    mine = [e for e in seen if e.stream_id.startswith(f"gfeed-{run}-")]
    assert sorted(e.event_id for e in mine) == sorted(written)
    versions: dict[str, list[int]] = defaultdict(list)
    for e in mine:
        versions[e.stream_id].append(e.version)
    for stream, order in versions.items():
        assert order == list(range(1, len(order) + 1)), stream
    assert (await store.verify()).breaks == []


async def test_the_group_function_refuses_malformed_groups(store: EventStore) -> None:
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError) as raised:
            await conn.fetchval(
                "SELECT accord.append_event_group(ARRAY['s','s'], ARRAY[0,0],"
                " ARRAY[gen_random_uuid(), gen_random_uuid()], ARRAY['T','T'], ARRAY[1,1],"
                " ARRAY['{}'::jsonb,'{}'::jsonb], ARRAY[NULL::jsonb,NULL],"
                " ARRAY[current_date, current_date], ARRAY[NULL::text,NULL],"
                " ARRAY[NULL::text,NULL], ARRAY[NULL::text,NULL], ARRAY[NULL::text,NULL],"
                " ARRAY['\\x00'::bytea,'\\x00'])"
            )
        assert raised.value.sqlstate == "AC003"
