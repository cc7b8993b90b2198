"""Every scenario file, played through the real dev server, worker and PostgreSQL.

The files carry their own expectations (expected stages, expected rejection codes); a run
passes only if each step does, the events are in the store and the hash chain verifies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.scenario import run_scenario
from cli.session import Session

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_scenario_file(session: Session, path: Path) -> None:
    run = await run_scenario(session, path, quiet=True)
    failed = [s.to_json() for s in run.steps if not s.ok]
    assert not failed, failed
    assert run.verify["ok"], run.verify
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
    occurred = [e["occurred_on"] for e in run.events]
    assert occurred == sorted(occurred), "business dates never go backwards"
    # the same file again is a separate process
    again = await run_scenario(session, SCENARIOS / "azerbaijan-icmp.yaml", quiet=True)
    assert again.process_id != run.process_id
    assert again.final_stage == "presented"
