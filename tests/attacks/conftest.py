"""Attack tests run against a worker with its workflow cache off.

Every workflow task then replays the run's whole history before it decides, so each attack
is also a determinism run: a command ordered differently live and on replay would fail the
task here (issue: "no known non-determinism").
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from store import EventStore
from workers.main import build_worker


@pytest.fixture
async def worker(client: Client, store: EventStore, task_queue: str) -> AsyncIterator[Worker]:
    w = build_worker(client, store, task_queue, max_cached_workflows=0)
    async with w:
        yield w
