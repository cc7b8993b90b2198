"""The evaluation mission: its terms of reference, the agencies' consents, its dates,
its meetings and its end."""

from __future__ import annotations

from datetime import date

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.parties import ProcessConfig
from domain.policy import party
from domain.rules.guards import guard, known
from domain.rules.recorded import recorded
from domain.rules.registry import command_rule
from domain.stages import Stage as S
from domain.state import ProcessState
from domain.vocabulary import NATIONAL_BODY


def _planned_not_past(x: cmd.ProposeMission | cmd.RescheduleMission, on: BusinessDate) -> None:
    # Refused only when the plan is surely in the past: before the earliest possible day.
    guard(
        x.planned_start >= on.earliest,
        x.name,
        f"planned_start {x.planned_start.isoformat()} is before occurred_on {on}",
        "planned_start",
    )


def _within(day: date, span: BusinessDate | None) -> bool:
    """`day` is one of the days an imprecise business date may stand for."""
    return span is not None and span.earliest <= day <= span.latest


def _consent_answerable(s: ProcessState, x: cmd.GrantConsent | cmd.RefuseConsent) -> str:
    agency = x.actor.party
    current = s.mission.tor_version
    guard(
        x.tor_version == current,
        x.name,
        f"tor_version {x.tor_version} is not the current ToR version ({current})",
        "tor_version",
    )
    status = s.mission.consents.get(agency)
    guard(status is not None, x.name, f"no consent of {agency} is awaited")
    assert status is not None
    guard(
        status.status in ("pending", "overdue"),
        x.name,
        f"{agency} has already {status.status} consent for ToR version {current}; "
        "a new ToR version is needed to ask again",
    )
    return agency


@command_rule(
    cmd.ProposeMission,
    who=(party("partner"),),
    stages={S.INSTRUMENT_SIGNED, S.MISSION_PLANNING, S.MISSION_READY},
)
def propose_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.ProposeMission, on: BusinessDate
) -> list[ev.Event]:
    known(c, x.agencies_to_meet, x.name, "agencies_to_meet")
    guard(s.instrument.signed, x.name, "no instrument has been signed")
    current = s.mission.tor_version
    guard(
        x.tor_version > current,
        x.name,
        f"tor_version {x.tor_version} must be greater than the current ToR version ({current})",
        "tor_version",
    )
    _planned_not_past(x, on)
    return [recorded(ev.MissionProposed, x, on)]


@command_rule(cmd.GrantConsent, who=(party("consenting_agency"),), stages={S.MISSION_PLANNING})
def grant_consent(
    s: ProcessState, c: ProcessConfig, x: cmd.GrantConsent, on: BusinessDate
) -> list[ev.Event]:
    agency = _consent_answerable(s, x)
    return [recorded(ev.ConsentGranted, x, on, agency=agency)]


@command_rule(cmd.RefuseConsent, who=(party("consenting_agency"),), stages={S.MISSION_PLANNING})
def refuse_consent(
    s: ProcessState, c: ProcessConfig, x: cmd.RefuseConsent, on: BusinessDate
) -> list[ev.Event]:
    agency = _consent_answerable(s, x)
    return [recorded(ev.ConsentRefused, x, on, agency=agency)]


@command_rule(
    cmd.RescheduleMission,
    who=(party("partner"), party("national_body")),
    stages={S.MISSION_PLANNING, S.MISSION_READY, S.MISSION_IN_PROGRESS},
)
def reschedule_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.RescheduleMission, on: BusinessDate
) -> list[ev.Event]:
    if s.stage == S.MISSION_IN_PROGRESS:
        # Under way only the end can move (extended or shortened), not into the past.
        started = s.mission.started_on
        guard(
            _within(x.planned_start, started),
            x.name,
            f"the mission is under way since {started}; planned_start must stay {started}",
            "planned_start",
        )
        guard(
            x.planned_end >= on.earliest,
            x.name,
            f"planned_end {x.planned_end.isoformat()} is before occurred_on {on}",
            "planned_end",
        )
    else:
        _planned_not_past(x, on)
    return [recorded(ev.MissionRescheduled, x, on)]


@command_rule(cmd.StartMission, who=(party("partner"),), stages={S.MISSION_READY})
def start_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.StartMission, on: BusinessDate
) -> list[ev.Event]:
    # Invariant 2, checked even though mission_ready implies it.
    guard(s.instrument.signed, x.name, "no instrument has been signed")
    missing = s.mission.consents_with("pending", "refused", "overdue")
    guard(
        s.mission.tor_version > 0 and not missing,
        x.name,
        f"consents missing for ToR version {s.mission.tor_version}: {', '.join(missing)}",
    )
    return [recorded(ev.MissionStarted, x, on, tor_version=s.mission.tor_version)]


@command_rule(
    cmd.RecordMissionMeeting,
    who=(party("partner"), party("national_body")),
    stages={S.MISSION_IN_PROGRESS},
)
def record_mission_meeting(
    s: ProcessState, c: ProcessConfig, x: cmd.RecordMissionMeeting, on: BusinessDate
) -> list[ev.Event]:
    known(c, x.received_by, x.name, "received_by", parties=(NATIONAL_BODY,))
    return [recorded(ev.MissionMeetingRecorded, x, on)]


@command_rule(cmd.CompleteMission, who=(party("partner"),), stages={S.MISSION_IN_PROGRESS})
def complete_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.CompleteMission, on: BusinessDate
) -> list[ev.Event]:
    started = s.mission.started_on
    guard(
        _within(x.actual_start, started),
        x.name,
        f"actual_start must be the date the mission started ({started})",
        "actual_start",
    )
    guard(
        x.actual_end <= on.latest,
        x.name,
        f"actual_end {x.actual_end.isoformat()} is after occurred_on {on}",
        "actual_end",
    )
    return [recorded(ev.MissionCompleted, x, on)]
