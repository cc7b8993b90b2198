"""Each side of the event store benchmark, timed: raw asyncpg INSERTs, the store's row
alone (the floor), EventStore.append (sequential, concurrent, in batches), the
`eventsourcing` library's recorder, and a rebuild from the feed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench.eventstore.workload import (
    CONCURRENCY,
    EVENTS_PER_STREAM,
    PAYLOAD,
    Writer,
    new_event,
)
from store import EventStore, NewEvent
from store.append import append_arguments


@dataclass
class Rate:
    events: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def add(self, events: int, seconds: float) -> None:
        self.events += events
        self.seconds += seconds


async def timed(events: int, run: Callable[[], Awaitable[None]]) -> tuple[int, float]:
    started = time.perf_counter()
    await run()
    return events, time.perf_counter() - started


# -- raw asyncpg ------------------------------------------------------------------------


async def json_codec(conn: asyncpg.Connection) -> None:
    """jsonb in and out as JSON text on the raw side's connections."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text"
    )


async def raw_sequential(conn: asyncpg.Connection, n: int) -> tuple[int, float]:
    async def run() -> None:
        for _ in range(n):
            await conn.execute("INSERT INTO raw_events (data) VALUES ($1)", PAYLOAD)

    return await timed(n, run)


async def raw_concurrent(pool: asyncpg.Pool, n: int) -> tuple[int, float]:
    per_writer = n // CONCURRENCY

    async def writer() -> None:
        async with pool.acquire() as conn:
            for _ in range(per_writer):
                await conn.execute("INSERT INTO raw_events (data) VALUES ($1)", PAYLOAD)

    async def run() -> None:
        await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))

    return await timed(per_writer * CONCURRENCY, run)


# -- the row alone (the floor) ----------------------------------------------------------

_FLOOR_SQL = """
INSERT INTO floor_events (
    event_id, stream_id, version, event_type, schema_version, data, actor, occurred_on,
    correlation_id, causation_id, workflow_id, run_id, content_digest, prev_hash, hash, source)
VALUES ($3, $1, $2 + 1, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, $9, $10, $11, $12,
        $13, $13, $13, $14::text::jsonb)
"""


async def floor_sequential(conn: asyncpg.Connection, n: int, round_no: int) -> tuple[int, float]:
    async def run() -> None:
        for i in range(n):
            args = append_arguments(f"floor-{round_no}-{i // EVENTS_PER_STREAM}", i, new_event())
            await conn.execute(_FLOOR_SQL, *args)

    return await timed(n, run)


# -- the store --------------------------------------------------------------------------


async def store_sequential(writer: Writer, n: int) -> tuple[int, float]:
    async def run() -> None:
        for _ in range(n):
            await writer.append([new_event()])

    return await timed(n, run)


async def store_concurrent(store: EventStore, n: int, round_no: int) -> tuple[int, float]:
    per_writer = n // CONCURRENCY
    writers = [Writer(store, f"conc-{round_no}-{i}") for i in range(CONCURRENCY)]

    async def write(writer: Writer) -> None:
        for _ in range(per_writer):
            await writer.append([new_event()])

    async def run() -> None:
        await asyncio.gather(*(write(w) for w in writers))

    return await timed(per_writer * CONCURRENCY, run)


async def store_batches(
    store: EventStore, batches: Iterator[tuple[str, int, list[NewEvent]]]
) -> Rate:
    rate = Rate()
    for stream_id, expected, events in batches:
        started = time.perf_counter()
        await store.append(stream_id, expected, events)
        rate.add(len(events), time.perf_counter() - started)
    return rate


# -- eventsourcing ----------------------------------------------------------------------


def eventsourcing_sequential(url: str, n: int, warmup: int) -> Rate:
    """The library's own PostgreSQL application recorder, one aggregate event per save."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Process(Aggregate):
        @event("Created")
        def __init__(self) -> None:
            self.contacts = 0

        @event("ContactLogged")
        def log_contact(self, data: dict[str, Any]) -> None:
            self.contacts += 1

    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
    }
    app: Application[uuid.UUID] = Application(env=env)
    try:
        process = Process()
        app.save(process)
        for _ in range(warmup):
            process.log_contact(PAYLOAD)
            app.save(process)
        started = time.perf_counter()
        for _ in range(n):
            process.log_contact(PAYLOAD)
            app.save(process)
        return Rate(n, time.perf_counter() - started)
    finally:
        app.close()


# -- rebuild ----------------------------------------------------------------------------


async def rebuild(store: EventStore, page: int = 5000) -> Rate:
    """Catch up from position 0 like a fresh projection: read, decode, evolve."""
    import domain

    states: dict[str, Any] = {}
    checkpoint = 0
    count = 0
    started = time.perf_counter()
    decode, evolve, initial_state = domain.decode_event, domain.evolve, domain.initial_state
    # The narrow feed (data as JSON text, validated by pydantic straight from the text), the
    # next page read while this one is decoded.
    async for recorded in store.replay(checkpoint, page=page):
        for r in recorded:
            event = decode(r.event_type, r.schema_version, r.data)
            state = states.get(r.stream_id)
            states[r.stream_id] = evolve(initial_state() if state is None else state, event)
        checkpoint = recorded[-1].position
        count += len(recorded)
    return Rate(count, time.perf_counter() - started)
