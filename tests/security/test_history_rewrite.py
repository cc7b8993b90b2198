"""What a database superuser can hide, and what still catches it (SECURITY.md).

An event edited in place, even with every digest, chain link and the head recomputed, is
caught by `verify` itself: the row version was written by another transaction than its
tx_id names (`tx mismatch`). A superuser who goes further -- deletes the stream and writes
it again in one transaction whose id the rows then carry -- passes `verify`; only a head
exported earlier (`accord verify --heads`) and kept outside the database shows the rewrite,
and `verify(anchor=...)` names it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy

from store import AnchoredHeads, EventStore, RecordedEvent
from store.digest import GENESIS_HASH, chain_hash, content_digest
from tests.store.store_support import event

STREAM = "coop-rewritten"


@pytest.fixture
async def fresh_store(admin_url: str) -> AsyncIterator[EventStore]:
    name = f"accord_sec_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{admin_url.rpartition('/')[0]}/{name}"
        async with await EventStore.connect(url, min_size=1, max_size=2) as store:
            yield store
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _anchor(store: EventStore) -> AnchoredHeads:
    snapshot = await store.export_heads()
    return AnchoredHeads(
        snapshot.horizon,
        {h.stream_id: (h.version, bytes.fromhex(h.head_hash)) for h in snapshot.heads},
    )


def _digest(row: RecordedEvent) -> bytes:
    return content_digest(
        event_id=row.event_id,
        stream_id=row.stream_id,
        version=row.version,
        event_type=row.event_type,
        schema_version=row.schema_version,
        data=row.data,
        metadata=row.metadata,
    )


async def _edit_version_2(conn: asyncpg.Connection | PoolConnectionProxy[Any]) -> None:
    await conn.execute(
        "UPDATE accord.events SET data = jsonb_set(data, '{venue}', '\"Elsewhere\"')"
        " WHERE stream_id = $1 AND version = 2",
        STREAM,
    )


async def test_an_edit_in_place_with_every_hash_recomputed_is_caught_by_verify(
    fresh_store: EventStore,
) -> None:
    for version in range(3):
        await fresh_store.append(STREAM, version, [event(venue="The Hague", step=version)])
    assert (await fresh_store.verify()).ok

    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # triggers off
        await _edit_version_2(conn)
        prev = GENESIS_HASH
        for row in await fresh_store.read_stream(STREAM):
            digest = _digest(row)
            link = chain_hash(prev, digest, row.position, row.recorded_at)
            await conn.execute(
                "UPDATE accord.events SET content_digest = $1, prev_hash = $2, hash = $3"
                " WHERE position = $4",
                digest,
                prev,
                link,
                row.position,
            )
            prev = link
        await conn.execute(
            "UPDATE accord.streams SET head_hash = $1 WHERE stream_id = $2", prev, STREAM
        )

    assert (await fresh_store.read_stream(STREAM))[1].data["venue"] == "Elsewhere"
    report = await fresh_store.verify()
    assert [(b.stream_id, b.version, b.reason) for b in report.breaks] == [
        (STREAM, 1, "tx mismatch")  # every row was rewritten: the first one is named
    ]


async def test_a_stream_written_again_passes_verify_but_not_an_anchored_head(
    fresh_store: EventStore,
) -> None:
    for version in range(3):
        await fresh_store.append(STREAM, version, [event(venue="The Hague", step=version)])
    anchor = await _anchor(fresh_store)  # exported and kept elsewhere
    assert (await fresh_store.verify(anchor=anchor)).ok

    original = await fresh_store.read_stream(STREAM)
    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("DELETE FROM accord.events WHERE stream_id = $1", STREAM)
        tx = await conn.fetchval("SELECT pg_current_xact_id()::text::bigint")
        prev = GENESIS_HASH
        for row in original:
            data = dict(row.data, venue="Elsewhere") if row.version == 2 else row.data
            edited = dataclasses.replace(row, data=data)
            digest = _digest(edited)
            link = chain_hash(prev, digest, row.position, row.recorded_at)
            await conn.execute(
                "INSERT INTO accord.events (position, tx_id, event_id, stream_id, version,"
                " event_type, schema_version, data, actor, occurred_on, recorded_at,"
                " content_digest, prev_hash, hash)"
                " VALUES ($1, $2::text::xid8, $3, $4, $5, $6, $7, $8, $9, $10,"
                " $11, $12, $13, $14)",
                row.position,
                str(tx),  # the rewriting transaction's own id, so that xmin agrees
                row.event_id,
                row.stream_id,
                row.version,
                row.event_type,
                row.schema_version,
                data,
                row.metadata.actor,
                row.metadata.occurred_on,
                row.recorded_at,
                digest,
                prev,
                link,
            )
            prev = link
        await conn.execute(
            "UPDATE accord.streams SET head_hash = $1 WHERE stream_id = $2", prev, STREAM
        )

    assert (await fresh_store.read_stream(STREAM))[1].data["venue"] == "Elsewhere"
    assert (await fresh_store.verify()).ok  # the database alone cannot tell
    [now] = (await fresh_store.export_heads()).heads
    assert (now.stream_id, now.version) == (STREAM, 3)
    assert bytes.fromhex(now.head_hash) != anchor.heads[STREAM][1]  # the anchored head does
    report = await fresh_store.verify(anchor=anchor)
    assert [(b.stream_id, b.version, b.reason) for b in report.breaks] == [
        (STREAM, 3, "anchored head differs")
    ]
