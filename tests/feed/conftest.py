"""Feed fixtures: a migrated EventStore on the session database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from store import EventStore


@pytest.fixture(scope="session")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with await EventStore.connect(database_url, min_size=2, max_size=20) as event_store:
        yield event_store
