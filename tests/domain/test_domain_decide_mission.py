"""Decider: mission proposal, consents (incl. timers), rescheduling, start and completion."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest

from domain import (
    ConsentGranted,
    ConsentOverdue,
    ConsentRefused,
    DomainError,
    Escalated,
    MissionCompleted,
    MissionProposed,
    MissionRescheduled,
    MissionStarted,
    Stage,
    decide,
)
from domain.dates import BusinessDate
from domain.state import amend, frozen_map
from tests.domain.domain_scenario import (
    AGENCIES,
    CHAIR,
    CONFIG,
    DG,
    MFA_HEAD,
    MISSION_MEMBER,
    PA_HEAD,
    POLICY_DIRECTOR,
    PROGRAM_MANAGER,
    SECRETARY,
    SSS_HEAD,
    SYSTEM,
    Json,
    Run,
    command,
    run_to,
)


def mission(run: Run, tor: int, start_in: int = 30, days: int = 11, **extra: Any) -> dict[str, Any]:
    start = run.today + timedelta(days=start_in)
    return {
        "tor_version": tor,
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(days=days)).isoformat(),
        "team": ["Andreas Kleiser", "Carmen Osorno Solis"],
        "agencies_to_meet": ["mfa", "state_security_service", "presidential_administration"],
    } | extra


def test_propose_mission_asks_every_consent_agency() -> None:
    run = run_to(Stage.INSTRUMENT_SIGNED)
    fields = mission(run, 1)
    events = run.do("propose_mission", POLICY_DIRECTOR, **fields)
    assert events == [
        MissionProposed(
            occurred_on=BusinessDate.of(run.today),
            tor_version=1,
            planned_start=date.fromisoformat(fields["planned_start"]),
            planned_end=date.fromisoformat(fields["planned_end"]),
            team=("Andreas Kleiser", "Carmen Osorno Solis"),
            agencies_to_meet=("mfa", "state_security_service", "presidential_administration"),
        )
    ]
    assert run.stage() == Stage.MISSION_PLANNING
    assert {k: c.status for k, c in run.state.mission.consents.items()} == {
        "mfa": "pending",
        "state_security_service": "pending",
    }


def test_all_consents_make_the_mission_ready() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    events = run.do("grant_consent", MFA_HEAD, tor_version=1, conditions=["no site visits"])
    assert events == [
        ConsentGranted(
            occurred_on=BusinessDate.of(run.today),
            agency="mfa",
            tor_version=1,
            conditions=("no site visits",),
        )
    ]
    assert run.stage() == Stage.MISSION_PLANNING
    run.do("grant_consent", SSS_HEAD, tor_version=1)
    assert run.stage() == Stage.MISSION_READY


def test_consent_rejections() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    error = run.rejects("not_allowed", "grant_consent", DG, tor_version=1)
    assert error.message == (
        "grant_consent: actor party 'partner' may not issue this command; "
        "allowed: the consenting agency itself"
    )
    run.rejects("not_allowed", "grant_consent", PA_HEAD, tor_version=1)  # no consent flag
    run.rejects("not_allowed", "refuse_consent", CHAIR, tor_version=1, reason="no")
    error = run.rejects("guard_failed", "grant_consent", MFA_HEAD, tor_version=2)
    assert error.field == "tor_version"
    run.do("grant_consent", MFA_HEAD, tor_version=1)
    assert (
        "already granted"
        in run.rejects("guard_failed", "grant_consent", MFA_HEAD, tor_version=1).message
    )
    run.rejects("guard_failed", "refuse_consent", MFA_HEAD, tor_version=1, reason="changed mind")
    run_to(Stage.INSTRUMENT_SIGNED).rejects("wrong_stage", "grant_consent", MFA_HEAD, tor_version=1)


def test_refusal_then_rescoped_tor_and_fresh_consents() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    run.do("grant_consent", MFA_HEAD, tor_version=1)
    events = run.do("refuse_consent", SSS_HEAD, tor_version=1, reason="scope too wide")
    assert events == [
        ConsentRefused(
            occurred_on=BusinessDate.of(run.today),
            agency="state_security_service",
            tor_version=1,
            reason="scope too wide",
        )
    ]
    assert run.stage() == Stage.MISSION_PLANNING
    run.rejects("guard_failed", "grant_consent", SSS_HEAD, tor_version=1)
    run.rejects("wrong_stage", "start_mission", DG)
    run.rejects("guard_failed", "propose_mission", DG, **mission(run, 1))
    run.do("propose_mission", DG, **mission(run, 2, agencies_to_meet=["mfa"]))
    # The new ToR version voids the earlier consent of the MFA as well.
    assert run.state.mission.consents_with("pending") == ("mfa", "state_security_service")
    run.rejects("guard_failed", "grant_consent", MFA_HEAD, tor_version=1)
    run.do("grant_consent", MFA_HEAD, tor_version=2)
    run.do("grant_consent", SSS_HEAD, tor_version=2)
    assert run.stage() == Stage.MISSION_READY
    # Re-scoping from mission_ready voids the consents again.
    run.do("propose_mission", DG, **mission(run, 3))
    assert run.stage() == Stage.MISSION_PLANNING


def test_propose_mission_rejections() -> None:
    run = run_to(Stage.INSTRUMENT_SIGNED)
    run.rejects("not_allowed", "propose_mission", CHAIR, **mission(run, 1))
    error = run.rejects("guard_failed", "propose_mission", DG, **mission(run, 1, start_in=-1))
    assert error.field == "planned_start"
    error = run.rejects(
        "invalid_input", "propose_mission", DG, **mission(run, 1, agencies_to_meet=["interpol"])
    )
    assert error.field == "agencies_to_meet"
    run_to(Stage.NEGOTIATING).rejects("wrong_stage", "propose_mission", DG, **mission(run, 1))


def test_consent_deadline_marks_overdue_and_escalates() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    run.do("grant_consent", MFA_HEAD, tor_version=1)
    events = run.do("consent_deadline_reached", SYSTEM, tor_version=1)
    assert events == [
        ConsentOverdue(
            occurred_on=BusinessDate.of(run.today), agency="state_security_service", tor_version=1
        ),
        Escalated(
            occurred_on=BusinessDate.of(run.today),
            agency="state_security_service",
            matter="consent",
            version=1,
            targets=("presidential_administration",),
        ),
    ]
    consent = run.state.mission.consents["state_security_service"]
    assert consent.status == "overdue" and consent.escalated
    assert run.do("consent_deadline_reached", SYSTEM, tor_version=1) == []  # nothing missing now
    run.rejects("wrong_stage", "start_mission", DG)
    run.do("grant_consent", SSS_HEAD, tor_version=1)  # a late consent still counts
    assert run.stage() == Stage.MISSION_READY


def test_consent_deadline_stale_or_out_of_stage_is_a_no_op() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    run.do("propose_mission", DG, **mission(run, 2))
    assert run.do("consent_deadline_reached", SYSTEM, tor_version=1) == []
    ready = run_to(Stage.MISSION_READY)
    assert ready.do("consent_deadline_reached", SYSTEM, tor_version=1) == []
    version = ready.state.version
    assert ready.state.version == version


def test_timer_commands_only_from_system_and_dates_clamped() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    run.rejects("not_allowed", "consent_deadline_reached", DG, tor_version=1)
    run.rejects("not_allowed", "start_mission", SYSTEM)
    last = run.state.last_occurred_on
    events = run.do("consent_deadline_reached", SYSTEM, on=date(2000, 1, 1), tor_version=1)
    assert events and all(e.occurred_on == last for e in events)


def test_escalation_goes_to_another_target_than_the_silent_agency() -> None:
    agencies = copy.deepcopy(AGENCIES)
    agencies[1]["consent_required"] = True  # the presidential administration must consent too
    agencies[0]["escalation_target"] = True
    run = run_to(Stage.MISSION_PLANNING, config=CONFIG | {"agencies": agencies})
    events = run.do("consent_deadline_reached", SYSTEM, tor_version=1)
    targets = {e.agency: e.targets for e in events if isinstance(e, Escalated)}
    assert targets == {
        "mfa": ("presidential_administration",),
        "presidential_administration": ("mfa",),
        "state_security_service": ("mfa", "presidential_administration"),
    }


def test_no_consent_agencies_means_ready_at_once() -> None:
    agencies = [dict(a, consent_required=False) for a in AGENCIES]
    run = run_to(Stage.INSTRUMENT_SIGNED, config=CONFIG | {"agencies": agencies})
    run.do("propose_mission", DG, **mission(run, 1))
    assert run.stage() == Stage.MISSION_READY


def test_reschedule_before_and_during_the_mission() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    later: Json = {
        "planned_start": "2020-06-05",
        "planned_end": "2020-06-16",
        "reason": "elections",
    }
    events = run.do("reschedule_mission", CHAIR, **later)
    assert events == [
        MissionRescheduled(
            occurred_on=BusinessDate.of(run.today),
            planned_start=date(2020, 6, 5),
            planned_end=date(2020, 6, 16),
            reason="elections",
        )
    ]
    assert run.state.mission.planned_start == date(2020, 6, 5)
    assert run.state.mission.consents_with("pending")  # consents are kept
    run.rejects("not_allowed", "reschedule_mission", MFA_HEAD, **later)
    past: Json = later | {"planned_start": "2019-01-01"}
    run.rejects("guard_failed", "reschedule_mission", DG, **past)
    run.rejects("invalid_input", "reschedule_mission", DG, **(later | {"reason": ""}))

    going = run_to(Stage.MISSION_IN_PROGRESS)
    start = going.state.mission.started_on
    assert start is not None
    shorter: Json = {
        "planned_start": start.earliest.isoformat(),
        "planned_end": going.today.isoformat(),
    }
    going.do("reschedule_mission", PROGRAM_MANAGER, **shorter, reason="shortened")
    moved: Json = {"planned_start": going.today.isoformat(), "planned_end": going.today.isoformat()}
    error = going.rejects("guard_failed", "reschedule_mission", DG, **moved, reason="x")
    assert error.field == "planned_start"
    ended: Json = shorter | {"planned_end": start.earliest.isoformat()}
    going.rejects("guard_failed", "reschedule_mission", DG, **ended, reason="x")
    run_to(Stage.INSTRUMENT_SIGNED).rejects("wrong_stage", "reschedule_mission", DG, **later)


def test_start_record_and_complete_mission() -> None:
    run = run_to(Stage.MISSION_READY)
    run.rejects("not_allowed", "start_mission", CHAIR)
    events = run.do("start_mission", MISSION_MEMBER)
    assert events == [MissionStarted(occurred_on=BusinessDate.of(run.today), tor_version=1)]
    assert run.stage() == Stage.MISSION_IN_PROGRESS
    started = run.today
    run.do("record_mission_meeting", SECRETARY, on=run.tick(), received_by=["national_body"])
    run.do(
        "record_mission_meeting",
        DG,
        on=run.tick(),
        received_by=["mfa", "state_security_service", "national_body"],
        location="Baku",
    )
    assert run.state.mission.received_by == ("national_body", "mfa", "state_security_service")
    run.rejects("invalid_input", "record_mission_meeting", DG, received_by=["partner"])
    run.rejects("not_allowed", "record_mission_meeting", MFA_HEAD, received_by=["mfa"])
    end = run.tick(5)
    done: Json = {
        "actual_start": started.isoformat(),
        "actual_end": end.isoformat(),
        "mode": "remote",
    }
    run.rejects("not_allowed", "complete_mission", CHAIR, **done)
    wrong_start: Json = done | {"actual_start": (started + timedelta(days=1)).isoformat()}
    assert (
        run.rejects("guard_failed", "complete_mission", DG, **wrong_start).field == "actual_start"
    )
    future: Json = done | {"actual_end": (end + timedelta(days=1)).isoformat()}
    assert run.rejects("guard_failed", "complete_mission", DG, **future).field == "actual_end"
    events = run.do("complete_mission", DG, **done, coverage_gaps=["Region X not visited"])
    assert events == [
        MissionCompleted(
            occurred_on=BusinessDate.of(end),
            actual_start=started,
            actual_end=end,
            mode="remote",
            coverage_gaps=("Region X not visited",),
        )
    ]
    assert run.stage() == Stage.MISSION_COMPLETED
    assert (run.state.dates.mission_start, run.state.dates.mission_end) == (
        BusinessDate.of(started),
        BusinessDate.of(end),
    )
    run.rejects("wrong_stage", "record_mission_meeting", DG, received_by=["mfa"])


def test_no_mission_starts_without_current_consents_even_if_stage_says_ready() -> None:
    # Invariant 2 is checked by start_mission itself, not only implied by the stage.
    run = run_to(Stage.MISSION_READY)
    consents = dict(run.state.mission.consents)
    consents["mfa"] = amend(consents["mfa"], status="pending")
    missing = amend(run.state, mission=amend(run.state.mission, consents=frozen_map(consents)))
    with pytest.raises(DomainError, match="consents missing for ToR version 1: mfa") as caught:
        decide(missing, command("start_mission", DG, run.today))
    assert caught.value.code == "guard_failed"
    unsigned = amend(run.state, instrument=amend(run.state.instrument, signed_on=None))
    with pytest.raises(DomainError, match="no instrument has been signed"):
        decide(unsigned, command("start_mission", DG, run.today))
