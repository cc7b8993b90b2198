"""The `process_view` and `timeline` read models.

Both are folds of a stream's events with the domain's own `evolve`, so a projected view is
by construction what the workflow's `status` query returns for the same events.

A refresh (after every append) is incremental. Each `Projections` keeps a bounded LRU cache
of folded states, per stream: the version folded to, the `hash` of the event at that version,
and the state. A refresh of a cached stream reads the events from that version on, evolves
the cached state with the new ones only, and in one transaction writes the view and the
timeline rows of the new events. Without a cached state (or when it cannot be trusted) a
refresh refolds the whole stream and writes the view and any missing timeline rows, as
`rebuild` does for every stream after truncating both tables.

Why the cache is safe: recorded events are immutable, so the fold of versions 1..v never
changes. What can change under a long-lived worker is the database (reset, recreated, or
another one behind the same URL); then the event at version v is gone or has another hash
(the hash chains its position and commit time), and the refresh refolds from scratch. The
read models may also lose rows behind the cache (a `rebuild` elsewhere truncates them and
may refold fewer events): the incremental upsert returns the view version it replaced, and
if that is older than the cached version the transaction is rolled back and the stream
refolded in full. A state is cached only after its rows committed, and only if it is newer
than the cached one, so the cache holds nothing but folds of stored events 1..version.
A timeline row deleted by hand under an intact view is not restored by an incremental
refresh; `rebuild` (or a refresh without a cached state) restores it.

Why the cache stays (measured for issue #16, 2026-12-05; BENCHMARKS.md has the runs): the
end-to-end benchmark with this cache in one arm and a refresh that refolds the whole stream
on every command (`cached_streams=0`) in the other, interleaved in rounds, three runs, the
arms swapped in one. Without the cache the worker spent 3-8 % more CPU per command and
PostgreSQL 9-20 % more (it reads the whole stream and rewrites every timeline row) in every
run; the time, which the shared machine's load disturbs more, was 1.02x, 1.15x and 0.97x
(single rounds 0.62-1.62x). A checkpointed feed consumer, or a write in the append's own
transaction, would move the refresh but not the fold: either needs the stream's folded
state, so it would need this cache or pay the same refold.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from domain import (
    Event,
    ProcessState,
    decode_event,
    describe,
    evolve,
    fold,
    process_view,
)
from domain.corrected import apply as apply_corrections
from domain.corrected import corrections_of, mark
from domain.events import RecordCorrected
from domain.vocabulary import PROCESS_STREAM_PREFIX
from store.eventstore import EventStore
from store.model import RecordedEvent

DEFAULT_CACHED_STREAMS = 10_000

_UPSERT_VIEW = """
INSERT INTO accord.process_view (stream_id, process_id, stage, version, pending_agencies, view)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (stream_id) DO UPDATE
   SET process_id = EXCLUDED.process_id, stage = EXCLUDED.stage, version = EXCLUDED.version,
       pending_agencies = EXCLUDED.pending_agencies, view = EXCLUDED.view, updated_at = now()
 WHERE accord.process_view.version <= EXCLUDED.version
"""

# The same upsert, returning the version of the row it replaced: no row when the stored view
# is newer (not replaced), NULL when there was no row. The CTE reads the statement's snapshot,
# so a row committed concurrently reads as NULL (older), which only costs a full refold.
_UPSERT_VIEW_RETURNING_PRIOR = (
    "WITH prior AS (SELECT version FROM accord.process_view WHERE stream_id = $1)"
    + _UPSERT_VIEW
    + "RETURNING (SELECT version FROM prior)"
)

# `occurred_on` is the business date as written (text, 0008_business_date_text.sql).
_INSERT_TIMELINE = """
INSERT INTO accord.timeline
       (stream_id, version, position, occurred_on, event_type, actor, summary, source)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb)
ON CONFLICT (stream_id, version) DO NOTHING
"""

# A corrected event's row shows the corrected date and sentence, marked (RecordCorrected).
_ORIGINAL_EVENT = """
SELECT event_type, schema_version, data FROM accord.events WHERE stream_id = $1 AND version = $2
"""
_CORRECT_TIMELINE = """
UPDATE accord.timeline SET occurred_on = $3, summary = $4 WHERE stream_id = $1 AND version = $2
"""

_Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class _Folded:
    """The fold of a stream's recorded events 1..version; `hash` is the event at `version`."""

    version: int
    hash: bytes
    state: ProcessState


class _ReadModelsBehind(Exception):
    """The stored view is older than the cached state: timeline rows may be missing."""


class Projections:
    def __init__(self, store: EventStore, *, cached_streams: int = DEFAULT_CACHED_STREAMS) -> None:
        if cached_streams < 0:
            raise ValueError("cached_streams must be >= 0")
        self._store = store
        self._max_cached = cached_streams
        self._cache: OrderedDict[str, _Folded] = OrderedDict()

    async def refresh(self, stream_id: str) -> None:
        """Project the stream's new events (all of them when its fold is not cached)."""
        folded = await self._refresh_from_cache(stream_id)
        if folded is None:
            events = await self._store.read_stream(stream_id)
            if not events:
                return
            decoded = _decode(events)
            state = fold(decoded)
            async with self._store.pool.acquire() as conn, conn.transaction():
                await _write(conn, stream_id, events, decoded, state)
            folded = _Folded(events[-1].version, events[-1].hash, state)
        self._remember(stream_id, folded)

    async def _refresh_from_cache(self, stream_id: str) -> _Folded | None:
        """The incremental refresh; None (nothing written) when it cannot be done."""
        cached = self._cache.get(stream_id)
        if cached is None:
            return None
        self._cache.move_to_end(stream_id)
        events = await self._store.read_stream(stream_id, after_version=cached.version - 1)
        if not events or events[0].version != cached.version or events[0].hash != cached.hash:
            self._forget(stream_id, cached)  # not the stream that was folded
            return None
        new = events[1:]
        decoded = _decode(new)
        state = cached.state
        for event in decoded:
            state = evolve(state, event)
        head = events[-1]
        try:
            async with self._store.pool.acquire() as conn, conn.transaction():
                replaced = await conn.fetch(
                    _UPSERT_VIEW_RETURNING_PRIOR, *_view_args(stream_id, head.version, state)
                )
                # No row returned: the stored view is newer than `head`, hence than `cached`.
                if replaced and (replaced[0][0] is None or replaced[0][0] < cached.version):
                    raise _ReadModelsBehind
                await _insert_timeline(conn, stream_id, new, decoded, state)
        except _ReadModelsBehind:
            self._forget(stream_id, cached)
            return None
        return _Folded(head.version, head.hash, state)

    def _remember(self, stream_id: str, folded: _Folded) -> None:
        if self._max_cached == 0:
            return
        cached = self._cache.get(stream_id)
        if cached is not None and cached.version >= folded.version:
            return  # a concurrent refresh got further
        self._cache[stream_id] = folded
        self._cache.move_to_end(stream_id)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    def _forget(self, stream_id: str, stale: _Folded) -> None:
        if self._cache.get(stream_id) is stale:
            del self._cache[stream_id]

    async def rebuild(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Truncate both read models and refold every process stream from the event log."""
        streams: dict[str, list[RecordedEvent]] = {}
        after, seen = 0, 0
        while True:
            batch = await self._store.read_all(after_position=after, limit=5000)
            if not batch:
                break
            for e in batch:
                if e.stream_id.startswith(PROCESS_STREAM_PREFIX):
                    streams.setdefault(e.stream_id, []).append(e)
            after = batch[-1].position
            seen += len(batch)
            if progress:
                progress(seen)
        async with self._store.pool.acquire() as conn, conn.transaction():
            await conn.execute("TRUNCATE accord.process_view, accord.timeline")
            projected = 0
            for stream_id, events in streams.items():
                events.sort(key=lambda e: e.version)
                # Only streams that open a process are processes (others share the prefix
                # by accident, or hold another service's events).
                if events[0].event_type == "ProcessOpened":
                    decoded = _decode(events)
                    await _write(conn, stream_id, events, decoded, fold(decoded))
                    projected += 1
        return {"streams": projected, "events": seen}

    async def view(self, stream_id: str) -> dict[str, Any] | None:
        row = await self._store.pool.fetchval(
            "SELECT view FROM accord.process_view WHERE stream_id = $1", stream_id
        )
        return _as_dict(row) if row is not None else None

    async def timeline(self, stream_id: str) -> list[dict[str, Any]]:
        rows = await self._store.pool.fetch(
            "SELECT version, position, occurred_on, event_type, actor, summary, source"
            " FROM accord.timeline WHERE stream_id = $1 ORDER BY version",
            stream_id,
        )
        return [_timeline_entry(r) for r in rows]


def _timeline_entry(r: asyncpg.Record) -> dict[str, Any]:
    """A timeline row: `occurred_on` is the business date as written; `source` only when the
    event cites one."""
    entry = {
        "version": r["version"],
        "position": r["position"],
        "occurred_on": r["occurred_on"],
        "type": r["event_type"],
        "actor": _as_dict(r["actor"]) if r["actor"] is not None else None,
        "summary": r["summary"],
    }
    if r["source"] is not None:
        entry["source"] = _as_dict(r["source"])
    return entry


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value)


def _decode(events: Sequence[RecordedEvent]) -> list[Event]:
    return [decode_event(e.event_type, e.schema_version, e.data) for e in events]


def _view_args(stream_id: str, version: int, state: ProcessState) -> tuple[Any, ...]:
    view = process_view(state).model_dump(mode="json")
    return (
        stream_id,
        view["process_id"],
        view["stage"],
        version,
        list(view.get("pending_agencies") or []),
        json.dumps(view),
    )


async def _write(
    conn: _Connection,
    stream_id: str,
    events: Sequence[RecordedEvent],
    decoded: Sequence[Event],
    state: ProcessState,
) -> None:
    """The view of `state` (the fold of `events`, which run to the stream's version) and the
    timeline rows of every event."""
    await conn.execute(_UPSERT_VIEW, *_view_args(stream_id, events[-1].version, state))
    await _insert_timeline(conn, stream_id, events, decoded, state)


async def _insert_timeline(
    conn: _Connection,
    stream_id: str,
    events: Sequence[RecordedEvent],
    decoded: Sequence[Event],
    state: ProcessState,
) -> None:
    """Timeline rows of `events`, described with the parties of `state` (the latest fold)."""
    if not events:
        return
    await conn.executemany(
        _INSERT_TIMELINE,
        [
            (
                stream_id,
                e.version,
                e.position,
                e.metadata.occurred_on,
                e.event_type,
                json.dumps(dict(e.metadata.actor)) if e.metadata.actor is not None else None,
                describe(event, state.config),
                json.dumps(dict(e.metadata.source)) if e.metadata.source is not None else None,
            )
            for e, event in zip(events, decoded, strict=True)
        ],
    )
    await _correct_timeline(conn, stream_id, events, decoded, state)


async def _correct_timeline(
    conn: _Connection,
    stream_id: str,
    events: Sequence[RecordedEvent],
    decoded: Sequence[Event],
    state: ProcessState,
) -> None:
    """The row of each event that a correction among `decoded` puts right: the event as
    every correction so far says it is, marked "(corrected on <date>: <reason>)". The
    original event stays as recorded in the log; only this read model shows the value."""
    versions = sorted(
        {
            v
            for e in decoded
            if isinstance(e, RecordCorrected)
            for v in (e.corrected_version, *e.with_versions)
        }
    )
    if not versions:
        return
    in_batch = {r.version: event for r, event in zip(events, decoded, strict=True)}
    for version in versions:
        original = in_batch.get(version)
        if original is None:
            row = await conn.fetchrow(_ORIGINAL_EVENT, stream_id, version)
            if row is None:
                continue
            original = decode_event(row["event_type"], row["schema_version"], _as_dict(row["data"]))
        marks = corrections_of(state, version)
        corrected = apply_corrections(original, version, marks)
        summary = f"{describe(corrected, state.config)} {mark(marks)}"
        # str(): the domain's business date (a date, or its EDTF type) as its text.
        on = str(corrected.occurred_on)
        await conn.execute(_CORRECT_TIMELINE, stream_id, version, on, summary)
