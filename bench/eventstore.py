"""Event store benchmark: `python -m bench.eventstore [--json] [--events N]`.

Everything runs in one process against one PostgreSQL, in a dedicated database that is
created and dropped here, with the same ~300-byte JSON payload and durable commits
throughout (fsync on, synchronous_commit on):

  raw        asyncpg single-row INSERT into a bigserial table, one transaction per event
  floor      the store's full event row (its 20 columns and 4 indexes, the client's encoding
             and digest) as one plain prepared INSERT per transaction, on a direct
             connection: no chain, no head row or concurrency check, no idempotency, no
             feed notification, no pool. No append that records this row can beat it, so
             `row_floor_seq_vs_raw` bounds `append_seq_vs_raw` on the machine of the run
  store      EventStore.append, one event per call; and 100 events per call
  es         the `eventsourcing` library's PostgreSQL application recorder, one event per save
  rebuild    read the whole feed (the narrow `replay`: data as JSON text), decode each event
             with the domain codec straight from that text, evolve the state

Sequential raw and store runs are interleaved in rounds so that drift in disk latency hits
both alike. Progress goes to stderr; the table (or with --json one JSON object) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from store import EventMetadata, EventStore, NewEvent
from store.append import append_arguments
from store.embedded import admin_url
from store.eventstore import _init_connection

CONCURRENCY = 16
BATCH = 100
EVENTS_PER_STREAM = 50

PAYLOAD: dict[str, Any] = {
    "venue": "Ministry of Foreign Affairs, Baku",
    "participants": ["Andreas Kleiser", "Kathryne Bomberger", "Elnur Mammadov"],
    "modalities": ["membership"],
    "summary": (
        "First contact about cooperation on missing persons; the ministry asked for "
        "a written proposal and a draft protocol of intent to circulate to agencies."
    ),
    "occurred_on": "2018-05-17",
}
METADATA = EventMetadata(
    occurred_on=date(2018, 5, 17),
    actor={"party": "mfa", "role": "representative"},
    correlation_id="bench",
    workflow_id="process-bench",
    run_id="run-1",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def new_event(data: dict[str, Any] = PAYLOAD, event_type: str = "ContactLogged") -> NewEvent:
    return NewEvent(uuid.uuid4(), event_type, 2, data, METADATA)


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


async def _json_codec(conn: asyncpg.Connection) -> None:
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


class Writer:
    """Appends to its own streams, starting a new one every EVENTS_PER_STREAM events."""

    def __init__(self, store: EventStore, name: str) -> None:
        self.store = store
        self.name = name
        self.streams = 0
        self.version = EVENTS_PER_STREAM

    async def append(self, events: list[NewEvent]) -> None:
        if self.version + len(events) > EVENTS_PER_STREAM:
            self.streams += 1
            self.version = 0
        stream_id = f"{self.name}-{self.streams}"
        result = await self.store.append(stream_id, self.version, events)
        self.version = result.last_version


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


def domain_batches(total: int) -> Iterator[tuple[str, int, list[NewEvent]]]:
    """Realistic process streams for the rebuild: opened, then contacts and meetings."""
    import domain

    config = domain.ProcessConfig.model_validate(
        {
            "process_id": "bench-process",
            "country": "Azerbaijan",
            "partner": {"name": "International Commission on Missing Persons"},
            "national_body": {"name": "State Commission on Prisoners of War"},
            "agencies": [
                {"key": "mfa", "name": "Ministry of Foreign Affairs", "channel": True},
                {"key": "pa", "name": "Presidential Administration", "escalation_target": True},
            ],
            "durations": {
                "consent_deadline": "P90D",
                "review_reminder_every": "P30D",
                "review_deadline": "P180D",
                "dormancy_after": "P730D",
            },
        },
        strict=False,
    )
    day = date(2018, 5, 17)
    stream_length = 1000
    for start in range(0, total, stream_length):
        stream_id = f"process-{start // stream_length}"
        events: list[domain.Event] = [
            domain.ProcessOpened(occurred_on=domain.BusinessDate.of(day), process=config)
        ]
        for i in range(1, min(stream_length, total - start)):
            on = day + timedelta(days=i)
            if i % 2:
                events.append(
                    domain.ContactLogged(
                        occurred_on=domain.BusinessDate.of(on),
                        venue="Ministry of Foreign Affairs, Baku",
                        participants=("Andreas Kleiser", "Elnur Mammadov"),
                        modalities=("membership",),
                        summary="Discussed the draft protocol of intent and next steps.",
                    )
                )
            else:
                events.append(
                    domain.MeetingRecorded(
                        occurred_on=domain.BusinessDate.of(on),
                        format="online",
                        agencies_present=("mfa",),
                        initiator="partner",
                        summary="Working group meeting on the exchange of case files.",
                    )
                )
        for offset in range(0, len(events), BATCH):
            chunk = events[offset : offset + BATCH]
            yield (
                stream_id,
                offset,
                [NewEvent(uuid.uuid4(), *domain.encode_event(e), METADATA) for e in chunk],
            )


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


# -- driver -----------------------------------------------------------------------------


async def run_benchmark(
    events: int, rounds: int, rebuild_events: int, group_commit: int = 1
) -> dict[str, float]:
    admin = admin_url()
    name = f"accord_bench_{uuid.uuid4().hex[:8]}"
    base = admin.rpartition("/")[0]
    url = f"{base}/{name}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    log(f"bench database {name}")
    try:
        return await _run(url, events, rounds, rebuild_events, group_commit)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def _run(
    url: str, events: int, rounds: int, rebuild_events: int, group_commit: int
) -> dict[str, float]:
    store = await EventStore.connect(
        url, min_size=CONCURRENCY, max_size=CONCURRENCY, group_commit=group_commit
    )
    raw_conn = await asyncpg.connect(
        url,
    )
    await _json_codec(raw_conn)
    await raw_conn.execute(
        "CREATE TABLE raw_events (id bigserial PRIMARY KEY, data jsonb NOT NULL)"
    )
    floor_conn = await asyncpg.connect(url)
    await _init_connection(floor_conn)
    # The events table's columns, defaults and indexes; not its triggers.
    await floor_conn.execute(
        "CREATE TABLE floor_events (LIKE accord.events INCLUDING DEFAULTS INCLUDING INDEXES)"
    )
    raw_pool = await asyncpg.create_pool(
        url, min_size=CONCURRENCY, max_size=CONCURRENCY, init=_json_codec
    )
    seq_writer = Writer(store, "seq")
    warmup = max(20, events // 20)
    await raw_sequential(raw_conn, warmup)
    await store_sequential(seq_writer, warmup)
    await floor_sequential(floor_conn, warmup, -1)

    raw_seq, store_seq, raw_conc, store_conc = Rate(), Rate(), Rate(), Rate()
    floor_seq = Rate()
    per_round = max(1, events // rounds)
    for r in range(rounds):
        raw_seq.add(*await raw_sequential(raw_conn, per_round))
        store_seq.add(*await store_sequential(seq_writer, per_round))
        floor_seq.add(*await floor_sequential(floor_conn, per_round, r))
        raw_conc.add(*await raw_concurrent(raw_pool, per_round * 4))
        store_conc.add(*await store_concurrent(store, per_round * 4, r))
        log(
            f"round {r + 1}/{rounds}: raw seq {raw_seq.per_second:,.0f}/s, "
            f"store seq {store_seq.per_second:,.0f}/s, floor seq {floor_seq.per_second:,.0f}/s, "
            f"raw x{CONCURRENCY} "
            f"{raw_conc.per_second:,.0f}/s, store x{CONCURRENCY} {store_conc.per_second:,.0f}/s"
        )

    log("eventsourcing library, sequential saves ...")
    es_seq = await asyncio.to_thread(eventsourcing_sequential, url, events, warmup)
    log(f"eventsourcing seq {es_seq.per_second:,.0f}/s")

    log(f"appending {rebuild_events:,} domain events in batches of {BATCH} ...")
    batch = await store_batches(store, domain_batches(rebuild_events))
    log(f"batch append {batch.per_second:,.0f} events/s")

    log("rebuilding the projection from the feed ...")
    rebuilt = await rebuild(store)
    log(f"rebuild {rebuilt.events:,} events: {rebuilt.per_second:,.0f} events/s")

    await raw_pool.close()
    await raw_conn.close()
    await floor_conn.close()
    await store.close()
    return {
        "raw_seq_events_per_s": raw_seq.per_second,
        "raw_concurrent_events_per_s": raw_conc.per_second,
        "append_seq_events_per_s": store_seq.per_second,
        "row_floor_seq_events_per_s": floor_seq.per_second,
        "append_concurrent_events_per_s": store_conc.per_second,
        "eventsourcing_seq_events_per_s": es_seq.per_second,
        "append_batch100_events_per_s": batch.per_second,
        "rebuild_events_per_s": rebuilt.per_second,
        "rebuild_events": float(rebuilt.events),
        "append_seq_vs_raw": store_seq.per_second / raw_seq.per_second,
        "row_floor_seq_vs_raw": floor_seq.per_second / raw_seq.per_second,
        "append_seq_vs_row_floor": store_seq.per_second / floor_seq.per_second,
        "append_seq_vs_eventsourcing": store_seq.per_second / es_seq.per_second,
        "append_concurrent_vs_raw": store_conc.per_second / raw_conc.per_second,
    }


TARGETS = {
    "append_seq_vs_raw": 0.8,
    "append_seq_vs_eventsourcing": 3.0,
    "append_concurrent_vs_raw": 0.7,
    "rebuild_events_per_s": 100_000,
}


def render(results: dict[str, float]) -> str:
    rows = [
        ("raw INSERT, sequential", "raw_seq_events_per_s", "events/s"),
        (f"raw INSERT, {CONCURRENCY} connections", "raw_concurrent_events_per_s", "events/s"),
        ("store append, sequential", "append_seq_events_per_s", "events/s"),
        ("the row alone (floor), sequential", "row_floor_seq_events_per_s", "events/s"),
        (f"store append, {CONCURRENCY} writers", "append_concurrent_events_per_s", "events/s"),
        ("eventsourcing save, sequential", "eventsourcing_seq_events_per_s", "events/s"),
        (f"store append, {BATCH} per call", "append_batch100_events_per_s", "events/s"),
        ("rebuild (read+decode+evolve)", "rebuild_events_per_s", "events/s"),
        ("seq append / raw", "append_seq_vs_raw", "x"),
        ("the row alone (floor) / raw", "row_floor_seq_vs_raw", "x"),
        ("seq append / the row alone", "append_seq_vs_row_floor", "x"),
        ("seq append / eventsourcing", "append_seq_vs_eventsourcing", "x"),
        ("concurrent append / raw", "append_concurrent_vs_raw", "x"),
    ]
    lines = [f"{'measure':<36} {'value':>12}  {'target':>8}"]
    for label, key, unit in rows:
        value = results[key]
        shown = f"{value:,.2f}" if unit == "x" else f"{value:,.0f}"
        target = TARGETS.get(key)
        verdict = ""
        if target is not None:
            verdict = f">= {target:g}  {'ok' if value >= target else 'MISSED'}"
        lines.append(f"{label:<36} {shown:>12}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eventstore", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--events", type=int, default=2000, help="events per sequential measurement"
    )
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument(
        "--rebuild-events", type=int, default=100_000, help="size of the rebuilt log"
    )
    parser.add_argument(
        "--group-commit",
        type=int,
        default=1,
        help="EventStore(group_commit=...): groups written at once (0 = no grouping)",
    )
    args = parser.parse_args(argv)
    results = asyncio.run(
        run_benchmark(args.events, args.rounds, args.rebuild_events, args.group_commit)
    )
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
