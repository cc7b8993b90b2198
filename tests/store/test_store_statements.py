"""The one-event append as the store sends it: a plain statement, planned by index from the
first call, runnable by the least-privilege role, chained as one with `accord.append_event`."""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from store import EventStore
from store.eventstore import (
    _APPEND_NEXT_SQL,
    _init_connection,
    append_events,
)
from store.group_commit import append_arguments
from tests.store.store_support import event

_ARGUMENTS = (
    "('process-x', 1, gen_random_uuid(), 'T', 1, '{}', NULL, current_date, NULL, NULL, NULL,"
    " NULL, sha256('x'))"
)


async def _plan(conn: asyncpg.Connection | PoolConnectionProxy[Any], sql: str) -> str:
    await conn.execute(f"PREPARE accord_append_plan AS {sql}")
    try:
        rows = await conn.fetch(f"EXPLAIN EXECUTE accord_append_plan{_ARGUMENTS}")
    finally:
        await conn.execute("DEALLOCATE accord_append_plan")
    return "\n".join(row[0] for row in rows)


async def test_store_sessions_look_heads_up_by_key_on_tiny_tables(
    fresh_store: EventStore, fresh_database_url: str
) -> None:
    await fresh_store.append("process-x", 0, [event()])  # one head: a seq scan looks cheaper
    async with fresh_store.pool.acquire() as conn:
        await conn.execute("ANALYZE accord.streams")  # the planner now knows it is tiny
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        assert await conn.fetchval("SHOW enable_seqscan") == "off"
        plan = await _plan(conn, _APPEND_NEXT_SQL)
        assert "streams_pkey" in plan and "Seq Scan" not in plan, plan
    # What the settings prevent: a session without them plans the head lookup as a seq scan,
    # and a generic plan keeps it after the table has grown.
    plain = await asyncpg.connect(fresh_database_url)
    try:
        await plain.execute("SET plan_cache_mode = force_generic_plan")
        assert "Seq Scan on streams" in await _plan(plain, _APPEND_NEXT_SQL)
    finally:
        await plain.close()


async def test_app_role_appends_through_the_store_statements(
    fresh_store: EventStore, fresh_database_url: str
) -> None:
    first, second = event(), event()
    conn = await asyncpg.connect(fresh_database_url)
    await _init_connection(conn)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE accord_app")
            one = await append_events(conn, "process-app", 0, [first])
            two = await append_events(conn, "process-app", 1, [second])
            retry = await append_events(conn, "process-app", 1, [second])
    finally:
        await conn.close()
    assert (one.last_version, two.last_version) == (1, 2)
    assert retry.already_recorded and retry.positions == two.positions
    assert [e.event_id for e in await fresh_store.read_stream("process-app")] == [
        first.event_id,
        second.event_id,
    ]


async def test_function_and_statement_appends_chain_as_one(fresh_store: EventStore) -> None:
    """Other clients call `accord.append_event`; the store sends the same statement itself.
    Interleaved on one stream, they make one chain that `verify` accepts."""
    call = (
        "SELECT accord.append_event($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8,"
        " $9, $10, $11, $12, $13)"
    )
    async with fresh_store.pool.acquire() as conn:
        assert await conn.fetchval(call, *append_arguments("process-mixed", 0, event())) > 0
        await fresh_store.append("process-mixed", 1, [event()])
        assert await conn.fetchval(call, *append_arguments("process-mixed", 2, event())) > 0
    await fresh_store.append("process-mixed", 3, [event()])
    recorded = await fresh_store.read_stream("process-mixed")
    assert [e.version for e in recorded] == [1, 2, 3, 4]
    report = await fresh_store.verify("process-mixed")
    assert report.ok and report.events_checked == 4
    assert (await fresh_store.verify()).ok
