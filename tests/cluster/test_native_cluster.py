"""Accord on the native Temporal cluster (cli/cluster/): the story through the CLI, and
a history process SIGKILLed in the middle of a burst of commands.

Opt-in (tests/cluster/conftest.py): ACCORD_CLUSTER_TESTS=1.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from collections import Counter

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.cluster import TEMPORAL_SERVICES
from security.actor_binding import ActorBinding
from store import EventStore
from store.embedded import project_root
from tests.actor_keys import TEST_ACTOR_KEYS
from tests.cluster.conftest import ClusterUnderTest
from tests.faults.test_faults import StoryClient, Tally, plan_story
from tests.processes import completed

pytestmark = pytest.mark.cluster

ROOT = project_root()
ACCORD = str(ROOT / ".venv" / "bin" / "accord")
# Half the dev-server fault test's 30 (tests/faults): four kills, CI's time budget.
PROCESSES = 15
KILL_AT = 0.3  # share of all steps done when the victim is killed
DOWN_FOR = 3.0  # seconds before it is restarted
DRIVE_BUDGET = 360.0


async def accord(*args: str, env: dict[str, str], within: float = 300) -> tuple[int, str, str]:
    """The installed `accord` script, as an operator of the cluster runs it."""
    return await completed(ACCORD, *args, env=env, cwd=ROOT, within=within)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body.decode()


async def status(native_cluster: ClusterUnderTest) -> dict[str, object]:
    env = {**native_cluster.env(), "ACCORD_DATA_DIR": str(native_cluster.root)}
    code, out, err = await accord("cluster", "status", "--json", env=env, within=60)
    report: dict[str, object] = json.loads(out)
    assert code == (0 if report["healthy"] else 1), err
    return report


@pytest.mark.timeout(600)
async def test_status_reports_every_process_healthy(native_cluster: ClusterUnderTest) -> None:
    report = await status(native_cluster)
    assert report["healthy"] is True, report
    assert report["cluster_health"] == "SERVING"
    processes = report["processes"]
    assert isinstance(processes, dict)
    expected = {*TEMPORAL_SERVICES, "ui", "accord-worker-1", "accord-worker-2"}
    assert expected <= set(processes)
    pids = [p["pid"] for p in processes.values()]
    assert all(p["alive"] for p in processes.values())
    assert len(set(pids)) == len(pids), "one OS process each"
    # Every Temporal process serves its Prometheus metrics on its own loopback port (the
    # Accord workers too: tests/cluster/test_cluster_metrics.py).
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    assert set(metrics) == {*TEMPORAL_SERVICES, "accord-worker-1", "accord-worker-2"}
    for name in TEMPORAL_SERVICES:
        url = metrics[name]
        assert url.startswith("http://127.0.0.1:")
        text = await asyncio.to_thread(scrape, url)
        assert "# TYPE " in text and "persistence_requests" in text, url


@pytest.mark.timeout(600)
async def test_story_reaches_presented_on_the_cluster(native_cluster: ClusterUnderTest) -> None:
    story = str(ROOT / "scenarios" / "azerbaijan-icmp.yaml")
    code, out, err = await accord("scenario", "run", story, "--json", env=native_cluster.env())
    assert code == 0, err[-3000:]
    run = json.loads(out)
    assert run["final_stage"] == "presented"
    assert run["verify"]["ok"] is True
    assert all(s["ok"] for s in run["steps"])


# Each process killed in turn, in the middle of its own burst (the Accord worker: the
# other one keeps polling the task queue).
VICTIMS = ("history-1", "matching", "frontend", "accord-worker-1")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("victim", VICTIMS)
async def test_process_killed_mid_burst(native_cluster: ClusterUnderTest, victim: str) -> None:
    """kill -9 of `victim` while PROCESSES processes play the story at once; restarted
    after DOWN_FOR s: nothing lost or recorded twice, every chain intact."""
    story = plan_story()
    total = PROCESSES * len(story.steps)
    client = await Client.connect(
        native_cluster.address,
        data_converter=pydantic_data_converter,
        interceptors=[ActorBinding(keys=TEST_ACTOR_KEYS)],
    )
    cluster = native_cluster.cluster
    async with await EventStore.connect(native_cluster.database_url, max_size=10) as store:
        tally = Tally()
        run_id = f"{int(time.time()) % 100000:05d}"
        drivers = [
            StoryClient(client, store, "accord", f"kill-{victim}-{run_id}-{i:02d}", tally)
            for i in range(PROCESSES)
        ]
        timeline: list[str] = []
        at_kill: list[int] = []
        started = time.monotonic()

        async def fault() -> None:
            await tally.reached(int(total * KILL_AT))
            pid = cluster.state.pids[victim]
            at_kill.append(tally.steps_done)
            timeline.append(f"{time.monotonic() - started:.1f}s kill -9 {victim} ({pid})")
            await asyncio.to_thread(cluster.kill, victim)
            await asyncio.sleep(DOWN_FOR)
            await asyncio.to_thread(cluster.spawn, victim)
            timeline.append(f"{time.monotonic() - started:.1f}s {victim} restarted")

        injector = asyncio.create_task(fault())
        runs = [asyncio.create_task(d.run(story)) for d in drivers]
        done, pending = await asyncio.wait(runs, timeout=DRIVE_BUDGET)
        for task in pending:
            task.cancel()
        await asyncio.wait(runs)
        drive = time.monotonic() - started
        print(f"\ntimeline (drive {drive:.1f}s): {timeline}\nclient: {tally.summary()}")
        failures = [str(t.exception()) for t in done if t.exception() is not None]
        assert not pending and not failures, (len(pending), failures)
        assert injector.done(), timeline
        injector.result()
        # The kill hit the burst in its middle, not before or after it.
        assert at_kill and 0 < at_kill[0] < total, (at_kill, total)

        expected = story.event_types
        lost = duplicated = gaps = presented = 0
        for d in drivers:
            events = await store.read_stream(d.workflow_id)
            types = [e.event_type for e in events]
            lost += sum((Counter(expected) - Counter(types)).values())
            duplicated += sum((Counter(types) - Counter(expected)).values())
            gaps += [e.version for e in events] != list(range(1, len(events) + 1))
            view = await client.get_workflow_handle(d.workflow_id).query("status")
            presented += view["stage"] == "presented" and view["version"] == len(events)
        report = await store.verify()
        print(
            f"cluster fault: {victim} processes={PROCESSES} steps={total} lost={lost}"
            f" duplicated={duplicated} gaps={gaps} presented={presented}"
            f" chains={report.streams_checked} breaks={len(report.breaks)}"
        )
        assert (lost, duplicated, gaps) == (0, 0, 0)
        assert presented == PROCESSES
        assert report.ok and report.streams_checked >= PROCESSES

    # Every process answers again, the restarted history process included.
    deadline = time.monotonic() + 60
    while True:
        state = await status(native_cluster)
        if state["healthy"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    assert state["healthy"] is True, state
    assert os.path.exists(f"/proc/{cluster.state.pids[victim]}")
