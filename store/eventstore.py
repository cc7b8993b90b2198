"""`EventStore`: append to streams, read streams and the global feed, verify the chain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Self

import asyncpg
import orjson

from store.append import check_append, write_events
from store.connections import KeptConnections
from store.errors import UnknownCheckpoint
from store.group_commit import GroupCommit
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

_UNKNOWN_CHECKPOINT = "AC005"


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


async def _snapshot(conn: PoolConnectionProxy[Any]) -> tuple[int, int]:
    """The current snapshot's (xmin, xmax), as xid8 numbers."""
    row = await conn.fetchrow(_SNAPSHOT_SQL)
    assert row is not None  # one row, always
    return int(row[0]), int(row[1])


class EventStore:
    """The event store of record, over an asyncpg pool.

    Appends: `append` checks its arguments and writes them with one call of the database's
    append function (store/append.py), on a connection of the pool. That is the one path.
    `group_commit` (on by default, one group at a time: the setting the store's and the
    end-to-end benchmarks were tuned on) is an option on top of it for single events:
    while an append is being written, further single-event appends queue and go together
    in one call of `accord.append_event_group` (store/group_commit.py); an append that
    finds nothing being written still takes the one path, and so does any item a group did
    not write. `group_commit=0` leaves only the one path.

    Every call runs on a connection kept for the caller's next call (store/connections.py).
    """

    def __init__(self, pool: asyncpg.Pool, *, group_commit: int = 1) -> None:
        self._pool = pool
        self._connections = KeptConnections(pool)
        self._run = self._connections.run
        # The option: concurrent single-event appends in groups, `group_commit` groups
        # written at once at most, each item a group did not write appended alone.
        self._groups = (
            GroupCommit(self._run, self._append_one, limit=group_commit)
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
        await self._connections.close()
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

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        """Append to a stream whose current version the caller states (0 = new stream).

        Raises ConcurrencyConflict if the stream is elsewhere, IdempotencyConflict if an event
        id is recorded with other content. Retrying an append that already succeeded returns
        the recorded positions with `already_recorded=True` and writes nothing.
        """
        check_append(expected_version, events)  # before taking a connection
        if len(events) == 1 and self._groups is not None:
            return await self._groups.append(stream_id, expected_version, events[0])
        return await self._write(stream_id, expected_version, events)

    async def _write(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        """The one path: one call of the append function on a connection of the pool."""
        return await self._run(lambda conn: write_events(conn, stream_id, expected_version, events))

    async def _append_one(
        self, stream_id: str, expected_version: int, event: NewEvent
    ) -> AppendResult:
        """The one path for one event: group commit's way to append an item alone."""
        return await self._write(stream_id, expected_version, (event,))

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
