"""The determinism run: every scenario file played by a worker whose workflow cache is off,
then every run's history replayed, with no non-determinism anywhere.

With `max_cached_workflows=0` each workflow task starts from an empty cache and replays the
whole history before it decides: any difference between what the workflow decided live
and what it decides on replay fails that task. The histories are then given to the
`Replayer` as well, which fails on the first difference.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from cli.scenario import run_scenario
from cli.session import Session
from store import EventStore
from tests.workflows.test_replay import replayer
from workers.main import build_worker

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


@pytest.fixture
async def worker(client: Client, store: EventStore, task_queue: str) -> AsyncIterator[Worker]:
    w = build_worker(client, store, task_queue, max_cached_workflows=0)
    async with w:
        yield w


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario_without_a_workflow_cache(session: Session, path: Path) -> None:
    run = await run_scenario(session, path, quiet=True, suffix="det")
    assert run.ok, [s.to_json() for s in run.steps if not s.ok]
    runs = [
        wf.run_id async for wf in session.client.list_workflows(f"WorkflowId = '{run.workflow_id}'")
    ]
    if run.opening is not None and run.opening.outcome == "rejected":
        assert not runs, "a refused opening (opening-refused.yaml) starts no workflow"
        return
    assert runs
    for run_id in runs:
        history = await session.client.get_workflow_handle(
            run.workflow_id, run_id=run_id
        ).fetch_history()
        failed = [
            e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        assert not failed, failed[0].workflow_task_failed_event_attributes.failure.message
        result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure
