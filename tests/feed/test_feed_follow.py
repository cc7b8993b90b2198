"""Following the feed live: every event exactly once, in feed order, woken by NOTIFY."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable

import asyncpg
import pytest

from store import EventStore, RecordedEvent
from store.feed import FEED_CHANNEL, FOLLOWER_LOCK, subscribe
from tests.feed.feed_support import consent, feed_from, feed_head, write_concurrently


async def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.mark.timeout(60)
async def test_follower_sees_concurrent_writers_exactly_once_in_feed_order(
    store: EventStore, database_url: str
) -> None:
    """6 writers x 150 appends to 40 streams, 10% of them held open 0.2-0.8 s before
    committing, while a follower tails the feed: it sees each event once, each stream in
    version order, in exactly the order the finished feed has."""
    run = uuid.uuid4().hex[:8]
    streams = [f"coop-feed-{run}-{i}" for i in range(40)]
    start = await feed_head(store)
    seen: list[RecordedEvent] = []

    async def follow() -> None:
        async with subscribe(store, start, follow=True, batch_size=50, poll_interval=1.0) as feed:
            async for event in feed:
                seen.append(event)

    follower = asyncio.create_task(follow())
    committed = await write_concurrently(
        store,
        database_url,
        streams,
        writers=6,
        appends=150,
        late_share=0.1,
        hold=(0.2, 0.8),
        seed=11,
    )
    expected = {event_id for event_id, _ in committed}
    await wait_until(lambda: expected <= {e.event_id for e in seen}, 20, "the follower")
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower

    mine = [e for e in seen if e.stream_id.startswith(f"coop-feed-{run}-")]
    assert len(mine) == len(committed) == 900
    assert {e.event_id for e in mine} == expected  # none missing, none repeated
    by_stream: dict[str, list[int]] = defaultdict(list)
    for e in mine:
        by_stream[e.stream_id].append(e.version)
    assert all(v == list(range(1, len(v) + 1)) for v in by_stream.values())
    # The live follower saw what a reader of the finished feed sees, in the same order.
    assert [e.position for e in seen] == [e.position for e in await feed_from(store, start)]
    # Commits really came out of position order: a reader following positions would have
    # passed some events before they committed, and never seen them.
    commit_order = [position for _, position in committed]
    overtaken = sum(1 for i, p in enumerate(commit_order) if p < max(commit_order[: i or 1]))
    print(f"{overtaken} of 900 events committed after a higher position had")
    assert overtaken > 0


@pytest.mark.timeout(60)
async def test_a_notification_wakes_the_follower_long_before_its_poll(
    store: EventStore,
) -> None:
    """With a 3 s poll, appends to a quiet feed still reach the follower in milliseconds."""
    run = uuid.uuid4().hex[:8]
    arrived: dict[uuid.UUID, float] = {}

    async def follow() -> None:
        head = await feed_head(store)
        async with subscribe(store, head, follow=True, poll_interval=3.0) as feed:
            async for event in feed:
                arrived[event.event_id] = time.monotonic()

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.5)  # subscribed and waiting
    delays = []
    for i in range(8):
        await asyncio.sleep(0.4)  # quiet for longer than _QUIET: the follower is armed
        new = consent("mfa")
        sent = time.monotonic()
        await store.append(f"coop-wake-{run}-{i}", 0, [new])
        await wait_until(lambda: new.event_id in arrived, 30, "the event")  # noqa: B023
        delays.append(arrived[new.event_id] - sent)
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    print(f"wake-up delays (ms): {[round(d * 1000) for d in delays]}")
    # Median: another session's long write transaction anywhere in the cluster can hold
    # one event back until the poll.
    assert statistics.median(delays) < 1.0


@pytest.mark.timeout(60)
async def test_a_lost_wakeup_only_delays_until_the_poll(
    store: EventStore, database_url: str
) -> None:
    """An unrelated write transaction holds the feed back when the notification comes and
    ends without notifying anybody: the follower looks again by itself and gets the event."""
    run = uuid.uuid4().hex[:8]
    seen: list[RecordedEvent] = []
    head = await feed_head(store)

    async def follow() -> None:
        async with subscribe(store, head, follow=True, poll_interval=2.0) as feed:
            async for event in feed:
                seen.append(event)

    follower = asyncio.create_task(follow())
    blocker = await asyncpg.connect(database_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.fetchval("SELECT pg_current_xact_id()")  # a writer's xid, below ours
        new = consent("mfa")
        await store.append(f"coop-lost-{run}", 0, [new])
        await asyncio.sleep(1.25)
        assert new.event_id not in {e.event_id for e in seen}  # notified, but held back
        await tx.rollback()  # no insert, so no notification
        released = time.monotonic()
        await wait_until(lambda: new.event_id in {e.event_id for e in seen}, 20, "the poll")
        print(f"delivered {time.monotonic() - released:.2f} s after the blocker ended")
    finally:
        await blocker.close()
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower


async def test_appends_notify_only_while_a_follower_holds_the_lock(
    store: EventStore, database_url: str
) -> None:
    """Notifying serialises commits cluster-wide, so nobody listening means no NOTIFY."""
    run = uuid.uuid4().hex[:8]
    listener = await asyncpg.connect(database_url)
    got: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(FEED_CHANNEL, lambda *args: got.put_nowait(args[2]))
    try:
        await store.append(f"coop-quiet-{run}", 0, [consent("mfa")])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(got.get(), 0.5)

        await listener.execute("SELECT pg_advisory_lock_shared($1)", FOLLOWER_LOCK)
        await store.append(f"coop-loud-{run}", 0, [consent("mfa")])
        assert await asyncio.wait_for(got.get(), 5) == FEED_CHANNEL
    finally:
        await listener.close()


async def test_a_busy_follower_does_not_make_appends_notify(
    store: EventStore, database_url: str
) -> None:
    """While events keep coming the follower polls every 50 ms unarmed, so appends skip
    the NOTIFY (and its cluster-wide commit serialisation); it arms once the feed is quiet."""
    run = uuid.uuid4().hex[:8]
    notified = 0

    def count(*_: object) -> None:
        nonlocal notified
        notified += 1

    listener = await asyncpg.connect(database_url)  # listens, never holds the lock
    await listener.add_listener(FEED_CHANNEL, count)
    seen: list[RecordedEvent] = []

    async def follow() -> None:
        async with subscribe(store, await feed_head(store), follow=True) as feed:
            async for event in feed:
                seen.append(event)

    follower = asyncio.create_task(follow())
    try:
        await asyncio.sleep(0.5)  # quiet: armed
        for version in range(150):
            await store.append(f"coop-busy-{run}", version, [consent("mfa")])
            await asyncio.sleep(0.01)
        await wait_until(lambda: len(seen) == 150, 20, "the follower")
        print(f"150 appends, {notified} notified")
        assert notified < 15
    finally:
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower
        await listener.close()


async def follower_locks(store: EventStore) -> int:
    count = await store.pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
        " AND classid::bigint = $1 AND objid::bigint = $2"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        FOLLOWER_LOCK >> 32,
        FOLLOWER_LOCK & 0xFFFFFFFF,
    )
    return int(count)


async def test_a_follower_holds_the_lock_only_while_it_waits(store: EventStore) -> None:
    """Appends notify only while a follower waits; the pool does not reset sessions, so
    the follower must release the lock (and UNLISTEN) itself."""
    async with subscribe(store, await feed_head(store), follow=True, poll_interval=0.1) as feed:
        assert await follower_locks(store) == 0  # not waiting yet
        waiting = asyncio.ensure_future(anext(aiter(feed)))
        await asyncio.sleep(0.3)
        assert await follower_locks(store) == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert await follower_locks(store) == 0
