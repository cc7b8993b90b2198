"""Awaiting (DOMAIN.md "Awaiting and clocks"): who the process waits on, for what, since when."""

from __future__ import annotations

import pytest

from domain import Stage, decide, fold
from domain.awaiting import awaiting, conclusions_due
from tests.domain.domain_scenario import HAPPY_PATH, MFA_HEAD, SSS_HEAD, Run, command, run_to


def labels(run: Run) -> set[str]:
    return {a.label() for a in awaiting(run.state)}


def test_the_storys_next_command_is_always_awaited() -> None:
    """Walking the happy path, each next command comes from a party the model names."""
    run = Run()
    name, who, fields = HAPPY_PATH[0]
    run.do(name, who, **fields(run))
    for name, who, fields in HAPPY_PATH[1:]:
        run.tick()
        assert f"{who['party']}: {name}" in labels(run), (run.stage(), name)
        run.do(name, who, **fields(run))
    assert awaiting(run.state) == ()  # closed: nobody


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (Stage.MISSION_READY, {"partner: start_mission"}),
        (Stage.ACCEPTED, {"national_body: hold_presentation"}),
        (Stage.OPTIONS_REVIEW, {"national_body: submit_opinion", "mfa: assign_representative"}),
        (Stage.MISSION_COMPLETED, {"partner: deliver_report"}),
        (
            Stage.REVISION if False else Stage.CONCLUSIONS_SUBMITTED,
            {"national_body: accept_report"},
        ),
    ],
)
def test_awaited_by_stage(stage: Stage, expected: set[str]) -> None:
    assert labels(run_to(stage)) == expected


def test_since_is_the_date_the_stage_began() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    began = run.state.last_occurred_on
    run.tick(5)
    run.do("grant_consent", MFA_HEAD, tor_version=1)
    assert {a.since for a in awaiting(run.state)} == {began}
    assert labels(run) == {"state_security_service: grant_consent"}


def test_conclusions_are_awaited_only_when_the_guard_holds() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    assert "mfa: submit_conclusions" not in labels(run)
    assert not conclusions_due(run.state)
    run.do("submit_review", MFA_HEAD, report_version=1, conclusions="Agreed.")
    run.do("submit_review", SSS_HEAD, report_version=1, conclusions="Agreed.")
    assert conclusions_due(run.state)
    assert labels(run) == {"mfa: submit_conclusions"}
    # The same predicate as decide's guard: the command is accepted now.
    assert decide(run.state, command("submit_conclusions", MFA_HEAD, run.today, report_version=1))


def test_a_suspended_process_awaits_the_party_that_suspended() -> None:
    run = run_to(Stage.MISSION_READY)
    run.do("suspend", {"party": "partner", "role": "director_general"}, reason="Elections")
    assert labels(run) == {"partner: resume"}
    assert fold([], run.state).stage == Stage.SUSPENDED
