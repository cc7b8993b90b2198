"""One real Temporal dev server per test session (the `temporal` CLI built by make), a
worker per test, and the real PostgreSQL event store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cli.devserver import temporal_binary
from cli.session import Session
from store import EventStore
from workers.main import build_worker
from workflows import search


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=list(search.ALL),
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
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
    w = build_worker(client, store, task_queue)
    async with w:
        yield w


@pytest.fixture
def session(client: Client, store: EventStore, task_queue: str, worker: Worker) -> Session:
    return Session(client=client, store=store, task_queue=task_queue, embedded=None)
