"""One event store benchmark run: a dedicated database created and dropped here, warm-up,
sequential and concurrent sides interleaved in rounds (drift in disk latency hits both
alike), then the library comparison, the batch append and the rebuild; the figures and
their ratios as one dict."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from bench.eventstore.measure import (
    Rate,
    eventsourcing_sequential,
    floor_sequential,
    json_codec,
    raw_concurrent,
    raw_sequential,
    rebuild,
    store_batches,
    store_concurrent,
    store_sequential,
)
from bench.eventstore.workload import BATCH, CONCURRENCY, Writer, domain_batches, log
from store import EventStore
from store.embedded import admin_url
from store.eventstore import _init_connection


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
    await json_codec(raw_conn)
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
        url, min_size=CONCURRENCY, max_size=CONCURRENCY, init=json_codec
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
