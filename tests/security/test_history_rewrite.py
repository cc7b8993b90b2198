"""What a database superuser can hide, and what still catches it (SECURITY.md).

With the triggers off, a superuser can rewrite an event and recompute every digest, every
chain link and the stream head: `verify` then passes. Only a head exported earlier
(`accord verify --heads`) and kept outside the database shows the rewrite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from store import EventStore
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


async def test_consistent_rewrite_passes_verify_but_not_an_anchored_head(
    fresh_store: EventStore,
) -> None:
    for version in range(3):
        await fresh_store.append(STREAM, version, [event(venue="The Hague", step=version)])
    anchored = await fresh_store.heads()  # exported and kept elsewhere
    assert (await fresh_store.verify()).ok

    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # triggers off
        await conn.execute(
            "UPDATE accord.events SET data = jsonb_set(data, '{venue}', '\"Elsewhere\"')"
            " WHERE stream_id = $1 AND version = 2",
            STREAM,
        )
    prev = GENESIS_HASH
    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        for row in await fresh_store.read_stream(STREAM):
            digest = content_digest(
                event_id=row.event_id,
                stream_id=row.stream_id,
                version=row.version,
                event_type=row.event_type,
                schema_version=row.schema_version,
                data=row.data,
                metadata=row.metadata,
            )
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
    assert (await fresh_store.verify()).ok  # the database alone cannot tell
    [now] = await fresh_store.heads()
    [before] = anchored
    assert (now.stream_id, now.version) == (before.stream_id, before.version)
    assert now.head_hash != before.head_hash  # the anchored head does
