"""Every scenario file on the native cluster (cli/cluster/), checked as on the dev server.

The session's one cluster (tests/cluster/conftest.py) and its two Accord workers, reached
as a deployment reaches them (`TemporalSettings.from_env` with the cluster's address, the
workers' task queue and store). The files are independent processes, so they are played
all at once (the timer scenarios' waits overlap instead of adding up); each file's run is
then checked by the dev-server test's own `check_scenario_run`
(tests/workflows/test_scenarios.py): every step as the file expects, the events in the
store, the chain verified, and nothing left behind by a refused opening.

Opt-in as the rest of tests/cluster (ACCORD_CLUSTER_TESTS).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cli.scenario import ScenarioRun, run_scenario
from cli.session import Session
from store import EventStore
from tests.cluster.conftest import ClusterUnderTest
from tests.workflows.test_scenarios import FILES, check_scenario_run
from workers.config import TemporalSettings

pytestmark = pytest.mark.cluster

PLAY_BUDGET = 300.0  # seconds for all files at once (~40 s here)


@pytest.fixture(scope="module")
async def cluster_session(native_cluster: ClusterUnderTest) -> AsyncIterator[Session]:
    settings = TemporalSettings.from_env(address=native_cluster.address)
    client = await settings.connect()
    store = await EventStore.connect(native_cluster.database_url)
    try:
        yield Session(client=client, store=store, task_queue=settings.task_queue, embedded=None)
    finally:
        await store.close()


@pytest.fixture(scope="module")
async def played(cluster_session: Session) -> dict[str, ScenarioRun]:
    """Every file's run, played concurrently once for the module."""
    started = time.monotonic()
    runs = await asyncio.wait_for(
        asyncio.gather(*(run_scenario(cluster_session, p, quiet=True) for p in FILES)),
        PLAY_BUDGET,
    )
    print(
        f"\n{len(FILES)} scenario files on the cluster, concurrently:"
        f" {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return {path.stem: run for path, run in zip(FILES, runs, strict=True)}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_scenario_file_on_the_cluster(
    cluster_session: Session, played: dict[str, ScenarioRun], path: Path
) -> None:
    await check_scenario_run(cluster_session, path, played[path.stem])
