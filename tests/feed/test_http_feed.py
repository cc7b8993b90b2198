"""A way in without Python (issue 14): the read-only role and `accord feed-server`.

From outside: the database as a login of `accord_reader` (asyncpg), the HTTP feed as a
running `accord feed-server` (real subprocess) read by aiohttp and by a Node.js consumer
(`http_consumer.mjs`, built-in fetch only). Every refusal is checked for zero change.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from cli.ports import free_port
from store import EventStore, feed_reader
from store.embedded import embedded
from store.feed_reader import READER_LOGIN, reader_password_file, setup_reader
from tests.feed.feed_support import consent, feed_from, feed_head
from tests.processes import accord, spawn_accord
from tests.workflows.builders import MFA_HEAD, Driver

TOKEN = "feed-token-" + "x" * 24
CONSUMER = Path(__file__).with_name("http_consumer.mjs")

# Everything a reader could have changed, in one value (as superuser).
_STATE_SQL = """
SELECT (SELECT count(*) FROM accord.events),
       (SELECT coalesce(md5(string_agg(concat_ws('|', position, tx_id, event_id, data::text,
            encode(hash, 'hex')), ',' ORDER BY position)), '') FROM accord.events),
       (SELECT coalesce(md5(string_agg(concat_ws('|', stream_id, version), ','
            ORDER BY stream_id)), '') FROM accord.streams),
       (SELECT count(*) FROM accord.consumer_checkpoints),
       (SELECT count(*) FROM accord.process_view),
       (SELECT last_value FROM accord.event_position_seq)
"""
_EVENT_ARGS = (
    "stream-by-reader",
    0,
    uuid.uuid4(),
    "ContactLogged",
    1,
    "{}",
    "{}",
    None,
    None,
    None,
    None,
    None,
    b"\0" * 32,
)


def _with_host(url: str, role: str, password: str) -> str:
    host_and_db = url.rpartition("@")[2]
    return f"postgresql://{role}:{password}@{host_and_db}"


@pytest.fixture(scope="module")
async def reader_url(store: EventStore, database_url: str) -> AsyncIterator[str]:
    """A login role of the test database's cluster in accord_reader and nothing more."""
    role = f"feed_reader_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    await store.pool.execute(
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE accord_reader"
    )
    try:
        yield _with_host(database_url, role, password)
    finally:
        await store.pool.execute(f"DROP ROLE IF EXISTS {role}")


async def test_the_reader_role_reads_the_feed_and_nothing_else(
    store: EventStore, reader_url: str
) -> None:
    stream = f"reader-{uuid.uuid4().hex[:8]}"
    await store.append(stream, 0, [consent("mfa"), consent("state_security_service")])
    head = await feed_head(store)
    attributes = await store.pool.fetchrow(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication,"
        " rolbypassrls FROM pg_roles WHERE rolname = 'accord_reader'"
    )
    assert attributes is not None and not any(attributes.values())
    before = await store.pool.fetchrow(_STATE_SQL)

    conn = await asyncpg.connect(reader_url)
    try:
        rows = await conn.fetch("SELECT position, stream_id FROM accord.read_feed(0, 100000)")
        assert rows[-1]["position"] == head
        assert [r["stream_id"] for r in rows].count(stream) == 2
        narrow = await conn.fetch("SELECT position FROM accord.read_feed_data(0, 100000)")
        assert [r["position"] for r in narrow] == [r["position"] for r in rows]

        refused = [
            "INSERT INTO accord.events (position, tx_id, event_id, stream_id, version,"
            " event_type, schema_version, data, occurred_on, recorded_at, content_digest,"
            " prev_hash, hash) VALUES (1, '1', gen_random_uuid(), 'ghost', 1, 'X', 1, '{}',"
            " current_date, now(), '\\x00', '\\x00', '\\x00')",
            "UPDATE accord.events SET data = '{}'",
            "DELETE FROM accord.events",
            "TRUNCATE accord.events",
            "SELECT * FROM accord.streams",
            "UPDATE accord.streams SET version = 0",
            "SELECT nextval('accord.event_position_seq')",
            "SELECT * FROM accord.consumer_checkpoints",
            "INSERT INTO accord.consumer_checkpoints (consumer, position) VALUES ('x', 0)",
            "DELETE FROM accord.process_view",
            "TRUNCATE accord.timeline",
            "CREATE TABLE accord.mine (x int)",
        ]
        for sql in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
        # The append functions run as the owner: EXECUTE on one would be a write.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval(
                "SELECT accord.append_event($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8,"
                " $9, $10, $11, $12, $13)",
                *_EVENT_ARGS,
            )
        arrays = [[value] for value in _EVENT_ARGS[2:]]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval(
                "SELECT accord.append_events($1, $2, $3, $4, $5, $6::jsonb[], $7::jsonb[],"
                " $8, $9, $10, $11, $12, $13)",
                "stream-by-reader",
                0,
                *arrays,
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval(
                "SELECT accord.append_event_group($1, $2, $3, $4, $5, $6::jsonb[],"
                " $7::jsonb[], $8, $9, $10, $11, $12, $13)",
                [_EVENT_ARGS[0]],
                [0],
                *arrays,
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval(
                "SELECT accord.append_refused('s', 0, ARRAY[gen_random_uuid()],"
                " ARRAY['\\x00'::bytea])"
            )
    finally:
        await conn.close()
    assert await store.pool.fetchrow(_STATE_SQL) == before


async def test_the_embedded_default_makes_a_reader_login_with_a_private_password(
    store: EventStore, database_url: str
) -> None:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the embedded default only")
    server = embedded()
    database = database_url.rpartition("/")[2]
    setup_reader(server, database)
    setup_reader(server, database)  # idempotent: a second start changes nothing
    path = reader_password_file(server)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    role = await store.pool.fetchrow(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication,"
        " rolbypassrls, (SELECT array_agg(g.rolname) FROM pg_auth_members m"
        "  JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS member_of,"
        " rolpassword IS NULL AS no_password FROM pg_roles r WHERE rolname = $1",
        READER_LOGIN,
    )
    assert role is not None
    assert role["rolcanlogin"] and role["member_of"] == ["accord_reader"]
    assert not any(role[k] for k in ("rolsuper", "rolcreaterole", "rolcreatedb"))
    assert not role["rolreplication"] and not role["rolbypassrls"]
    before = await store.pool.fetchrow(_STATE_SQL)
    assert before is not None
    conn = await asyncpg.connect(feed_reader.reader_url(server, database))
    try:
        assert await conn.fetchval("SELECT count(*) FROM accord.read_feed(0, 100000)") == before[0]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM accord.events")
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            f"postgresql://{READER_LOGIN}:wrong-password@127.0.0.1:{server.port}/{database}"
        )
    assert await store.pool.fetchrow(_STATE_SQL) == before


# -- accord feed-server ------------------------------------------------------------------


def _server_env(reader_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "ACCORD_FEED_TOKEN", "ACCORD_FEED_TOKEN_FILE"}
    }
    return {**env, "ACCORD_FEED_DATABASE_URL": reader_url, **extra}


@dataclass(frozen=True)
class FeedServer:
    url: str
    token: str


async def _spawn_feed_server(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, int]:
    """`accord feed-server` on a free port, its stderr piped; the process and the port."""
    port = free_port()
    process = await spawn_accord("feed-server", "--port", str(port), env=env, stderr=True)
    return process, port


async def _start_feed_server(reader_url: str) -> tuple[asyncio.subprocess.Process, FeedServer]:
    """`accord feed-server` on a free port, once it says where it serves."""
    process, port = await _spawn_feed_server(_server_env(reader_url, ACCORD_FEED_TOKEN=TOKEN))
    assert process.stderr is not None
    try:
        line = await asyncio.wait_for(process.stderr.readline(), 60)
        assert line.startswith(b"feed server on http://127.0.0.1:"), line
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process, FeedServer(f"http://127.0.0.1:{port}", TOKEN)


@pytest.fixture(scope="module")
async def feed_server(reader_url: str) -> AsyncIterator[FeedServer]:
    process, server = await _start_feed_server(reader_url)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0


async def _get(
    server: FeedServer,
    query: str,
    token: str | None = TOKEN,
    path: str = "/events",
    authorization: str | None = None,
) -> tuple[int, dict[str, str], str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if authorization is not None:
        headers = {"Authorization": authorization}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}{path}?{query}", headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.text()


def _one_line_json(body: str) -> dict[str, Any]:
    assert body.endswith("\n") and body.count("\n") == 1, body
    parsed: dict[str, Any] = json.loads(body)
    return parsed


async def test_feed_server_refuses_to_start_without_a_strong_token(
    reader_url: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    cases = [
        ({}, "ACCORD_FEED_TOKEN"),
        ({"ACCORD_FEED_TOKEN": "short-secret-15"}, "at least 16 characters"),
        ({"ACCORD_FEED_TOKEN_FILE": str(tmp_path / "missing")}, "cannot read"),
        ({"ACCORD_FEED_TOKEN_FILE": str(empty)}, "ACCORD_FEED_TOKEN"),
    ]
    for extra, says in cases:
        env = _server_env(reader_url, **extra)
        code, out, text = await accord(
            "feed-server", "--port", str(free_port()), env=env, within=30
        )
        assert code == 2, (extra, text)
        assert text.count("\n") == 1 and says in text, text
        assert "Traceback" not in text and "short-secret-15" not in text and out == ""


async def test_the_token_is_checked_before_anything_else(
    feed_server: FeedServer, store: EventStore
) -> None:
    await store.append(f"auth-{uuid.uuid4().hex[:8]}", 0, [consent("mfa")])
    for token, query, path in [
        (None, "after=0", "/events"),
        ("wrong-token-of-enough-length", "after=0", "/events"),
        (TOKEN + "x", "after=0", "/events"),
        (TOKEN[:-1], "after=0", "/events"),
        (None, "after=bogus&limit=-1", "/events"),  # 401, not 400: parameters come after
        (None, "", "/nowhere"),  # 401, not 404: no path is revealed
    ]:
        status, headers, body = await _get(feed_server, query, token, path)
        assert status == 401, (token, query, path, status)
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert _one_line_json(body)["error"] == "unauthorized"
        assert "position" not in body
    for authorization in [f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer ", f"Bearer  x{TOKEN}"]:
        status, _, body = await _get(feed_server, "after=0", authorization=authorization)
        assert status == 401 and "position" not in body, authorization
    status, _, body = await _get(feed_server, "after=0", f"{TOKEN}", "/events")
    assert status == 200 and body.count("\n") >= 1
    status, _, body = await _get(feed_server, "after=0", authorization=f"bearer {TOKEN}")
    assert status == 200 and body.count("\n") >= 1  # the scheme is case-insensitive


async def test_bad_parameters_get_a_one_line_error_naming_them(
    feed_server: FeedServer, store: EventStore
) -> None:
    await store.append(f"params-{uuid.uuid4().hex[:8]}", 0, [consent("mfa")])
    for query, parameter in [
        ("after=-1", "after"),
        ("after=evil%3Cscript%3E", "after"),
        ("after=1e3", "after"),
        ("after=99999999999999999999", "after"),
        ("after=999999999999", "after"),  # no event has this position
        ("limit=0", "limit"),
        ("limit=lots", "limit"),
        ("wait=-5", "wait"),
        ("wait=1.5", "wait"),
        ("aftr=0", "aftr"),
    ]:
        status, _, body = await _get(feed_server, query)
        assert status == 400, (query, status, body)
        error = _one_line_json(body)
        assert error["error"] == "invalid_parameter" and error["parameter"] == parameter, body
        assert error["message"].startswith(f"{parameter}:") or parameter == "aftr"
        assert "evil" not in body and "script" not in body and "999" not in body
    status, _, body = await _get(feed_server, "", path="/evil%3Cscript%3E")
    assert status == 404 and _one_line_json(body)["error"] == "not_found"
    assert "evil" not in body and "script" not in body
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{feed_server.url}/events", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response,
    ):
        assert response.status == 405
        assert _one_line_json(await response.text())["error"] == "method_not_allowed"
    status, _, body = await _get(feed_server, "after=0&after=1")
    assert status == 400 and "at most once" in _one_line_json(body)["message"]
    status, _, body = await _get(feed_server, "after=0&limit=2")
    assert status == 200 and body.count("\n") == 2
    status, _, body = await _get(feed_server, "after=0&limit=1000000")  # capped
    assert status == 200 and 2 <= body.count("\n") <= 1000


async def test_the_http_feed_is_the_feed_of_accord_events_json(
    feed_server: FeedServer, store: EventStore, database_url: str
) -> None:
    await store.append(f"same-{uuid.uuid4().hex[:8]}", 0, [consent("mfa"), consent("sss")])
    # Paged to the end as a consumer would, resuming after Accord-Last-Position.
    body, after = "", 0
    while True:
        status, headers, page = await _get(feed_server, f"after={after}&limit=1000")
        assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
        if not page:
            break
        assert page.count("\n") <= 1000
        after = int(headers["Accord-Last-Position"])
        assert after == json.loads(page.splitlines()[-1])["position"]
        body += page
    env = {**os.environ, "DATABASE_URL": database_url}
    code, out, err = await accord("events", "--after", "0", "--json", env=env, within=60)
    assert code == 0, err
    assert body == out
    lines = body.splitlines()
    assert [json.loads(line)["position"] for line in lines] == [
        e.position for e in await feed_from(store, 0)
    ]


async def test_a_long_poll_answers_as_soon_as_an_event_is_recorded(
    feed_server: FeedServer, store: EventStore
) -> None:
    head = await feed_head(store)
    started = time.monotonic()
    status, headers, body = await _get(feed_server, f"after={head}&wait=1")
    assert status == 200 and body == "" and headers["Accord-Last-Position"] == str(head)
    assert 0.9 <= time.monotonic() - started < 5

    poll = asyncio.create_task(_get(feed_server, f"after={head}&wait=30"))
    await asyncio.sleep(1.0)
    assert not poll.done()
    stream = f"poll-{uuid.uuid4().hex[:8]}"
    recorded = time.monotonic()
    result = await store.append(stream, 0, [consent("mfa")])
    status, headers, body = await asyncio.wait_for(poll, 10)
    assert time.monotonic() - recorded < 3
    assert status == 200
    [line] = body.splitlines()
    assert json.loads(line)["stream_id"] == stream
    assert headers["Accord-Last-Position"] == str(result.positions[0])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_a_node_consumer_gets_every_event_once_in_order(
    feed_server: FeedServer, store: EventStore, session: Any
) -> None:
    """Events recorded through Accord (commands over Temporal) before and while a Node.js
    program reads the HTTP feed: it gets each exactly once, in feed order."""
    driver = Driver(session, f"http-feed-{uuid.uuid4().hex[:8]}")
    await driver.open()
    await driver.ok("log_contact", "2018-05-17", MFA_HEAD, venue="Baku", modalities=["membership"])
    before = await feed_from(store, 0)

    consumer = await asyncio.create_subprocess_exec(
        "node",
        str(CONSUMER),
        str(len(before) + 3),
        "2",
        "10",
        env={**os.environ, "FEED_URL": feed_server.url, "FEED_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE,
    )
    assert consumer.stdout is not None
    lines: list[str] = []
    while not (lines and lines[-1].startswith("C ")):
        line = await asyncio.wait_for(consumer.stdout.readline(), 30)
        assert line, lines
        lines.append(line.decode().rstrip("\n"))
    assert lines[-1] == f"C {before[-1].position}"
    # While it follows with long polls: three more, by another writer, one at a time.
    later = f"http-feed-later-{uuid.uuid4().hex[:8]}"
    for version in range(3):
        await store.append(later, version, [consent("mfa", version + 1)])
        await asyncio.sleep(0.4)
    out, _ = await asyncio.wait_for(consumer.communicate(), 60)
    lines += out.decode().splitlines()
    assert consumer.returncode == 0, lines[-3:]

    everything = await feed_from(store, 0)
    assert len(everything) == len(before) + 3
    received = [json.loads(line[2:]) for line in lines if line.startswith("E ")]
    positions = [event["position"] for event in received]
    assert positions == [event.position for event in everything]
    assert len(set(positions)) == len(positions)
    # Feed order is commit-safe order, not position order across concurrent writers (other
    # tests' streams here); within each stream versions ascend, and so do the positions of
    # what one writer recorded one after another.
    versions: dict[str, list[int]] = {}
    for e in received:
        versions.setdefault(e["stream_id"], []).append(e["version"])
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    ours = [e["position"] for e in received if e["stream_id"] in {driver.workflow_id, later}]
    assert ours == sorted(ours) and len(ours) == len(versions[driver.workflow_id]) + 3
    assert driver.workflow_id in {e["stream_id"] for e in received[: len(before)]}
    assert [e["stream_id"] for e in received[len(before) :]] == [later] * 3

    refused = await asyncio.create_subprocess_exec(
        "node",
        str(CONSUMER),
        "1",
        env={
            **{k: v for k, v in os.environ.items() if k != "FEED_TOKEN"},
            "FEED_URL": feed_server.url,
        },
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(refused.communicate(), 30)
    assert refused.returncode == 3
    assert out.decode().startswith("R 401 ") and '"position"' not in out.decode()


async def test_a_feed_server_on_a_role_that_may_append_says_so(database_url: str) -> None:
    """Without ACCORD_FEED_DATABASE_URL it falls back to DATABASE_URL, which here may append
    (the session's superuser): it serves, but warns in one line at start."""
    env = _server_env("", ACCORD_FEED_TOKEN=TOKEN, DATABASE_URL=database_url)
    del env["ACCORD_FEED_DATABASE_URL"]
    process, _port = await _spawn_feed_server(env)
    assert process.stderr is not None
    try:
        warning = await asyncio.wait_for(process.stderr.readline(), 60)
        started = await asyncio.wait_for(process.stderr.readline(), 60)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    assert b"may append events" in warning and b"accord_reader" in warning
    assert started.startswith(b"feed server on http://127.0.0.1:")
    assert process.returncode == 0


async def test_sigterm_ends_the_server_promptly_even_with_a_long_poll_waiting(
    reader_url: str, store: EventStore
) -> None:
    process, server = await _start_feed_server(reader_url)
    try:
        poll = asyncio.create_task(_get(server, f"after={await feed_head(store)}&wait=60"))
        await asyncio.sleep(1.0)
        assert not poll.done()
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert time.monotonic() - stopping < 8
        await asyncio.gather(poll, return_exceptions=True)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _sse_messages(
    response: aiohttp.ClientResponse, count: int
) -> list[tuple[str, str, dict[str, Any]]]:
    """The next `count` messages of an event stream: (id, event, data)."""
    messages: list[tuple[str, str, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    while len(messages) < count:
        raw = await asyncio.wait_for(response.content.readline(), 10)
        assert raw, "the stream ended"
        line = raw.decode().rstrip("\n")
        if line == "":
            if fields:
                messages.append((fields["id"], fields["event"], json.loads(fields["data"])))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return messages


async def test_server_sent_events_stream_the_feed_and_resume_by_id(
    feed_server: FeedServer, store: EventStore
) -> None:
    stream_id = f"sse-{uuid.uuid4().hex[:8]}"
    start = await feed_head(store)
    first = await store.append(stream_id, 0, [consent("mfa"), consent("sss")])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{feed_server.url}/events/stream?after={start}") as refused:
            assert refused.status == 401
        async with http.get(
            f"{feed_server.url}/events/stream?after={start}", headers=auth
        ) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            got = await _sse_messages(response, 2)
            assert [(i, e) for i, e, _ in got] == [
                (str(p), "accord-event") for p in first.positions
            ]
            assert [d["version"] for _, _, d in got] == [1, 2]
            later = await store.append(stream_id, 2, [consent("mfa", 2)])
            [(ident, _, data)] = await _sse_messages(response, 1)
            assert ident == str(later.positions[0]) and data["version"] == 3
        # An EventSource reconnecting sends the last id it saw: the stream goes on after it.
        resume = {**auth, "Last-Event-ID": str(first.positions[0])}
        async with http.get(f"{feed_server.url}/events/stream", headers=resume) as response:
            got = await _sse_messages(response, 2)
            assert [d["version"] for _, _, d in got] == [2, 3]
        for headers, query, parameter in [
            (auth, "after=-1", "after"),
            ({**auth, "Last-Event-ID": "x"}, "", "Last-Event-ID"),
            ({**auth, "Last-Event-ID": "999999999999"}, "", "Last-Event-ID"),
        ]:
            async with http.get(
                f"{feed_server.url}/events/stream?{query}", headers=headers
            ) as response:
                assert response.status == 400
                assert _one_line_json(await response.text())["parameter"] == parameter
