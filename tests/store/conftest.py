"""Store fixtures: a migrated EventStore on the session database, and throwaway databases
for tests that damage history on purpose (tampering) or need an empty schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from store import EventStore


@pytest.fixture(scope="session")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with await EventStore.connect(database_url, min_size=2, max_size=20) as event_store:
        yield event_store


@pytest.fixture
async def fresh_database_url(admin_url: str) -> AsyncIterator[str]:
    name = f"accord_store_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def fresh_store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    async with await EventStore.connect(fresh_database_url, min_size=1, max_size=4) as s:
        yield s


@pytest.fixture
def stream_id() -> Iterator[str]:
    yield f"process-{uuid.uuid4().hex[:12]}"
