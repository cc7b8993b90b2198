"""The append: one call of the database's append function, on a connection or a pool.

This is the path every append takes by default, read top to bottom:

    append_events(db, stream_id, expected_version, events)
      check_append(...)                 # refused before any I/O: no events, bad version
      write_events(db, ...)             # one round trip, whatever the outcome:
        accord.append_event(...)        #   one event: scalar parameters, returns a position
        accord.append_events(...)       #   several: the same checks and chain, as arrays
      -> AppendResult | ConcurrencyConflict | IdempotencyConflict | RejectedByDatabase

Both functions (0006_least_privilege.sql, 0008_business_date_text.sql) guard the stream's
head row at the expected version (optimistic concurrency), recognise an idempotent retry,
link the hash chain and run as the schema owner; `store/README.md` gives the order of their
steps. `EventStore.append` is `check_append` and then `write_events` on a connection of its
pool. Group commit (store/group_commit.py) is an option layered on top: concurrent
single-event appends share one call of `accord.append_event_group`, and whatever a group
does not write goes through `write_events` again, alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from store.digest import encode_content
from store.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    RejectedByDatabase,
    StoreError,
)
from store.model import AppendResult, NewEvent

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Executor = asyncpg.Connection | asyncpg.Pool | PoolConnectionProxy[Any]

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

_CONCURRENCY_CONFLICT = "AC001"
_IDEMPOTENCY_CONFLICT = "AC002"
_IN_SAVEPOINT = "AC006"
_KEY_DETAIL = re.compile(r"\(event_id\)=\(([0-9a-f-]{36})\)")


async def append_events(
    db: Executor, stream_id: str, expected_version: int, events: Sequence[NewEvent]
) -> AppendResult:
    """Append `events` as versions expected_version+1.. of `stream_id`, in one round trip.

    Usable on a pool or on a connection (inside the caller's transaction, e.g. in tests that
    hold a write open). `EventStore.append` is this on a connection of the store's pool.
    The append must be at the top level of its transaction (not inside a savepoint).
    """
    check_append(expected_version, events)
    return await write_events(db, stream_id, expected_version, events)


def check_append(expected_version: int, events: Sequence[NewEvent]) -> None:
    """What is refused before any I/O (a `ValueError`: the caller's mistake, not a conflict)."""
    if not events:
        raise ValueError("append needs at least one event")
    if expected_version < 0:
        raise ValueError(f"expected_version must be >= 0 (0 = new stream), not {expected_version}")
    if len(events) > 1 and len({e.event_id for e in events}) != len(events):
        raise ValueError("an event id appears twice in one append")


async def write_events(
    db: Executor, stream_id: str, expected_version: int, events: Sequence[NewEvent]
) -> AppendResult:
    """`append_events` after `check_append`: one call of the append function."""
    if len(events) == 1:
        return await _write_one(db, stream_id, expected_version, events[0])
    args = _batch_arguments(stream_id, expected_version, events)
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


async def _write_one(
    db: Executor, stream_id: str, expected_version: int, event: NewEvent
) -> AppendResult:
    """One event: scalar parameters (no arrays to build and unnest), a plain bigint back."""
    args = append_arguments(stream_id, expected_version, event)
    try:
        position = await db.fetchval(_APPEND_ONE_SQL, *args)
    except asyncpg.PostgresError as error:
        raise await _store_error(db, error, stream_id, expected_version) from error
    retried = position < 0  # an idempotent retry: the recorded position, negated
    version = expected_version + 1
    return AppendResult(stream_id, version, version, [abs(position)], retried)


def append_arguments(stream_id: str, expected_version: int, event: NewEvent) -> tuple[Any, ...]:
    """The 14 arguments of the one-event append, as of `accord.append_event` (and of one item
    of a group): the canonical JSON of data, actor and source, sent as the jsonb values, and
    the content digest computed on that same text. The business date goes as the text
    written (`occurred_on`, EDTF); the source last."""
    m = event.metadata
    digest, data_json, actor_json, source_json = encode_content(
        event_id=event.event_id,
        stream_id=stream_id,
        version=expected_version + 1,
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.data,
        metadata=m,
    )
    return (
        stream_id,
        expected_version,
        event.event_id,
        event.event_type,
        event.schema_version,
        data_json,
        actor_json,
        m.occurred_on,
        m.correlation_id,
        m.causation_id,
        m.workflow_id,
        m.run_id,
        digest,
        source_json,
    )


def as_columns(rows: list[tuple[Any, ...]]) -> list[list[Any] | None]:
    """Rows of `append_arguments` as the array arguments of the batch and group functions.
    The sources (last) are NULL rather than an array of NULLs when no event cites one, as
    most do not: nothing to encode, cast and unnest."""
    columns: list[list[Any] | None] = [list(column) for column in zip(*rows, strict=True)]
    if all(source is None for source in columns[-1] or ()):
        columns[-1] = None
    return columns


def _batch_arguments(
    stream_id: str, expected_version: int, events: Sequence[NewEvent]
) -> tuple[Any, ...]:
    """`accord.append_events`' arguments: each event's `append_arguments`, as columns, with
    the stream and the expected version once."""
    rows = [append_arguments(stream_id, expected_version + i, e) for i, e in enumerate(events)]
    return (stream_id, expected_version, *as_columns(rows)[2:])


async def _store_error(
    db: Executor, error: asyncpg.PostgresError, stream_id: str, expected_version: int
) -> Exception:
    """The store's typed error for what PostgreSQL refused."""
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
