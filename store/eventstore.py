"""`EventStore`: append to streams, read streams and the global feed, verify the chain."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Self, TypeVar
from uuid import UUID

import asyncpg
import orjson

from store.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    RejectedByDatabase,
    StoreError,
    UnknownCheckpoint,
)
from store.group_commit import GroupCommit, append_arguments, as_columns
from store.migrate import migrate as run_migrations
from store.model import (
    AnchoredHeads,
    AppendResult,
    EventMetadata,
    HeadsSnapshot,
    NewEvent,
    RecordedEvent,
    StreamHead,
    VerificationReport,
)
from store.verify import ChainVerifier

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Executor = asyncpg.Connection | asyncpg.Pool | PoolConnectionProxy[Any]

T = TypeVar("T")

# Every append is a call of one of the functions of 0006_least_privilege.sql, which run as
# the schema owner (SECURITY DEFINER): the application role has no INSERT/UPDATE/DELETE on
# the events and the heads, so tx_id, position and recorded_at are always the database's.
# One event: `accord.append_event`, whose parameters are `append_arguments` (the jsonb values
# go over the wire as the canonical JSON text the digest was computed on). It returns the
# position, or its negation for an idempotent retry, and raises AC001/AC002 itself: one round
# trip whatever happens. (Until 0006 the store sent the function's statement itself, ~25 µs
# cheaper on the server; a client may no longer write those rows, so that is gone.)
_APPEND_ONE_SQL = (
    "SELECT accord.append_event($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, $9,"
    " $10, $11, $12, $13, $14::text::jsonb)"
)

_APPEND_SQL = """
SELECT positions, first_version, last_version, already_recorded
  FROM accord.append_events($1, $2, $3, $4, $5, $6::text[]::jsonb[], $7::text[]::jsonb[], $8,
                            $9, $10, $11, $12, $13, $14::text[]::jsonb[])
"""

# The business date as written. Events recorded before 0008_business_date_text.sql keep
# their day in the `date` column they were written with (`occurred_on_date`; the migration
# did not rewrite them, which would have given every row the migration's xmin, see
# store/verify.py), read here as the ISO text their digest was computed on.
OCCURRED_ON = "coalesce(e.occurred_on, to_char(e.occurred_on_date, 'YYYY-MM-DD'))"

_COLUMNS = """
    e.position, e.tx_id, e.event_id, e.stream_id, e.version, e.event_type, e.schema_version,
    e.data, e.actor, {occurred_on}, e.recorded_at, e.correlation_id, e.causation_id,
    e.workflow_id, e.run_id, e.content_digest, e.prev_hash, e.hash, e.source
"""
# A row of accord.events, as `recorded_event` reads it.
COLUMNS = _COLUMNS.format(occurred_on=OCCURRED_ON)

_READ_STREAM_SQL = f"""
SELECT {COLUMNS} FROM accord.events e
 WHERE e.stream_id = $1 AND e.version > $2
 ORDER BY e.version
"""

# Feed order and the no-skip argument live in accord.read_feed (0001_event_log.sql), which
# returns the business date as text already (0008).
_READ_ALL_SQL = (
    f"SELECT {_COLUMNS.format(occurred_on='e.occurred_on')} FROM accord.read_feed($1, $2) e"
)

_READ_ALL_DATA_SQL = """
SELECT "position", stream_id, version, event_type, schema_version, data
  FROM accord.read_feed_data($1, $2)
"""

# Whole log or one stream: a separate statement each, since the store's plans are generic
# (STORE_SESSION_SETTINGS) and one of `$1 IS NULL OR stream_id = $1` could not use the index.
# `row_xid`: the transaction that wrote the row version (its xmin), checked against tx_id.
_VERIFY_SQL = f"""
SELECT {COLUMNS}, s.version AS head_version, s.head_hash, e.xmin::text::bigint AS row_xid
  FROM accord.events e LEFT JOIN accord.streams s ON s.stream_id = e.stream_id
 {{where}}
 ORDER BY e.stream_id, e.version
"""
_VERIFY_ALL_SQL = _VERIFY_SQL.format(where="")
_VERIFY_STREAM_SQL = _VERIFY_SQL.format(where="WHERE e.stream_id = $1")

_HEADS_WITHOUT_EVENTS_SQL = """
SELECT s.stream_id, s.version FROM accord.streams s
 WHERE NOT EXISTS (SELECT 1 FROM accord.events e WHERE e.stream_id = s.stream_id) {also}
 ORDER BY s.stream_id
"""
_HEADLESS_ALL_SQL = _HEADS_WITHOUT_EVENTS_SQL.format(also="")
_HEADLESS_STREAM_SQL = _HEADS_WITHOUT_EVENTS_SQL.format(also="AND s.stream_id = $1")

_SNAPSHOT_SQL = """
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint
"""

_CONCURRENCY_CONFLICT = "AC001"
_IDEMPOTENCY_CONFLICT = "AC002"
_UNKNOWN_CHECKPOINT = "AC005"
_IN_SAVEPOINT = "AC006"
_KEY_DETAIL = re.compile(r"\(event_id\)=\(([0-9a-f-]{36})\)")


# Settings of the store's sessions, sent at connect (no cost per call). The store's queries
# all go by key or in index order, and no plan of theirs depends on a parameter's value:
# - generic plans from the first run: left to choose, PostgreSQL re-plans the append's
#   statement on every call (~15 µs of its time);
# - no seq scans: a plan cached while a table was tiny would otherwise stay in use long
#   after the table has grown (a SET on each statement, as the functions have, costs
#   7-11 µs a call).
STORE_SESSION_SETTINGS = {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"}


class FeedData(NamedTuple):
    """One event of the feed in the narrow form used to rebuild read models: `data` is the
    stored JSON text, for the caller to decode straight into its own types."""

    position: int
    stream_id: str
    version: int
    event_type: str
    schema_version: int
    data: str


def _dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _load_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits: the standard parser
        return json.loads(text)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_dump_json, decoder=_load_json, format="text"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset hook. The store leaves no session state behind (no SET, LISTEN, session
    locks or open cursors; its settings are the connection's own, STORE_SESSION_SETTINGS,
    and consumer handlers get theirs with SET LOCAL), so the default reset -- an extra round
    trip on every release, which would also undo those settings -- buys nothing. asyncpg
    still rolls back any transaction left open before calling this."""


def recorded_event(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row[0],
        tx_id=row[1],
        event_id=row[2],
        stream_id=row[3],
        version=row[4],
        event_type=row[5],
        schema_version=row[6],
        data=row[7],
        metadata=EventMetadata(
            actor=row[8],
            occurred_on=row[9],
            correlation_id=row[11],
            causation_id=row[12],
            workflow_id=row[13],
            run_id=row[14],
            source=row[18],
        ),
        recorded_at=row[10],
        content_digest=row[15],
        prev_hash=row[16],
        hash=row[17],
    )


async def append_events(
    db: Executor, stream_id: str, expected_version: int, events: Sequence[NewEvent]
) -> AppendResult:
    """Append `events` as versions expected_version+1.. of `stream_id`, in one round trip.

    Usable on a pool or on a connection (inside the caller's transaction, e.g. in tests that
    hold a write open). `EventStore.append` is this on a connection of the store's pool.
    The append must be at the top level of its transaction (not inside a savepoint).
    """
    _check_append(expected_version, events)
    return await _append(db, stream_id, expected_version, events)


async def _append(
    db: Executor, stream_id: str, expected_version: int, events: Sequence[NewEvent]
) -> AppendResult:
    if len(events) == 1:
        return await _append_one(db, stream_id, expected_version, events[0])
    args = _append_arguments(stream_id, expected_version, events)
    try:
        row = await db.fetchrow(_APPEND_SQL, *args)
    except asyncpg.PostgresError as error:
        raise await _store_error(db, error, stream_id, expected_version) from error
    assert row is not None  # the function always returns one row
    return AppendResult(
        stream_id=stream_id,
        first_version=row[1],
        last_version=row[2],
        positions=list(row[0]),
        already_recorded=row[3],
    )


async def _append_one(
    db: Executor, stream_id: str, expected_version: int, event: NewEvent
) -> AppendResult:
    args = append_arguments(stream_id, expected_version, event)
    try:
        position = await db.fetchval(_APPEND_ONE_SQL, *args)
    except asyncpg.PostgresError as error:
        raise await _store_error(db, error, stream_id, expected_version) from error
    retried = position < 0  # an idempotent retry: the recorded position, negated
    version = expected_version + 1
    return AppendResult(stream_id, version, version, [abs(position)], retried)


def _check_append(expected_version: int, events: Sequence[NewEvent]) -> None:
    if not events:
        raise ValueError("append needs at least one event")
    if expected_version < 0:
        raise ValueError(f"expected_version must be >= 0 (0 = new stream), not {expected_version}")
    if len(events) > 1 and len({e.event_id for e in events}) != len(events):
        raise ValueError("an event id appears twice in one append")


def _append_arguments(
    stream_id: str, expected_version: int, events: Sequence[NewEvent]
) -> tuple[Any, ...]:
    """`accord.append_events`' arguments: each event's `append_arguments`, as columns, with
    the stream and the expected version once."""
    rows = [append_arguments(stream_id, expected_version + i, e) for i, e in enumerate(events)]
    return (stream_id, expected_version, *as_columns(rows)[2:])


async def _snapshot(conn: PoolConnectionProxy[Any]) -> tuple[int, int]:
    """The current snapshot's (xmin, xmax), as xid8 numbers."""
    row = await conn.fetchrow(_SNAPSHOT_SQL)
    assert row is not None  # one row, always
    return int(row[0]), int(row[1])


async def _store_error(
    db: Executor, error: asyncpg.PostgresError, stream_id: str, expected_version: int
) -> Exception:
    state = error.sqlstate
    detail = getattr(error, "detail", None) or ""
    if state == _CONCURRENCY_CONFLICT:
        return ConcurrencyConflict(stream_id, expected_version, int(detail))
    if state == _IDEMPOTENCY_CONFLICT:
        return IdempotencyConflict(stream_id, UUID(detail) if detail else None)
    if state == _IN_SAVEPOINT:
        return StoreError(
            f"append to {stream_id!r} refused: an append cannot run inside a savepoint"
        )
    if isinstance(error, asyncpg.UniqueViolationError):
        constraint = getattr(error, "constraint_name", None)
        # The head check passed but the event id is recorded (elsewhere, or concurrently):
        # no retry can pass the head check, so this is never an idempotent retry.
        if constraint == "events_event_id_key":
            key = _KEY_DETAIL.search(detail)
            return IdempotencyConflict(stream_id, UUID(key[1]) if key else None)
        # Someone wrote this stream without going through the head row.
        if constraint in ("events_stream_version_key", "streams_pkey"):
            actual = await db.fetchval(
                "SELECT coalesce(max(version), 0) FROM accord.streams WHERE stream_id = $1",
                stream_id,
            )
            return ConcurrencyConflict(stream_id, expected_version, int(actual))
    message = f"append to {stream_id!r} failed: {error}"
    if state and state[:2] in ("22", "23"):  # data exception, integrity violation
        return RejectedByDatabase(message, state)
    return StoreError(message)


class EventStore:
    """The event store of record, over an asyncpg pool.

    Calls borrow a pool connection and, instead of handing it straight back, keep it until
    the event loop's next turn: a caller that appends (or reads) again right away -- a
    writer's loop, a read followed by an append -- takes the same connection without
    asyncpg's acquire/release round (~30-40 µs of CPU each, a task and a timeout per
    release). A connection nobody took by then goes back to the pool, so the pool's other
    users never wait on an idle one; while every connection of the pool is in use (anybody's
    `pool.acquire()` would wait), connections go straight back (first come, first served,
    as without this). A call that fails other than
    with a PostgreSQL error (cancellation, a broken connection) releases its connection
    through the pool at once.
    """

    def __init__(self, pool: asyncpg.Pool, *, group_commit: int = 1) -> None:
        self._pool = pool
        self._spare: list[PoolConnectionProxy[Any]] = []
        self._return_scheduled = False
        self._returning: set[asyncio.Task[None]] = set()
        # Concurrent single-event appends go in groups, `group_commit` groups written at once
        # at most (0: no grouping; see store/group_commit.py).
        self._groups = (
            GroupCommit(self._run, self._append_alone, limit=group_commit)
            if group_commit > 0
            else None
        )

    @property
    def group_commit(self) -> GroupCommit | None:
        return self._groups

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        migrate: bool = True,
        group_commit: int = 1,
    ) -> EventStore:
        if migrate:
            await run_migrations(url)
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_keep_session,
            server_settings=STORE_SESSION_SETTINGS,
        )
        return cls(pool, group_commit=group_commit)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def close(self) -> None:
        if self._groups is not None:
            await self._groups.drain()
        while self._spare:
            await self._pool.release(self._spare.pop())
        if self._returning:
            await asyncio.gather(*self._returning, return_exceptions=True)
        await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self, call: Callable[[PoolConnectionProxy[Any]], Awaitable[T]]) -> T:
        spare = self._spare
        conn = spare.pop() if spare else await self._pool.acquire()
        try:
            result = await call(conn)
        except (asyncpg.PostgresError, StoreError):
            self._keep(conn)  # a statement failed; the connection (autocommit) is fine
            raise
        except BaseException:
            await self._pool.release(conn)
            raise
        self._keep(conn)
        return result

    def _keep(self, conn: PoolConnectionProxy[Any]) -> None:
        if conn.is_closed() or conn.is_in_transaction() or self._pool_exhausted():
            self._returning_task(conn)  # someone may wait for a connection: theirs, in turn
            return
        self._spare.append(conn)
        if not self._return_scheduled:
            self._return_scheduled = True
            asyncio.get_running_loop().call_soon(self._return_spare)

    def _pool_exhausted(self) -> bool:
        """Whether every connection of the pool is in use, so that anybody's
        `pool.acquire()` (the store's own, the projections', a feed consumer's) would wait.
        Keeping a connection then could let a caller that loops on the store starve them.
        Public API only: asyncpg has no accessor for its waiters (the store used to read
        its private queue), and "would wait" is the condition that matters. It is
        conservative: a saturated pool returns connections even when nobody waits yet,
        which costs only the saved acquire (~30-40 µs) while every connection is busy.
        `get_size()` counts connected holders; a pool below `max_size` can still connect
        one for a newcomer, so it is never exhausted (checked first: the cheaper test in
        the usual case, a pool of min_size connections)."""
        pool = self._pool
        return pool.get_size() >= pool.get_max_size() and pool.get_idle_size() == 0

    def _return_spare(self) -> None:
        self._return_scheduled = False
        while self._spare:
            self._returning_task(self._spare.pop())

    def _returning_task(self, conn: PoolConnectionProxy[Any]) -> None:
        task = asyncio.ensure_future(self._pool.release(conn))
        self._returning.add(task)
        task.add_done_callback(self._returning.discard)

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        """Append to a stream whose current version the caller states (0 = new stream).

        Raises ConcurrencyConflict if the stream is elsewhere, IdempotencyConflict if an event
        id is recorded with other content. Retrying an append that already succeeded returns
        the recorded positions with `already_recorded=True` and writes nothing.
        """
        _check_append(expected_version, events)  # before taking a connection
        if len(events) == 1 and self._groups is not None:
            return await self._groups.append(stream_id, expected_version, events[0])
        return await self._run(lambda conn: _append(conn, stream_id, expected_version, events))

    async def _append_alone(
        self, stream_id: str, expected_version: int, event: NewEvent
    ) -> AppendResult:
        return await self._run(lambda conn: _append_one(conn, stream_id, expected_version, event))

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        rows = await self._run(lambda conn: conn.fetch(_READ_STREAM_SQL, stream_id, after_version))
        return [recorded_event(row) for row in rows]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """The next events of the global feed after the checkpoint `after_position`.

        The checkpoint is the position of the last event processed (0 = from the start).
        Never skips a late commit; see store/README.md for the ordering argument.
        """
        rows = await self._read_feed(_READ_ALL_SQL, after_position, limit)
        return [recorded_event(row) for row in rows]

    async def read_all_data(self, after_position: int = 0, limit: int = 5000) -> list[FeedData]:
        """`read_all` in the narrow form for rebuilding read models: position, stream,
        version, type, schema version and the data as JSON text, nothing else (~3x faster
        to read than full `RecordedEvent`s). Same order, checkpoints and guarantees."""
        rows = await self._read_feed(_READ_ALL_DATA_SQL, after_position, limit)
        make = FeedData._make
        return [make(row) for row in rows]

    async def replay(
        self, after_position: int = 0, *, page: int = 5000
    ) -> AsyncIterator[list[FeedData]]:
        """The feed from `after_position` until caught up, in pages of `read_all_data`.

        The next page is read while the caller processes the current one (on a second
        connection), so the database's work and the caller's decoding overlap.
        """
        batch = await self.read_all_data(after_position, page)
        while batch:
            ahead = asyncio.ensure_future(self.read_all_data(batch[-1].position, page))
            try:
                yield batch
            except BaseException:
                ahead.cancel()
                raise
            batch = await ahead

    async def _read_feed(self, sql: str, after_position: int, limit: int) -> list[asyncpg.Record]:
        try:
            return await self._run(lambda conn: conn.fetch(sql, after_position, limit))
        except asyncpg.PostgresError as error:
            if error.sqlstate == _UNKNOWN_CHECKPOINT:
                raise UnknownCheckpoint(after_position) from error
            raise

    async def stream_version(self, stream_id: str) -> int:
        version = await self._run(
            lambda conn: conn.fetchval(
                "SELECT version FROM accord.streams WHERE stream_id = $1", stream_id
            )
        )
        return int(version or 0)

    async def heads(self) -> list[StreamHead]:
        rows = await self._run(
            lambda conn: conn.fetch(
                "SELECT stream_id, version, head_hash FROM accord.streams ORDER BY stream_id"
            )
        )
        return [StreamHead(r["stream_id"], r["version"], r["head_hash"].hex()) for r in rows]

    async def export_heads(self) -> HeadsSnapshot:
        """Every stream's head, with the horizon of the snapshot they were read in (see
        `AnchoredHeads`): what `accord verify --heads` exports for anchoring elsewhere."""
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            horizon, _ = await _snapshot(conn)
            rows = await conn.fetch(
                "SELECT stream_id, version, head_hash FROM accord.streams ORDER BY stream_id"
            )
        heads = [StreamHead(r["stream_id"], r["version"], r["head_hash"].hex()) for r in rows]
        return HeadsSnapshot(horizon, heads)

    async def verify(
        self,
        stream_id: str | None = None,
        *,
        batch_size: int = 1000,
        anchor: AnchoredHeads | None = None,
    ) -> VerificationReport:
        """Recompute every digest and chain link, check each row's transaction id and the
        feed order; report the first broken link per stream. With `anchor` (heads exported
        earlier), also report anchored streams now missing, shorter or different, and
        streams recorded before the anchor but not in it (see store/verify.py).

        Streams the log through a cursor in one repeatable-read snapshot, so heads and
        events are compared as of the same moment and memory stays flat.
        """
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            _, xmax = await _snapshot(conn)
            checker = ChainVerifier(xmax=xmax, anchor=anchor)
            args = () if stream_id is None else (stream_id,)
            sql = _VERIFY_ALL_SQL if stream_id is None else _VERIFY_STREAM_SQL
            async for row in conn.cursor(sql, *args, prefetch=batch_size):
                checker.check(
                    recorded_event(row), row["head_version"], row["head_hash"], row["row_xid"]
                )
            checker.finish(only_stream=stream_id)
            sql = _HEADLESS_ALL_SQL if stream_id is None else _HEADLESS_STREAM_SQL
            for row in await conn.fetch(sql, *args):
                checker.head_without_events(row["stream_id"], row["version"])
        return checker.report()
