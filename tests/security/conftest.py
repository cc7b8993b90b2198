"""Clients built the way production builds them (`TemporalSettings.connect`), with or
without codec and actor binding, on the session's dev server (`tests/conftest.py`)."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from security.keys import KeyRing
from store import EventStore
from tests.actor_keys import TEST_ACTOR_KEYS
from workers.config import TemporalSettings
from workers.main import build_worker


def ring(*kids: str) -> KeyRing:
    """A ring of fresh random 32-byte keys, first = current."""
    return KeyRing(tuple((kid, os.urandom(32)) for kid in kids))


def ring_text(keys: KeyRing) -> str:
    return ",".join(f"{kid}:{base64.b64encode(secret).decode()}" for kid, secret in keys.entries)


@pytest.fixture
def plain_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client with no codec and no interceptor: sees exactly what the server stores."""
    return temporal_env.client


@pytest.fixture
def settings_for(temporal_env: WorkflowEnvironment) -> Callable[..., TemporalSettings]:
    """Settings for the test's own task queue, with the given security fields."""
    address = temporal_env.client.service_client.config.target_host
    task_queue = f"accord-sec-{uuid.uuid4().hex[:8]}"

    def make(**security: Any) -> TemporalSettings:
        # Actor tokens are always required: the session's ring unless a test gives one.
        security = {"actor_keys": TEST_ACTOR_KEYS, **security}
        return TemporalSettings(
            address=address, namespace="default", task_queue=task_queue, **security
        )

    return make


@pytest.fixture
def running(store: EventStore) -> Callable[[TemporalSettings], Any]:
    """`async with running(settings) as session`: a client and an in-process worker."""

    @asynccontextmanager
    async def run(settings: TemporalSettings) -> AsyncIterator[Session]:
        client = await settings.connect()
        async with build_worker(client, store, settings.task_queue):
            yield Session(client=client, store=store, task_queue=settings.task_queue, embedded=None)

    return run
