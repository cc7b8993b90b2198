"""Following the global feed: catch-up subscriptions and checkpointed consumers.

`EventStore.read_all` is the truth (every event exactly once, in feed order, see
store/README.md). PostgreSQL LISTEN/NOTIFY only wakes a follower early; it also polls on a
timeout, so a lost notification delays it by at most `poll_interval`.

    async with subscribe(store, after=checkpoint, follow=True) as feed:
        async for event in feed:
            ...                      # feed.position is the last event handed out

    await consume(store, "mission-calendar", handler)   # handler(conn, event), exactly once
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeAlias

import asyncpg
from typing_extensions import TypedDict

from store.errors import StoreError
from store.eventstore import EventStore
from store.model import RecordedEvent

FEED_CHANNEL = "accord_events"
# Held shared by every follower waiting for new events: appends notify only while someone
# holds it (0004_feed_notify.sql explains the cost of notifying).
# PostgreSQL's defaults, for the consumer handler's transaction.
_HANDLER_PLANNING = "SET LOCAL plan_cache_mode = auto; SET LOCAL enable_seqscan = on"

FOLLOWER_LOCK = 0x4143434F52444645  # "ACCORDFE"
# Seconds. While events keep coming, a follower looks again every _SOON seconds instead of
# waiting for notifications; after _QUIET seconds without any it arms its wake-up.
_SOON = 0.05
_QUIET = 0.25

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What a consumer's handler writes on: a pooled connection, inside the batch transaction.
    ConsumerConnection: TypeAlias = PoolConnectionProxy[Any]
else:
    ConsumerConnection = asyncpg.pool.PoolConnectionProxy

Handler: TypeAlias = Callable[[ConsumerConnection, RecordedEvent], Awaitable[None]]


class CheckpointConflict(StoreError):
    """Another instance of the same consumer moved its checkpoint: two are running."""

    def __init__(self, consumer: str, expected: int, actual: int | None) -> None:
        super().__init__(
            f"consumer {consumer!r} is at position {actual}, not {expected}: "
            "another instance of it is running"
        )
        self.consumer = consumer
        self.expected = expected
        self.actual = actual


class _FeedEventKeys(TypedDict):
    """The keys every line of the feed has (`FeedEventJson`)."""

    position: int
    event_id: str
    stream_id: str
    version: int
    type: str
    schema_version: int
    # The business date as written (EDTF: 2022-04-04, 2021-11, 2021~, 2023-06-16/2025-03-10).
    occurred_on: str
    recorded_at: str
    actor: dict[str, Any] | None
    data: dict[str, Any]
    correlation_id: str | None
    causation_id: str | None
    workflow_id: str | None
    run_id: str | None


# `source` is declared in a `total=False` class rather than as `NotRequired[...]`: with
# postponed annotations the runtime would count it among `__required_keys__`.
class FeedEventJson(_FeedEventKeys, total=False):
    """One event of the feed as other services see it (`accord events --json`, one a line).

    The transaction id that orders the feed is deliberately absent: the only cursor a
    reader needs is `position`, the checkpoint to resume after.
    """

    # Where the fact is written ({title, publisher?, date?, locator?}); only when cited.
    source: dict[str, Any]


def feed_event_json(event: RecordedEvent) -> FeedEventJson:
    meta = event.metadata
    line: FeedEventJson = {
        "position": event.position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "version": event.version,
        "type": event.event_type,
        "schema_version": event.schema_version,
        "occurred_on": meta.occurred_on,
        "recorded_at": event.recorded_at.isoformat(),
        "actor": dict(meta.actor) if meta.actor is not None else None,
        "data": event.data,
        "correlation_id": meta.correlation_id,
        "causation_id": meta.causation_id,
        "workflow_id": meta.workflow_id,
        "run_id": meta.run_id,
    }
    if meta.source is not None:
        line["source"] = dict(meta.source)
    return line


class _Wakeup:
    """A pooled connection that LISTENs on the feed channel and flags each notification.

    It is *armed* -- holds the follower lock shared, so that appends notify -- only while
    its follower waits with nothing to read. A follower busy reading costs appenders
    nothing: a notifying commit is serialised with every other one in the cluster.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: ConsumerConnection | None = None
        self.armed = False
        self.flag = asyncio.Event()

    def _notified(self, *_: object) -> None:
        self.flag.set()

    async def open(self) -> None:
        self._conn = conn = await self._pool.acquire()
        try:
            await conn.add_listener(FEED_CHANNEL, self._notified)
        except BaseException:
            await self.close()
            raise

    async def arm(self) -> None:
        assert self._conn is not None
        # Appenders hold the lock exclusively for microseconds, so retry briefly; unarmed,
        # the follower merely relies on polling.
        for _ in range(20):
            if await self._conn.fetchval("SELECT pg_try_advisory_lock_shared($1)", FOLLOWER_LOCK):
                self.armed = True
                return
            await asyncio.sleep(0.001)

    async def disarm(self) -> None:
        if self.armed and self._conn is not None:
            await self._conn.execute("SELECT pg_advisory_unlock_shared($1)", FOLLOWER_LOCK)
            self.armed = False  # only now: if interrupted, close() unlocks again

    async def wait(self, within: float) -> bool:
        """True when notified within `within` seconds."""
        try:
            await asyncio.wait_for(self.flag.wait(), within)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            # The pool does not reset sessions (store.eventstore._keep_session): undo ours.
            if self.armed:
                await conn.execute("SELECT pg_advisory_unlock_shared($1)", FOLLOWER_LOCK)
                self.armed = False
            await conn.remove_listener(FEED_CHANNEL, self._notified)
        except Exception:
            conn.terminate()  # the server drops its LISTEN and lock with the session
        except BaseException:
            conn.terminate()
            raise
        finally:
            await self._pool.release(conn)


class Subscription:
    """The feed after a checkpoint, caught up and then (with `follow`) followed live.

    Use it as an async context manager; iterate events (`async for event in sub`) or
    batches (`sub.batches()`). `position` is the position of the last event handed out:
    store it as the checkpoint to resume after. Without `follow` it ends once caught up.
    """

    def __init__(
        self,
        store: EventStore,
        after: int = 0,
        *,
        follow: bool = False,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        listen: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._store = store
        self.position = after
        self._follow = follow
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wakeup = _Wakeup(store.pool) if follow and listen else None
        self._events_at = -math.inf  # when a read last returned events (monotonic)

    async def __aenter__(self) -> Self:
        if self._wakeup is not None:
            await self._wakeup.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._wakeup is not None:
            await self._wakeup.close()

    async def _next_batch(self) -> list[RecordedEvent]:
        """The events after `position`; following, waits until there are some."""
        wakeup = self._wakeup
        delay = 0.0
        try:
            while True:
                if wakeup is not None:
                    # Cleared before reading: a notification during the read wakes the wait.
                    wakeup.flag.clear()
                batch = await self._store.read_all(self.position, self._batch_size)
                if batch:
                    self._events_at = time.monotonic()
                    return batch
                if not self._follow:
                    return batch
                if wakeup is None:
                    await asyncio.sleep(self._poll_interval)
                elif not wakeup.armed:
                    if time.monotonic() - self._events_at < _QUIET:
                        # Events keep coming: look again shortly rather than make every
                        # append notify (which serialises commits).
                        await asyncio.sleep(_SOON)
                        continue
                    # Quiet: from now on appends notify. One that checked just before may
                    # still commit unannounced, so the first looks come soon after.
                    await wakeup.arm()
                    delay = _SOON
                elif await wakeup.wait(delay):
                    delay = _SOON
                else:
                    # Also after a notification whose commit the feed does not show yet
                    # (an older writing transaction anywhere in the cluster holds it back):
                    # look again soon, backing off to the poll interval.
                    delay = min(delay * 2, self._poll_interval)
        finally:
            if wakeup is not None:
                await wakeup.disarm()

    async def batches(self) -> AsyncIterator[list[RecordedEvent]]:
        while batch := await self._next_batch():
            self.position = batch[-1].position
            yield batch

    async def _events(self) -> AsyncIterator[RecordedEvent]:
        while batch := await self._next_batch():
            for event in batch:
                self.position = event.position
                yield event

    def __aiter__(self) -> AsyncIterator[RecordedEvent]:
        return self._events()


def subscribe(
    store: EventStore,
    after: int = 0,
    *,
    follow: bool = False,
    batch_size: int = 500,
    poll_interval: float = 1.0,
    listen: bool = True,
) -> Subscription:
    """`async with subscribe(store, after=N, follow=True) as feed: async for event in feed`.

    A listening follower (the default) is woken by NOTIFY when the feed is quiet, and
    reads every 50 ms while events keep coming; `listen=False` polls every
    `poll_interval` seconds and never makes appends notify (see 0004_feed_notify.sql).
    A listening follower holds one connection of the store's pool while it is open.
    """
    return Subscription(
        store,
        after,
        follow=follow,
        batch_size=batch_size,
        poll_interval=poll_interval,
        listen=listen,
    )


async def read_checkpoint(db: asyncpg.Connection | asyncpg.Pool, consumer: str) -> int | None:
    """The consumer's checkpoint (position of the last event it processed), None if new."""
    position = await db.fetchval(
        "SELECT position FROM accord.consumer_checkpoints WHERE consumer = $1", consumer
    )
    return None if position is None else int(position)


async def consume(
    store: EventStore,
    consumer: str,
    handler: Handler,
    *,
    follow: bool = True,
    start_after: int = 0,
    batch_size: int = 100,
    poll_interval: float = 1.0,
    listen: bool = True,
) -> int:
    """Hand every event after `consumer`'s checkpoint to `handler(conn, event)`, once.

    Each batch is one transaction on its own connection: whatever the handler writes on
    `conn` and the new checkpoint commit together or not at all, so a crash redelivers
    exactly the batch that did not commit. The feed is read on other connections between
    those transactions, never inside one (the consumer's own xid would hold the feed back).
    A new consumer starts after `start_after`. The checkpoint row is locked and checked
    in every batch, so a second instance of the same consumer fails with
    CheckpointConflict instead of processing events twice. Returns the last checkpoint
    (without `follow`, once caught up; with it, runs until cancelled).
    """
    pool = store.pool
    await pool.execute(
        "INSERT INTO accord.consumer_checkpoints (consumer, position) VALUES ($1, $2)"
        " ON CONFLICT (consumer) DO NOTHING",
        consumer,
        start_after,
    )
    checkpoint = await read_checkpoint(pool, consumer)
    assert checkpoint is not None  # inserted above, and checkpoints are never deleted here
    async with subscribe(
        store,
        checkpoint,
        follow=follow,
        batch_size=batch_size,
        poll_interval=poll_interval,
        listen=listen,
    ) as feed:
        async for batch in feed.batches():
            async with pool.acquire() as conn, conn.transaction():
                actual = await conn.fetchval(
                    "SELECT position FROM accord.consumer_checkpoints"
                    " WHERE consumer = $1 FOR UPDATE",
                    consumer,
                )
                if actual != checkpoint:
                    raise CheckpointConflict(consumer, checkpoint, actual)
                # The handler's queries are not the store's: PostgreSQL's own planning for
                # them, not the store sessions' (STORE_SESSION_SETTINGS), for this batch.
                await conn.execute(_HANDLER_PLANNING)
                for event in batch:
                    await handler(conn, event)
                await conn.execute(
                    "UPDATE accord.consumer_checkpoints SET position = $2, updated_at = now()"
                    " WHERE consumer = $1",
                    consumer,
                    batch[-1].position,
                )
            checkpoint = batch[-1].position
    return checkpoint
