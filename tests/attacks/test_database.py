"""Finding 8 (issue 12), from outside: the database as the service role sees it, and what
a superuser's tampering leaves for `accord verify --expect-heads` to find.

The service role here is what the worker and the CLI log in as: a login role that is a
member of `accord_app` and nothing more, with a SCRAM password. Every refused statement is
checked for refusal (permission denied) and for zero change (the rows of the chain, byte for
byte, and `verify`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from store import EventStore
from store.digest import GENESIS_HASH, chain_hash, content_digest
from store.embedded import SERVICE_ROLE, database_url, embedded
from tests.processes import accord, completed
from tests.store.store_support import event

# Every test here reaches PostgreSQL, some through the embedded server directly.
pytestmark = pytest.mark.store

# Everything a row of the chain is made of, in one value: any change shows.
_CHAIN_STATE_SQL = """
SELECT (SELECT count(*) FROM accord.events),
       (SELECT coalesce(md5(string_agg(
            concat_ws('|', position, tx_id, event_id, stream_id, version, data::text,
                      recorded_at, encode(hash, 'hex')), ',' ORDER BY position)), '')
          FROM accord.events),
       (SELECT coalesce(md5(string_agg(
            concat_ws('|', stream_id, version, encode(head_hash, 'hex')), ','
            ORDER BY stream_id)), '')
          FROM accord.streams),
       (SELECT last_value FROM accord.event_position_seq)
"""


@dataclass(frozen=True)
class Database:
    superuser_url: str  # set-up and the tampering superuser
    service_url: str  # a member of accord_app and nothing more, with a password
    service_role: str
    service_password: str


@pytest.fixture
async def database(admin_url: str) -> AsyncIterator[Database]:
    """A fresh, migrated database and a service login for it."""
    name = f"accord_attack_{uuid.uuid4().hex[:10]}"
    role = f"accord_attack_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE accord_app")
    base = admin_url.rpartition("/")[0]
    superuser_url = f"{base}/{name}"
    host = base.rpartition("@")[2]
    try:
        async with await EventStore.connect(superuser_url, min_size=1, max_size=2):
            pass  # migrations, as the owner or a superuser would run them
        yield Database(
            superuser_url, f"postgresql://{role}:{password}@{host}/{name}", role, password
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


@pytest.fixture
async def service(database: Database) -> AsyncIterator[EventStore]:
    """The store as the worker has it: connected as the service role."""
    async with await EventStore.connect(database.service_url, min_size=1, max_size=2) as store:
        yield store


async def _chain_state(url: str) -> tuple[Any, ...]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(_CHAIN_STATE_SQL)
        assert row is not None
        return tuple(row)
    finally:
        await conn.close()


async def _seed(store: EventStore) -> None:
    for stream in ("coop-alpha", "coop-beta"):
        for version in range(3):
            await store.append(stream, version, [event(step=version)])


def _ghost_rows(stream_id: str, tx_id: int, first_position: int) -> list[dict[str, Any]]:
    """A correctly chained two-event stream with a hand-chosen tx_id and positions."""
    rows, prev = [], GENESIS_HASH
    recorded_at = datetime(2020, 1, 1, tzinfo=UTC)
    for version in (1, 2):
        new = event(step=version)
        digest = content_digest(
            event_id=new.event_id,
            stream_id=stream_id,
            version=version,
            event_type=new.event_type,
            schema_version=new.schema_version,
            data=new.data,
            metadata=new.metadata,
        )
        position = first_position + version
        link = chain_hash(prev, digest, position, recorded_at)
        rows.append(
            {
                "position": position,
                "tx_id": tx_id,
                "event_id": new.event_id,
                "version": version,
                "event_type": new.event_type,
                "data": json.dumps(dict(new.data)),
                "occurred_on": new.metadata.occurred_on,
                "recorded_at": recorded_at,
                "digest": digest,
                "prev": prev,
                "hash": link,
            }
        )
        prev = link
    return rows


_GHOST_INSERT = (
    "INSERT INTO accord.events (position, tx_id, event_id, stream_id, version, event_type,"
    " schema_version, data, occurred_on, recorded_at, content_digest, prev_hash, hash)"
    " VALUES ($1, $2::text::xid8, $3, $4, $5, $6, 1, $7::text::jsonb, $8, $9, $10, $11, $12)"
)


async def _insert_ghost(conn: asyncpg.Connection, stream_id: str, tx_id: int, first: int) -> None:
    rows = _ghost_rows(stream_id, tx_id, first)
    for r in rows:
        await conn.execute(
            _GHOST_INSERT,
            r["position"],
            str(r["tx_id"]),
            r["event_id"],
            stream_id,
            r["version"],
            r["event_type"],
            r["data"],
            r["occurred_on"],
            r["recorded_at"],
            r["digest"],
            r["prev"],
            r["hash"],
        )
    await conn.execute(
        "INSERT INTO accord.streams (stream_id, version, head_hash) VALUES ($1, 2, $2)",
        stream_id,
        rows[-1]["hash"],
    )


# -- the service role: no direct write to the chain, no way around the triggers -------------


_REFUSED = [
    "INSERT INTO accord.events SELECT * FROM accord.events WHERE stream_id = 'coop-alpha'",
    "UPDATE accord.events SET data = '{}' WHERE stream_id = 'coop-alpha'",
    "DELETE FROM accord.events WHERE stream_id = 'coop-alpha' AND version = 3",
    "TRUNCATE accord.events",
    "INSERT INTO accord.streams VALUES ('coop-ghost', 1, sha256('ghost'))",
    "UPDATE accord.streams SET version = 2, head_hash = sha256('x') WHERE stream_id = 'coop-alpha'",
    "DELETE FROM accord.streams WHERE stream_id = 'coop-alpha'",
    "TRUNCATE accord.streams",
    "SELECT nextval('accord.event_position_seq')",
    "SELECT setval('accord.event_position_seq', 1)",
    "ALTER TABLE accord.events DISABLE TRIGGER events_append_only",
    "ALTER TABLE accord.events DISABLE TRIGGER ALL",
    "SET session_replication_role = replica",
    "DROP TRIGGER events_append_only ON accord.events",
    "CREATE OR REPLACE FUNCTION accord.refuse_history_change() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    "ALTER FUNCTION accord.append_event(text, integer, uuid, text, integer, jsonb, jsonb, text,"
    " text, text, text, text, bytea, jsonb) SECURITY INVOKER",
    "ALTER FUNCTION accord.append_events(text, integer, uuid[], text[], integer[], jsonb[],"
    " jsonb[], text[], text[], text[], text[], text[], bytea[], jsonb[]) SECURITY INVOKER",
    "ALTER FUNCTION accord.append_event_group(text[], integer[], uuid[], text[], integer[],"
    " jsonb[], jsonb[], text[], text[], text[], text[], text[], bytea[], jsonb[])"
    " SECURITY INVOKER",
]


@pytest.mark.parametrize("sql", _REFUSED, ids=lambda sql: " ".join(sql.split()[:4]))
async def test_service_role_cannot_write_the_chain_or_get_around_the_triggers(
    database: Database, service: EventStore, sql: str
) -> None:
    await _seed(service)
    before = await _chain_state(database.superuser_url)
    conn = await asyncpg.connect(database.service_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
    finally:
        await conn.close()
    assert await _chain_state(database.superuser_url) == before
    assert (await service.verify()).ok


async def test_service_role_cannot_insert_a_ghost_stream(
    database: Database, service: EventStore
) -> None:
    """The finding's attack: a chained stream with a tx_id chosen below every reader's
    cursor, so that it passes verify and no consumer ever sees it. Refused, as SQL from
    asyncpg and from psql alike."""
    await _seed(service)
    before = await _chain_state(database.superuser_url)
    conn = await asyncpg.connect(database.service_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await _insert_ghost(conn, "coop-ghost", tx_id=3, first=10_000)
    finally:
        await conn.close()

    [row] = _ghost_rows("coop-ghost", 3, 20_000)[:1]
    psql_code, _, psql_err = await completed(
        embedded().binary("psql"),
        "-X",
        "-v",
        "ON_ERROR_STOP=1",
        database.service_url.replace(f":{database.service_password}@", "@"),
        "-c",
        "INSERT INTO accord.events (position, tx_id, event_id, stream_id, version,"
        " event_type, schema_version, data, occurred_on, recorded_at, content_digest,"
        f" prev_hash, hash) VALUES ({row['position']}, '3', '{row['event_id']}',"
        f" 'coop-ghost', 1, 'ContactLogged', 1, '{{}}', '2021-11-15', now(),"
        f" '\\x{row['digest'].hex()}', '\\x{row['prev'].hex()}', '\\x{row['hash'].hex()}')",
        env={**os.environ, "PGPASSWORD": database.service_password},
        within=30,
    )
    assert psql_code != 0
    assert "permission denied for table events" in psql_err
    assert await _chain_state(database.superuser_url) == before
    assert await service.read_stream("coop-ghost") == []


async def test_service_role_appends_only_through_the_functions_with_the_databases_ids(
    database: Database, service: EventStore
) -> None:
    """What the service may do: append, and the database chooses tx_id, position, time."""
    result = await service.append("coop-alpha", 0, [event()])
    conn = await asyncpg.connect(database.service_url)
    try:
        row = await conn.fetchrow(
            "SELECT position, tx_id::text::bigint AS tx, xmin::text::bigint AS row_xid,"
            " recorded_at FROM accord.events WHERE stream_id = 'coop-alpha'"
        )
        now = await conn.fetchval("SELECT clock_timestamp()")
    finally:
        await conn.close()
    assert row is not None and row["position"] == result.positions[0]
    assert row["tx"] % 2**32 == row["row_xid"]  # written by the transaction it names
    assert abs((now - row["recorded_at"]).total_seconds()) < 60


async def test_service_role_appends_alone_in_batches_and_in_groups(
    database: Database, service: EventStore
) -> None:
    """All three append paths work without a single write privilege on the tables."""
    await service.append("coop-batch", 0, [event(), event(), event()])  # append_events
    groups = service.group_commit
    assert groups is not None
    results = await asyncio.gather(  # concurrent single events: append_event_group
        *(service.append(f"coop-group-{i}", 0, [event()]) for i in range(20))
    )
    assert groups.groups_sent > 0 and groups.grouped_appends > 0
    assert all(r.last_version == 1 for r in results)
    assert await service.stream_version("coop-batch") == 3
    report = await service.verify()
    assert report.ok and report.events_checked == 23


# -- the worker's and the CLI's own connection on the embedded default ----------------------


@pytest.fixture
def worker_url() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL is set: the embedded default is not in use")
    yield database_url()


async def test_the_worker_connects_as_the_service_role_with_a_password(worker_url: str) -> None:
    conn = await asyncpg.connect(worker_url)
    try:
        role = await conn.fetchrow(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication,"
            " rolbypassrls, pg_has_role(current_user, 'accord_owner', 'USAGE') AS owner,"
            " pg_has_role(current_user, 'accord_app', 'USAGE') AS app"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert role is not None
        assert role["rolname"] == SERVICE_ROLE
        assert not any(
            role[k]
            for k in ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")
        )
        assert not role["owner"] and role["app"]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("ALTER TABLE accord.events DISABLE TRIGGER events_append_only")
        triggers = await conn.fetch(
            "SELECT tgname, tgenabled::text FROM pg_trigger"
            " WHERE tgrelid = 'accord.events'::regclass AND NOT tgisinternal ORDER BY tgname"
        )
        assert {t[0]: t[1] for t in triggers} == {
            "events_append_only": "O",
            "events_no_truncate": "O",
            "events_notify_feed": "O",
        }
    finally:
        await conn.close()


async def test_the_service_password_is_required_and_kept_private(worker_url: str) -> None:
    server = embedded()
    assert stat.S_IMODE(server.roles_file.stat().st_mode) == 0o600
    password = server.passwords()[SERVICE_ROLE]
    assert f":{password}@" in worker_url  # the URL carries it; nothing else shows it
    without = worker_url.replace(f":{password}@", "@")
    with pytest.raises(asyncpg.InvalidPasswordError):  # scram-sha-256, not trust
        await asyncpg.connect(without)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(worker_url.replace(f":{password}@", ":not-the-password@"))
    hba = (server.data_dir / "pg_hba.conf").read_text()
    assert "host    all       all       127.0.0.1/32   scram-sha-256" in hba
    assert "trust" not in hba.replace("postgres  127.0.0.1/32   trust", "").replace(
        "postgres  ::1/128        trust", ""
    )


# -- a superuser's tampering, against heads anchored before it ------------------------------


async def _accord(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    return await accord(*args, env={**os.environ, "DATABASE_URL": url, **(env or {})}, within=60)


async def _anchor(database: Database, path: Path) -> dict[str, Any]:
    code, out, err = await _accord(
        database.service_url, "verify", "--heads", "-o", str(path), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["heads_file"]["path"] == str(path)
    document: dict[str, Any] = json.loads(path.read_text())
    return document


async def _expect(database: Database, path: Path) -> tuple[int, dict[str, Any], str]:
    code, out, err = await _accord(
        database.service_url, "verify", "--expect-heads", str(path), "--json"
    )
    assert "Traceback" not in err
    return code, json.loads(out), err


def _found(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["stream_id"], b["reason"]) for b in payload["breaks"]]


async def _as_superuser(database: Database, *statements: str) -> None:
    conn = await asyncpg.connect(database.superuser_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")  # triggers off
            for sql in statements:
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_truncated_events_and_streams_are_reported_against_the_anchor(
    database: Database, service: EventStore, tmp_path: Path
) -> None:
    await _seed(service)
    anchor = tmp_path / "heads.json"
    document = await _anchor(database, anchor)
    assert [s["stream_id"] for s in document["streams"]] == ["coop-alpha", "coop-beta"]

    await _as_superuser(database, "TRUNCATE accord.events, accord.streams")

    assert (await service.verify()).ok  # an empty database checks out by itself
    code, payload, _ = await _expect(database, anchor)
    assert code == 1
    assert _found(payload) == [
        ("coop-alpha", "anchored stream missing"),
        ("coop-beta", "anchored stream missing"),
    ]


async def test_a_tail_deleted_with_its_head_is_reported_against_the_anchor(
    database: Database, service: EventStore, tmp_path: Path
) -> None:
    await _seed(service)
    anchor = tmp_path / "heads.json"
    await _anchor(database, anchor)
    [kept] = [e for e in await service.read_stream("coop-alpha") if e.version == 1]

    # coop-alpha: versions 2-3 gone, the head rewritten to match version 1;
    # coop-beta: gone altogether, with its head row.
    await _as_superuser(
        database,
        "DELETE FROM accord.events WHERE stream_id = 'coop-alpha' AND version > 1",
        f"UPDATE accord.streams SET version = 1, head_hash = '\\x{kept.hash.hex()}'"
        " WHERE stream_id = 'coop-alpha'",
        "DELETE FROM accord.events WHERE stream_id = 'coop-beta'",
        "DELETE FROM accord.streams WHERE stream_id = 'coop-beta'",
    )

    assert (await service.verify()).ok  # consistent on its own
    code, payload, _ = await _expect(database, anchor)
    assert code == 1
    assert _found(payload) == [
        ("coop-alpha", "anchored stream shorter"),
        ("coop-beta", "anchored stream missing"),
    ]
    code, out, err = await _accord(database.service_url, "verify", "--expect-heads", str(anchor))
    assert code == 1 and "Traceback" not in err
    assert "coop-alpha version 1: anchored stream shorter" in out
    assert "anchored at version 3, the log ends at version 1" in out


async def test_a_ghost_stream_is_caught_by_verify_and_by_the_anchor(
    database: Database, service: EventStore, tmp_path: Path
) -> None:
    await _seed(service)
    anchor = tmp_path / "heads.json"
    document = await _anchor(database, anchor)
    conn = await asyncpg.connect(database.superuser_url)
    try:
        async with conn.transaction():
            # Below every reader's cursor and below the anchor's horizon.
            await _insert_ghost(conn, "coop-ghost", tx_id=3, first=10_000)
    finally:
        await conn.close()

    report = await service.verify()
    assert [(b.stream_id, b.version, b.reason) for b in report.breaks] == [
        ("coop-ghost", 1, "tx mismatch")
    ]
    assert document["horizon"] > 3
    code, payload, _ = await _expect(database, anchor)
    assert code == 1
    assert ("coop-ghost", "not in anchor") in _found(payload)
    assert ("coop-ghost", "tx mismatch") in _found(payload)
    assert payload["anchor"]["new_streams"] == []


async def test_streams_begun_after_the_anchor_are_new_not_findings(
    database: Database, service: EventStore, tmp_path: Path
) -> None:
    await _seed(service)
    anchor = tmp_path / "heads.json"
    await _anchor(database, anchor)
    await service.append("coop-alpha", 3, [event()])  # anchored streams may grow
    await service.append("coop-gamma", 0, [event()])

    code, payload, _ = await _expect(database, anchor)
    assert code == 0, payload
    assert payload["ok"] and payload["anchor"]["new_streams"] == ["coop-gamma"]
    code, out, _ = await _accord(database.service_url, "verify", "--expect-heads", str(anchor))
    assert code == 0
    assert "every anchored head in place; 1 stream(s) begun since the anchor: coop-gamma" in out


# -- the heads file: a mistake or a forgery is one line and exit 2 --------------------------


async def test_unusable_heads_files_are_one_line_errors(
    database: Database, service: EventStore, tmp_path: Path
) -> None:
    await _seed(service)
    anchor = tmp_path / "heads.json"
    document = await _anchor(database, anchor)
    edited = dict(document, streams=document["streams"][:1])  # a stream dropped
    cases = {
        "missing": (tmp_path / "absent.json", "cannot read the heads file"),
        "not json": (tmp_path / "garbage.json", "heads file: not JSON"),
        "edited": (tmp_path / "edited.json", "digest does not match its content"),
        "bad field": (tmp_path / "field.json", "streams[0].version must be a positive integer"),
    }
    cases["not json"][0].write_text("{not json")
    cases["edited"][0].write_text(json.dumps(edited))
    bad = dict(document, streams=[dict(document["streams"][0], version="3")])
    cases["bad field"][0].write_text(json.dumps(bad))
    for name, (path, message) in cases.items():
        code, out, err = await _accord(database.service_url, "verify", "--expect-heads", str(path))
        assert code == 2, name
        assert out == "" and err.count("\n") == 1 and message in err, (name, err)
    code, _, err = await _accord(database.service_url, "verify", "-o", str(tmp_path / "x.json"))
    assert code == 2 and "-o/--output needs --heads" in err


async def test_a_signed_anchor_must_keep_its_signature(
    database: Database, service: EventStore, tmp_path: Path
) -> None:
    await _seed(service)
    keys = {"ACCORD_HEADS_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode()}
    anchor = tmp_path / "signed.json"
    code, _, err = await _accord(
        database.service_url, "verify", "--heads", "-o", str(anchor), env=keys
    )
    assert code == 0, err
    document = json.loads(anchor.read_text())
    assert document["signature"]["kid"] == "k1"
    code, payload_text, err = await _accord(
        database.service_url, "verify", "--expect-heads", str(anchor), "--json", env=keys
    )
    assert code == 0 and json.loads(payload_text)["anchor"]["signature_checked"], err

    stripped = tmp_path / "stripped.json"
    stripped.write_text(json.dumps({k: v for k, v in document.items() if k != "signature"}))
    other = {"ACCORD_HEADS_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode()}
    for path, env, message in (
        (stripped, keys, "not signed"),
        (anchor, other, "signature does not verify"),
    ):
        code, out, err = await _accord(
            database.service_url, "verify", "--expect-heads", str(path), env=env
        )
        assert code == 2 and out == "" and message in err, err
