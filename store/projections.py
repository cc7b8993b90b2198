"""The `process_view` and `timeline` read models.

Both are folds of a stream's events with the domain's own `evolve`, so a projected view is
by construction what the workflow's `status` query returns for the same events. A refresh
refolds the whole stream (a process has tens to hundreds of events) and writes the view and
any missing timeline rows in one transaction; rebuilding truncates and refolds every stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from domain import decode_event, describe, fold, process_view
from domain.vocabulary import PROCESS_STREAM_PREFIX
from store.eventstore import EventStore
from store.model import RecordedEvent

_UPSERT_VIEW = """
INSERT INTO accord.process_view (stream_id, process_id, stage, version, pending_agencies, view)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (stream_id) DO UPDATE
   SET process_id = EXCLUDED.process_id, stage = EXCLUDED.stage, version = EXCLUDED.version,
       pending_agencies = EXCLUDED.pending_agencies, view = EXCLUDED.view, updated_at = now()
 WHERE accord.process_view.version <= EXCLUDED.version
"""

_INSERT_TIMELINE = """
INSERT INTO accord.timeline (stream_id, version, position, occurred_on, event_type, actor, summary)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
ON CONFLICT (stream_id, version) DO NOTHING
"""


class Projections:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def refresh(self, stream_id: str) -> None:
        events = await self._store.read_stream(stream_id)
        if not events:
            return
        async with self._store.pool.acquire() as conn, conn.transaction():
            await _write(conn, stream_id, events)

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
                    await _write(conn, stream_id, events)
                    projected += 1
        return {"streams": projected, "events": seen}

    async def view(self, stream_id: str) -> dict[str, Any] | None:
        row = await self._store.pool.fetchval(
            "SELECT view FROM accord.process_view WHERE stream_id = $1", stream_id
        )
        return _as_dict(row) if row is not None else None

    async def timeline(self, stream_id: str) -> list[dict[str, Any]]:
        rows = await self._store.pool.fetch(
            "SELECT version, position, occurred_on, event_type, actor, summary"
            " FROM accord.timeline WHERE stream_id = $1 ORDER BY version",
            stream_id,
        )
        return [
            {
                "version": r["version"],
                "position": r["position"],
                "occurred_on": r["occurred_on"].isoformat(),
                "type": r["event_type"],
                "actor": _as_dict(r["actor"]) if r["actor"] is not None else None,
                "summary": r["summary"],
            }
            for r in rows
        ]


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value)


async def _write(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    stream_id: str,
    events: Sequence[RecordedEvent],
) -> None:
    decoded = [decode_event(e.event_type, e.schema_version, e.data) for e in events]
    state = fold(decoded)
    view = process_view(state).model_dump(mode="json")
    await conn.execute(
        _UPSERT_VIEW,
        stream_id,
        view["process_id"],
        view["stage"],
        events[-1].version,
        list(view.get("pending_agencies") or []),
        json.dumps(view),
    )
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
            )
            for e, event in zip(events, decoded, strict=True)
        ],
    )
