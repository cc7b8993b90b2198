"""Replay of recorded histories: a non-deterministic change to workflow code fails here.

`tests/histories/<workflow id>.json` are real histories of the story and its variants, exported from
the dev server. Regenerate them (only when the workflow code changed *compatibly*, e.g.
behind `workflow.patched`) with:

    ACCORD_EXPORT_HISTORIES=1 .venv/bin/pytest tests/workflows/test_replay.py -k export
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from cli.scenario import run_scenario
from cli.session import Session
from workers.main import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
EXPORTED = [
    "azerbaijan-icmp",
    "consent-refused-rescoped",
    "consents-overdue",
    "reviewer-silent",
    "report-disputed-revised",
    "withdrawal-mid-review",
    "suspension-resumed",
]
FILES = sorted(HISTORIES.glob("*.json"))


def replayer() -> Replayer:
    return Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )


def test_histories_are_committed() -> None:
    names = {p.stem for p in FILES}
    missing = [n for n in EXPORTED if f"coop-{_process_id(n)}-h" not in names]
    assert not missing, f"export the histories first (see module docstring): {missing}"


def _process_id(scenario: str) -> str:
    from cli.scenario import load

    return str(load(SCENARIOS / f"{scenario}.yaml").process["process_id"])


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@pytest.mark.skipif(
    not os.environ.get("ACCORD_EXPORT_HISTORIES"), reason="set ACCORD_EXPORT_HISTORIES=1"
)
async def test_export(session: Session) -> None:
    HISTORIES.mkdir(exist_ok=True)
    for name in EXPORTED:
        run = await run_scenario(session, SCENARIOS / f"{name}.yaml", quiet=True, suffix="h")
        assert run.ok, [s.to_json() for s in run.steps if not s.ok]
        # Every run of the process, continued-as-new ones included, named by workflow id
        # (and run number after the first).
        runs = [
            wf.run_id
            async for wf in session.client.list_workflows(f"WorkflowId = '{run.workflow_id}'")
        ]
        for number, run_id in enumerate(reversed(runs)):
            handle = session.client.get_workflow_handle(run.workflow_id, run_id=run_id)
            history = await handle.fetch_history()
            suffix = f"-run{number + 1}" if number else ""
            (HISTORIES / f"{run.workflow_id}{suffix}.json").write_text(history.to_json())
