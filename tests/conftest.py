"""Shared fixtures: real services, started once per test session.

- PostgreSQL (embedded unless DATABASE_URL is set); each session works in a fresh database
  so that runs never see each other's rows.
- A Temporal dev server (the `temporal` CLI built by make), started on first use, and a
  worker per test on its own task queue.
- Actor tokens are required, as in production: one test key ring (`TEST_ACTOR_KEYS`) is
  put in `ACCORD_ACTOR_KEYS` for the whole session, so every `TemporalSettings.from_env()`
  and every `accord` subprocess a test starts uses it (never the developer's local ring).
  `client` mints a token per start and update for the actor the command names and the
  process it targets (as the CLI does); `worker` (built on `client`) requires them.
  `plain_client` has no interceptor: it sends exactly what a test gives it.

Test layers are markers given at collection (`pytest -m unit`, `make test-unit`): see
`pytest_collection_modifyitems` below.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cli.devserver import DevServerCommand, DevServerProcess
from cli.ports import free_port
from cli.session import Session
from security.actor_binding import ActorBinding
from security.keys import KeyRing
from store import EventStore
from store.embedded import embedded
from tests.actor_keys import TEST_ACTOR_KEYS
from workers.main import build_worker

# Layers, from the cheapest: `unit` needs no service; `store` a PostgreSQL; `temporal` a
# Temporal server (and usually PostgreSQL); `browser` Debian's chromium; `cluster` the native
# cluster. A test's layer follows from what it uses, so nobody has to remember to mark it:
# the fixtures it requests, or its folder for the suites that start their services
# themselves (subprocesses of `accord`, benchmarks, fault runs).
_TEMPORAL_FIXTURES = frozenset({"temporal_env", "client", "plain_client", "worker", "session"})
_STORE_FIXTURES = frozenset({"admin_url", "database_url", "pg", "store"})
_FOLDER_LAYERS = {
    "browser": "browser",
    "cluster": "cluster",
    "faults": "temporal",
    "bench": "temporal",
    "deploy": "temporal",
    "histories": "temporal",
}


def layer_of(item: pytest.Item) -> str:
    folder = item.path.parent.name
    if folder in _FOLDER_LAYERS:
        return _FOLDER_LAYERS[folder]
    used = set(getattr(item, "fixturenames", ()))
    if used & _TEMPORAL_FIXTURES or item.get_closest_marker("temporal"):
        return "temporal"
    if used & _STORE_FIXTURES or item.get_closest_marker("store"):
        return "store"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = layer_of(item)
        if not item.get_closest_marker(layer):
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def admin_url() -> str:
    """URL of a database on the server we may create test databases on."""
    return os.environ.get("DATABASE_URL") or embedded().start()


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    """A fresh, empty database for this test session, dropped afterwards."""
    import asyncio

    name = f"accord_test_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    yield f"{base}/{name}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The session's dev server, launched by the same command line as `accord`'s (headless,
    in memory, Accord's search attributes and settings), reached through the SDK's
    environment so that tests read like the SDK's own."""
    with tempfile.TemporaryDirectory(prefix="accord-temporal-") as data:
        server = DevServerProcess(DevServerCommand(port=free_port(), log_level="error"), Path(data))
        await asyncio.to_thread(server.start)
        try:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            yield WorkflowEnvironment.from_client(client)
        finally:
            await asyncio.to_thread(server.stop)


@pytest.fixture
def actor_keys() -> KeyRing:
    """The session's actor-token ring (the one in `ACCORD_ACTOR_KEYS`)."""
    return TEST_ACTOR_KEYS


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    """A client like the CLI's: each `CooperationProcess` start and each update carries a
    5-minute token minted from `TEST_ACTOR_KEYS` for the actor in its body and the process
    of its workflow id (`acting_as(token)` sends another token, `acting_as(None)` none)."""
    plain = temporal_env.client
    return Client(
        plain.service_client,
        namespace=plain.namespace,
        data_converter=plain.data_converter,
        interceptors=[ActorBinding(keys=TEST_ACTOR_KEYS)],
    )


@pytest.fixture
def plain_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client without Accord's interceptors: no token unless a test puts one itself."""
    return temporal_env.client


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    s = await EventStore.connect(database_url)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def task_queue() -> str:
    return f"accord-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def worker(client: Client, store: EventStore, task_queue: str) -> AsyncIterator[Worker]:
    """Accord's worker, built on `client`: it requires a valid actor token on every
    command (keys `TEST_ACTOR_KEYS`, default maximum lifetime)."""
    w = build_worker(client, store, task_queue)
    async with w:
        yield w


@pytest.fixture
def session(client: Client, store: EventStore, task_queue: str, worker: Worker) -> Session:
    return Session(client=client, store=store, task_queue=task_queue, embedded=None)
