"""Checkpointed consumers: the consumer's writes and its checkpoint commit together, so a
crash at any moment neither loses nor repeats an event."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from store import EventStore, RecordedEvent
from store.embedded import project_root
from store.feed import (
    CheckpointConflict,
    ConsumerConnection,
    Handler,
    consume,
    read_checkpoint,
    subscribe,
)
from tests.feed.feed_support import consent, feed_from, feed_head, write_concurrently
from tests.feed.seen_consumer import SCHEMA


@pytest.fixture
async def seen_tables(store: EventStore) -> AsyncIterator[None]:
    await store.pool.execute(SCHEMA)
    yield


async def seen_positions(store: EventStore, consumer: str) -> list[int]:
    rows = await store.pool.fetch(
        "SELECT position FROM feed_test.seen WHERE consumer = $1 ORDER BY seq", consumer
    )
    return [r["position"] for r in rows]


async def record_seen(conn: ConsumerConnection, consumer: str, event: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO feed_test.seen (consumer, position, event_id) VALUES ($1, $2, $3)",
        consumer,
        event.position,
        event.event_id,
    )


async def test_a_batch_that_fails_commits_neither_writes_nor_checkpoint(
    store: EventStore, seen_tables: None
) -> None:
    consumer = f"calendar-{uuid.uuid4().hex[:8]}"
    start = await feed_head(store)
    stream = f"coop-consume-{consumer}"
    for version in range(10):
        await store.append(stream, version, [consent("mfa")])
    feed = [e.position for e in await feed_from(store, start)]
    calls = 0

    async def crashes_on_the_seventh(conn: ConsumerConnection, event: RecordedEvent) -> None:
        nonlocal calls
        calls += 1
        await record_seen(conn, consumer, event)
        if calls == 7:
            raise RuntimeError("consumer crashed")

    with pytest.raises(RuntimeError):
        await consume(
            store, consumer, crashes_on_the_seventh, follow=False, start_after=start, batch_size=4
        )
    # Batch 1 (events 1-4) committed; batch 2 failed at event 7: nothing of it remains.
    assert await seen_positions(store, consumer) == feed[:4]
    assert await read_checkpoint(store.pool, consumer) == feed[3]

    async def handles(conn: ConsumerConnection, event: RecordedEvent) -> None:
        await record_seen(conn, consumer, event)

    assert await consume(store, consumer, handles, follow=False, batch_size=4) == feed[-1]
    assert await seen_positions(store, consumer) == feed


async def test_a_second_instance_of_a_consumer_is_refused(
    store: EventStore, seen_tables: None
) -> None:
    """Two instances of one consumer would each handle the same events: the one whose
    checkpoint moved under it stops with CheckpointConflict, having handled nothing."""
    consumer = f"calendar-{uuid.uuid4().hex[:8]}"
    start = await feed_head(store)
    handled: dict[str, int] = {"first": 0, "second": 0}

    def counting(instance: str) -> Handler:
        async def handle(conn: ConsumerConnection, event: RecordedEvent) -> None:
            handled[instance] += 1
            await record_seen(conn, consumer, event)

        return handle

    first = asyncio.create_task(
        consume(
            store, consumer, counting("first"), start_after=start, poll_interval=2, listen=False
        )
    )
    deadline = time.monotonic() + 10
    while await read_checkpoint(store.pool, consumer) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the first instance has read the (empty) feed and sleeps
    for version in range(3):
        await store.append(f"coop-twice-{consumer}", version, [consent("mfa")])
    await consume(store, consumer, counting("second"), follow=False)

    with pytest.raises(CheckpointConflict):
        await asyncio.wait_for(first, 10)
    assert handled == {"first": 0, "second": 3}
    assert len(await seen_positions(store, consumer)) == 3


@pytest.mark.timeout(60)
async def test_a_consumer_killed_mid_feed_resumes_exactly_once(
    store: EventStore, database_url: str, seen_tables: None
) -> None:
    """A consumer process is SIGKILLed three times while writers keep appending (some
    commits late) and restarted each time: every event is handled exactly once, in feed
    order, and none is missing; batches cut short by a kill were redone."""
    run = uuid.uuid4().hex[:8]
    consumer = f"seen-{run}"
    streams = [f"coop-kill-{run}-{i}" for i in range(20)]
    start = await feed_head(store)
    for i in range(300):  # a backlog to catch up on
        stream = streams[i % 20]
        await store.append(stream, i // 20, [consent("mfa")])
    processes: list[asyncio.subprocess.Process] = []

    async def start_consumer() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.feed.seen_consumer",
            database_url,
            consumer,
            str(start),
            cwd=project_root(),
        )
        processes.append(process)
        return process

    async def until_seen(count: int) -> None:
        deadline = time.monotonic() + 40
        while len(await seen_positions(store, consumer)) < count:
            assert time.monotonic() < deadline, f"consumer stuck before {count} events"
            await asyncio.sleep(0.05)

    writing = asyncio.create_task(
        write_concurrently(
            store,
            database_url,
            [f"coop-kill-{run}-live-{i}" for i in range(10)],
            writers=4,
            appends=100,
            late_share=0.1,
            hold=(0.1, 0.5),
            seed=5,
        )
    )
    try:
        for threshold in (100, 300, 500):
            process = await start_consumer()
            await until_seen(threshold)
            process.kill()  # SIGKILL: no cleanup, most likely inside a batch transaction
            await process.wait()
        committed = await writing
        written = {event_id for event_id, _ in committed}
        deadline = time.monotonic() + 20
        feed = await feed_from(store, start)
        while not written <= {e.event_id for e in feed}:
            assert time.monotonic() < deadline, "the feed did not deliver the writes"
            await asyncio.sleep(0.05)
            feed = await feed_from(store, start)
        await start_consumer()
        await until_seen(len(feed))
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()

    seen = await seen_positions(store, consumer)
    assert len(feed) == 700
    assert seen == [e.position for e in feed]  # exactly once, in feed order, none missing
    assert await read_checkpoint(store.pool, consumer) == feed[-1].position
    attempts = await store.pool.fetchval(
        "SELECT count(*) FROM feed_test.attempts WHERE consumer = $1", consumer
    )
    print(f"700 events, {attempts} handler calls: {attempts - 700} redone after kills")
    assert attempts > len(seen)  # some kill landed inside a batch, which was redone


async def test_the_app_role_can_follow_and_keep_checkpoints(
    store: EventStore, database_url: str
) -> None:
    """What a deployed service has: a login role in accord_app, nothing else."""
    run = uuid.uuid4().hex[:8]
    login = f"accord_feed_{run}"
    password = uuid.uuid4().hex  # every login but the set-up superuser needs a password
    await store.pool.execute(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE accord_app")
    try:
        url = database_url.replace("postgres@", f"{login}:{password}@", 1)
        async with await EventStore.connect(url, min_size=1, max_size=3) as app:
            start = await feed_head(app)
            async with subscribe(app, start, follow=True, poll_interval=5) as feed:
                await app.append(f"coop-app-{run}", 0, [consent("mfa")])  # notifies
                first = await asyncio.wait_for(anext(aiter(feed)), 10)
            handled: list[int] = []

            async def handle(conn: ConsumerConnection, event: RecordedEvent) -> None:
                handled.append(event.position)

            last = await consume(app, f"app-{run}", handle, follow=False, start_after=start)
            assert handled == [first.position] and last == first.position
            assert await read_checkpoint(app.pool, f"app-{run}") == first.position
    finally:
        await store.pool.execute(f"DROP ROLE {login}")


async def test_handlers_plan_as_postgresql_does_not_as_the_store(store: EventStore) -> None:
    """The store's sessions force generic plans and no seq scans for its own queries; a
    consumer's handler, on such a connection, gets PostgreSQL's defaults for its batch."""
    consumer = f"planner-{uuid.uuid4().hex[:8]}"
    start = await feed_head(store)
    await store.append(f"coop-consume-{consumer}", 0, [consent("mfa")])
    seen: list[tuple[str, str]] = []

    async def shows_its_settings(conn: ConsumerConnection, event: RecordedEvent) -> None:
        seen.append(
            (
                await conn.fetchval("SHOW plan_cache_mode"),
                await conn.fetchval("SHOW enable_seqscan"),
            )
        )

    await consume(store, consumer, shows_its_settings, follow=False, start_after=start)
    assert seen and set(seen) == {("auto", "on")}
    async with store.pool.acquire() as conn:  # the batch's SET LOCAL ended with it
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        assert await conn.fetchval("SHOW enable_seqscan") == "off"
