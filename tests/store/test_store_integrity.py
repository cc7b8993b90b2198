"""History cannot be rewritten through the database, and rewrites around it are detected."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from store import EventStore, StreamHead, migrate
from store.migrate import migrations
from tests.store.store_support import event


async def test_update_delete_truncate_refused_even_for_superuser(
    store: EventStore, pg: asyncpg.Connection, stream_id: str
) -> None:
    await store.append(stream_id, 0, [event()])
    assert await pg.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    for sql in (
        "UPDATE accord.events SET data = '{}' WHERE stream_id = $1",
        "DELETE FROM accord.events WHERE stream_id = $1",
    ):
        with pytest.raises(asyncpg.PostgresError, match="append-only") as caught:
            await pg.execute(sql, stream_id)
        assert caught.value.sqlstate == "AC004"
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await pg.execute("TRUNCATE accord.events")
    assert len(await store.read_stream(stream_id)) == 1


async def test_app_role_records_and_reads_but_never_rewrites(
    pg: asyncpg.Connection, stream_id: str
) -> None:
    tx = pg.transaction()
    await tx.start()
    try:
        await pg.execute("SET LOCAL ROLE accord_app")
        row = await pg.fetchrow(
            "SELECT * FROM accord.append_events($1, 0, ARRAY[gen_random_uuid()], '{T}', '{1}',"
            " ARRAY['{}'::jsonb], ARRAY[NULL::jsonb], ARRAY['2021-11'], '{NULL}', '{NULL}',"
            " '{NULL}', '{NULL}', ARRAY[sha256('x')])",
            stream_id,
        )
        assert row is not None and row["last_version"] == 1
        position = await pg.fetchval(
            "SELECT accord.append_event($1, 1, gen_random_uuid(), 'T', 1, '{}', NULL,"
            " '2021', NULL, NULL, NULL, NULL, sha256('y'))",
            stream_id,
        )
        assert position > 0  # negative: already recorded
        count = "SELECT count(*) FROM accord.events WHERE stream_id = $1"
        assert await pg.fetchval(count, stream_id) == 2
        assert await pg.fetchval("SELECT count(*) FROM accord.read_feed_data(0, 10)") >= 0
        for sql in (
            # Appends go through the functions only: no row of the chain by hand.
            "INSERT INTO accord.events SELECT * FROM accord.events WHERE stream_id = $1",
            "INSERT INTO accord.streams VALUES ($1 || '-ghost', 1, sha256('g'))",
            "UPDATE accord.streams SET version = 1 WHERE stream_id = $1",
            "DELETE FROM accord.streams WHERE stream_id = $1",
            "TRUNCATE accord.streams",
            "SELECT nextval('accord.event_position_seq')",
            "UPDATE accord.events SET data = '{}' WHERE stream_id = $1",
            "DELETE FROM accord.events WHERE stream_id = $1",
            "TRUNCATE accord.events",
            "DROP TABLE accord.events",
            "UPDATE accord.schema_migrations SET name = 'x'",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with pg.transaction():  # a savepoint, so the outer one survives
                    await pg.execute(sql, *([stream_id] if "$1" in sql else []))
    finally:
        await tx.rollback()  # leave no unverifiable test row behind


async def test_app_role_can_log_in_and_use_the_store(
    store: EventStore, pg: asyncpg.Connection, database_url: str, stream_id: str
) -> None:
    login = f"accord_test_{stream_id[-8:]}"
    password = uuid.uuid4().hex  # the embedded server wants a SCRAM password of every login
    await pg.execute(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE accord_app")
    try:
        url = database_url.replace("postgres@", f"{login}:{password}@", 1)
        async with await EventStore.connect(url, min_size=1, max_size=2) as app_store:
            await app_store.append(stream_id, 0, [event()])
            assert [e.version for e in await app_store.read_stream(stream_id)] == [1]
            assert (await app_store.verify(stream_id)).ok
    finally:
        await pg.execute(f"DROP ROLE {login}")


async def test_tamper_detection_names_the_edited_event(fresh_store: EventStore) -> None:
    for name in ("a", "b", "c"):
        for version in range(4):
            await fresh_store.append(f"process-{name}", version, [event(step=version)])
    assert (await fresh_store.verify()).ok
    heads_before = await fresh_store.heads()

    async with fresh_store.pool.acquire() as conn, conn.transaction():
        # A superuser going around the append-only rule: disable the trigger, edit, re-enable.
        await conn.execute("ALTER TABLE accord.events DISABLE TRIGGER events_append_only")
        await conn.execute(
            "UPDATE accord.events SET data = jsonb_set(data, '{step}', '99')"
            " WHERE stream_id = 'process-b' AND version = 2"
        )
        await conn.execute("ALTER TABLE accord.events ENABLE TRIGGER events_append_only")
    edited = (await fresh_store.read_stream("process-b"))[1]

    report = await fresh_store.verify()

    assert (report.streams_checked, report.events_checked) == (3, 12)
    assert len(report.breaks) == 1
    found = report.breaks[0]
    assert (found.stream_id, found.version, found.position, found.reason) == (
        "process-b",
        2,
        edited.position,
        "digest mismatch",
    )
    assert (await fresh_store.verify("process-b")).breaks == [found]
    assert (await fresh_store.verify("process-a")).ok
    assert await fresh_store.heads() == heads_before  # heads alone do not reveal it


async def test_rewrites_that_fix_the_digest_break_the_chain(fresh_store: EventStore) -> None:
    for version in range(3):
        await fresh_store.append("process-x", version, [event(step=version)])
    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        # Recompute a plausible digest for the edit: the stored hash no longer matches it.
        await conn.execute(
            "UPDATE accord.events SET content_digest = sha256('forged')"
            " WHERE stream_id = 'process-x' AND version = 1"
        )
        await conn.execute(
            "DELETE FROM accord.events WHERE stream_id = 'process-x' AND version = 3"
        )

    breaks = (await fresh_store.verify()).breaks
    assert [(b.version, b.reason) for b in breaks] == [(1, "digest mismatch")]

    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "DELETE FROM accord.events WHERE stream_id = 'process-x' AND version = 1"
        )
    assert [(b.version, b.reason) for b in (await fresh_store.verify()).breaks] == [
        (2, "version gap")
    ]


async def test_a_deleted_last_event_shows_at_the_head(fresh_store: EventStore) -> None:
    for version in range(3):
        await fresh_store.append("process-y", version, [event(step=version)])
    await fresh_store.append("process-z", 0, [event()])
    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "DELETE FROM accord.events WHERE stream_id = 'process-y' AND version = 3"
        )
        await conn.execute("DELETE FROM accord.events WHERE stream_id = 'process-z'")

    report = await fresh_store.verify()
    assert [(b.stream_id, b.version, b.reason) for b in report.breaks] == [
        ("process-y", 2, "head mismatch"),
        ("process-z", 1, "head mismatch"),
    ]


async def test_heads_anchor_each_stream(fresh_store: EventStore) -> None:
    await fresh_store.append("process-1", 0, [event(), event()])
    last = (await fresh_store.read_stream("process-1"))[-1]
    assert await fresh_store.heads() == [StreamHead("process-1", 2, last.hash.hex())]


async def test_migrations_are_idempotent_and_safe_to_race(fresh_database_url: str) -> None:
    import asyncio

    applied = await asyncio.gather(*(migrate(fresh_database_url) for _ in range(3)))
    assert sorted(v for run in applied for v in run) == [m.version for m in migrations()]
    assert await migrate(fresh_database_url) == []
    conn = await asyncpg.connect(fresh_database_url)
    try:
        rows = await conn.fetch("SELECT version FROM accord.schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in migrations()]
    finally:
        await conn.close()
