"""The append functions as the store calls them: owned by the schema owner, run with its
rights and a fixed search_path, callable by the least-privilege role, chained as one
whoever calls them, and refused inside a savepoint."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from store import EventStore, NewEvent, StoreError
from store.append import append_arguments, append_events
from store.eventstore import _init_connection
from tests.store.store_support import SOURCE, event, metadata

_APPEND_FUNCTIONS = ("append_event", "append_events", "append_event_group")


async def test_append_functions_run_as_the_owner_with_a_fixed_search_path(
    fresh_store: EventStore,
) -> None:
    rows = await fresh_store.pool.fetch(
        "SELECT p.proname, p.prosecdef, pg_get_userbyid(p.proowner) AS owner, p.proconfig"
        "  FROM pg_proc p WHERE p.pronamespace = 'accord'::regnamespace"
        "   AND p.proname = ANY($1::text[]) ORDER BY p.proname",
        list(_APPEND_FUNCTIONS),
    )
    assert sorted(r["proname"] for r in rows) == sorted(_APPEND_FUNCTIONS)
    for row in rows:
        assert row["prosecdef"], row["proname"]
        assert row["owner"] == "accord_owner", row["proname"]
        # pg_catalog first, pg_temp last: no object of the caller's can stand in for a
        # built-in; and plans by index from the first call, whatever the table's size.
        assert "search_path=pg_catalog, pg_temp" in row["proconfig"], row["proname"]
        assert "enable_seqscan=off" in row["proconfig"], row["proname"]


async def test_app_role_appends_through_the_store(
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
            batch = await append_events(conn, "process-app", 2, [event(), event()])
    finally:
        await conn.close()
    assert (one.last_version, two.last_version, batch.last_version) == (1, 2, 4)
    assert retry.already_recorded and retry.positions == two.positions
    recorded = await fresh_store.read_stream("process-app")
    assert [e.event_id for e in recorded[:2]] == [first.event_id, second.event_id]
    assert (await fresh_store.verify("process-app")).ok


async def test_other_clients_and_the_store_chain_as_one(fresh_store: EventStore) -> None:
    """Other clients (other SDKs, psql) call `accord.append_event` as the store does, with
    or without a source (its last argument, NULL by default: a client written before
    sources existed passes the 13 arguments it always did). Interleaved on one stream, they
    make one chain that `verify` accepts."""
    call = (
        "SELECT accord.append_event($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8,"
        " $9, $10, $11, $12, $13{source})"
    )
    without_source = call.format(source="")
    with_source = call.format(source=", $14::text::jsonb")
    cited = NewEvent(
        uuid.uuid4(), "ContactLogged", 1, {"n": 3}, metadata(occurred_on="2021-11", source=SOURCE)
    )
    async with fresh_store.pool.acquire() as conn:
        args = append_arguments("process-mixed", 0, event())
        assert await conn.fetchval(without_source, *args[:13]) > 0
        await fresh_store.append("process-mixed", 1, [event()])
        args = append_arguments("process-mixed", 2, cited)
        assert await conn.fetchval(with_source, *args) > 0
    await fresh_store.append("process-mixed", 3, [event()])
    recorded = await fresh_store.read_stream("process-mixed")
    assert [e.version for e in recorded] == [1, 2, 3, 4]
    assert recorded[2].metadata == cited.metadata
    report = await fresh_store.verify("process-mixed")
    assert report.ok and report.events_checked == 4
    assert (await fresh_store.verify()).ok


@pytest.mark.parametrize("occurred_on", [None, "", "2" * 65], ids=["null", "empty", "too long"])
async def test_the_functions_refuse_a_missing_or_oversized_date(
    fresh_store: EventStore, occurred_on: str | None
) -> None:
    """Any member of accord_app may call the functions: they check the business date
    themselves (every reader expects one, of at most 64 characters), in all three forms."""
    args = list(append_arguments("process-bad-date", 0, event()))
    args[7] = occurred_on
    one = (
        "SELECT accord.append_event($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8,"
        " $9, $10, $11, $12, $13, $14::text::jsonb)"
    )
    batch = (
        "SELECT * FROM accord.append_events($1, $2, $3, $4, $5, $6::text[]::jsonb[],"
        " $7::text[]::jsonb[], $8, $9, $10, $11, $12, $13, $14::text[]::jsonb[])"
    )
    group = (
        "SELECT accord.append_event_group($1, $2, $3, $4, $5, $6::text[]::jsonb[],"
        " $7::text[]::jsonb[], $8, $9, $10, $11, $12, $13, $14::text[]::jsonb[])"
    )
    async with fresh_store.pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError, match="occurred_on") as refused:
            await conn.fetchval(one, *args)
        assert refused.value.sqlstate == "AC003"
        columns = [[value] for value in args]
        for sql, stream_args in ((batch, args[:2]), (group, columns[:2])):
            with pytest.raises(asyncpg.PostgresError, match="occurred_on") as refused:
                await conn.fetchval(sql, *stream_args, *columns[2:])
            assert refused.value.sqlstate == "AC003"
    assert await fresh_store.stream_version("process-bad-date") == 0


@pytest.mark.parametrize("events", [1, 2], ids=["one event", "a batch"])
async def test_an_append_inside_a_savepoint_is_refused_and_writes_nothing(
    fresh_store: EventStore, fresh_database_url: str, events: int
) -> None:
    """Inside a savepoint the row would carry the subtransaction's xid, not the tx_id the
    feed orders by; verify would flag it, so the functions refuse it (AC006)."""
    await fresh_store.append("process-sp", 0, [event()])
    conn = await asyncpg.connect(fresh_database_url)
    await _init_connection(conn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1")
            with pytest.raises(StoreError, match="savepoint"):
                async with conn.transaction():  # a savepoint
                    batch = [event() for _ in range(events)]
                    await append_events(conn, "process-sp", 1, batch)
    finally:
        await conn.close()
    assert [e.version for e in await fresh_store.read_stream("process-sp")] == [1]
    assert await fresh_store.stream_version("process-sp") == 1
    assert (await fresh_store.verify()).ok
