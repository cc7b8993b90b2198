"""Every scenario file, played through the real dev server, worker and PostgreSQL.

The files carry their own expectations (stages, rejection codes, fields and messages, the
events recorded, who is awaited); a run passes only if each step does, the events are in
the store and the hash chain verifies. A file whose opening must be refused passes only if
nothing was left behind, which this test checks again from outside the player.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import RPCError, RPCStatusCode

from cli.scenario import ScenarioRun, failure_line, load, run_scenario
from cli.session import Session
from domain import BusinessDate

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_scenario_file(session: Session, path: Path) -> None:
    run = await run_scenario(session, path, quiet=True)
    await check_scenario_run(session, path, run)


async def check_scenario_run(session: Session, path: Path, run: ScenarioRun) -> None:
    """The outcome of one file's run, as every target must show it (also tests/cluster)."""
    assert run.ok, failure_line(run)
    assert run.verify["ok"], run.verify
    if load(path).opening.expect_rejected is not None:
        assert run.final_stage is None and run.events == [] and run.steps == []
        with pytest.raises(RPCError) as no_workflow:
            await session.client.get_workflow_handle(run.workflow_id).describe()
        assert no_workflow.value.status == RPCStatusCode.NOT_FOUND
        assert await session.store.stream_version(run.workflow_id) == 0
        return
    versions = [e["version"] for e in run.events]
    assert versions == list(range(1, len(versions) + 1))
    assert run.events[0]["type"] == "ProcessOpened"


async def test_story_replays_with_real_dates(session: Session) -> None:
    run = await run_scenario(session, SCENARIOS / "azerbaijan-icmp.yaml", quiet=True)
    assert run.final_stage == "presented"
    dates = {(e["type"], e["occurred_on"]) for e in run.events}
    assert ("ContactLogged", "2018-05-17") in dates
    assert ("InstrumentSigned", "2022-04-04") in dates
    assert ("MissionStarted", "2023-06-05") in dates
    assert ("MissionCompleted", "2023-06-16") in dates
    assert ("PresentationHeld", "2025-03-10") in dates
    # Through Temporal and the store, as written: a year, a month, an approximate month, a
    # range (the record's fidelity to its source: tests/report/test_story_fidelity.py).
    assert ("ProcessReengaged", "2021") in dates
    assert ("InstrumentProposed", "2021-11") in dates
    assert ("MeetingRecorded", "2022-01~") in dates
    assert ("ReportDelivered", "2023-06-16/2025-03-10") in dates
    earliest = [BusinessDate.parse(e["occurred_on"]).earliest for e in run.events]
    assert earliest == sorted(earliest), "business dates never go backwards"
    # the same file again is a separate process
    again = await run_scenario(session, SCENARIOS / "azerbaijan-icmp.yaml", quiet=True)
    assert again.process_id != run.process_id
    assert again.final_stage == "presented"
