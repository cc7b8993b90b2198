"""Commands: what a party asks the process to do. Strict, bounded, validated before deciding.

`OpenProcess` carries the configuration nested as `process: ProcessConfig` (not flattened),
so the same object is stored on `ProcessOpened` and read back by the state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from domain.errors import DomainError
from domain.parties import Actor, ProcessConfig, Signatory
from domain.vocabulary import (
    AgencyKey,
    Classification,
    InstrumentType,
    LanguageCode,
    Line,
    MeetingFormat,
    MissionMode,
    Modality,
    Name,
    NoNul,
    PartyKey,
    Recommendation,
    Text,
    Version,
)


def _distinct(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(values)) != len(values):
        raise ValueError("items must be distinct")
    return values


Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000), NoNul]
Keys = Annotated[tuple[PartyKey, ...], Field(max_length=30), AfterValidator(_distinct)]
Lines = Annotated[tuple[Line, ...], Field(max_length=50)]


def _not_before(start_field: str) -> Any:
    """A validator that rejects an end date earlier than its start date."""

    def check(end: date, info: ValidationInfo) -> date:
        start = info.data.get(start_field)
        if start is not None and end < start:
            raise ValueError(f"must not be earlier than {start_field} ({start.isoformat()})")
        return end

    return check


class Command(BaseModel):
    """Common shape: who acts and the business date the act happened on."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: ClassVar[str]

    actor: Actor
    occurred_on: date


# --- Opening and first contacts -------------------------------------------------------


class OpenProcess(Command):
    name = "open_process"
    process: ProcessConfig


class LogContact(Command):
    name = "log_contact"
    venue: Name
    participants: Annotated[tuple[Name, ...], Field(max_length=50)] = ()
    modalities: Annotated[tuple[Modality, ...], Field(max_length=2), AfterValidator(_distinct)] = ()
    summary: Text = ""


class SubmitOpinion(Command):
    name = "submit_opinion"
    recommendation: Recommendation
    conditions: Annotated[tuple[Line, ...], Field(max_length=20)] = ()
    summary: Text = ""


class AssignRepresentative(Command):
    name = "assign_representative"
    representative: Name
    title: Name | None = None


class RecordMeeting(Command):
    name = "record_meeting"
    format: MeetingFormat
    location: Name | None = None
    agencies_present: Keys = ()
    initiator: PartyKey
    summary: Text = ""


class MarkDormant(Command):
    name = "mark_dormant"
    reason: Text = ""


class ReEngage(Command):
    name = "re_engage"
    initiator: PartyKey
    summary: Text = ""


# --- The instrument --------------------------------------------------------------------


class ProposeInstrument(Command):
    name = "propose_instrument"
    type: InstrumentType
    draft_version: Version
    title: Name | None = None
    summary: Text = ""


class ClearInstrument(Command):
    name = "clear_instrument"
    draft_version: Version


class SignInstrument(Command):
    name = "sign_instrument"
    draft_version: Version
    place: Name
    signatories: Annotated[tuple[Signatory, ...], Field(min_length=1, max_length=20)]


# --- The mission -----------------------------------------------------------------------


class ProposeMission(Command):
    name = "propose_mission"
    tor_version: Version
    planned_start: date
    planned_end: date
    team: Annotated[tuple[Name, ...], Field(min_length=1, max_length=30)]
    agencies_to_meet: Keys = ()
    purpose: Text = ""

    check_dates = field_validator("planned_end")(_not_before("planned_start"))


class GrantConsent(Command):
    name = "grant_consent"
    tor_version: Version
    conditions: Annotated[tuple[Line, ...], Field(max_length=20)] = ()


class RefuseConsent(Command):
    name = "refuse_consent"
    tor_version: Version
    reason: Reason


class RescheduleMission(Command):
    name = "reschedule_mission"
    planned_start: date
    planned_end: date
    reason: Reason

    check_dates = field_validator("planned_end")(_not_before("planned_start"))


class StartMission(Command):
    name = "start_mission"
    note: Text = ""


class RecordMissionMeeting(Command):
    name = "record_mission_meeting"
    received_by: Annotated[Keys, Field(min_length=1)]
    location: Name | None = None
    summary: Text = ""


class CompleteMission(Command):
    name = "complete_mission"
    actual_start: date
    actual_end: date
    mode: MissionMode
    coverage_gaps: Annotated[tuple[Line, ...], Field(max_length=20)] = ()

    check_dates = field_validator("actual_end")(_not_before("actual_start"))


# --- The report ------------------------------------------------------------------------


class DeliverReport(Command):
    name = "deliver_report"
    title: Name
    version: Version
    recipient: AgencyKey
    classification: Classification


class SubmitReview(Command):
    name = "submit_review"
    report_version: Version
    conclusions: Text
    proposals: Lines = ()


class SubmitConclusions(Command):
    name = "submit_conclusions"
    report_version: Version
    summary: Text = ""
    proposals: Lines = ()


class RequestRevision(Command):
    name = "request_revision"
    report_version: Version
    points: Annotated[Lines, Field(min_length=1)]


class ReviseReport(Command):
    name = "revise_report"
    version: Version
    title: Name | None = None
    changes: Text = ""


class AcceptReport(Command):
    name = "accept_report"
    report_version: Version


class HoldPresentation(Command):
    name = "hold_presentation"
    venue: Name
    attendee_categories: Annotated[tuple[Name, ...], Field(max_length=20)] = ()


class ClearPublication(Command):
    name = "clear_publication"


class PublishReport(Command):
    name = "publish_report"
    languages: Annotated[
        tuple[LanguageCode, ...], Field(min_length=1, max_length=10), AfterValidator(_distinct)
    ]


# --- Whole-process commands ------------------------------------------------------------


class Suspend(Command):
    name = "suspend"
    reason: Reason


class Resume(Command):
    name = "resume"
    reason: Text = ""


class Withdraw(Command):
    name = "withdraw"
    reason: Reason


class CloseProcess(Command):
    name = "close_process"
    summary: Text = ""


# --- Timer-driven commands (actor party `system`; not part of the public update list) ---


class ConsentDeadlineReached(Command):
    name = "consent_deadline_reached"
    tor_version: Version


class ReviewReminderDue(Command):
    """A reviewer's reminder is due; `agency` names that reviewer's branch (None: all)."""

    name = "review_reminder_due"
    report_version: Version
    agency: AgencyKey | None = None


class ReviewDeadlineReached(Command):
    """The review deadline passed; `agency` names that reviewer's branch (None: all)."""

    name = "review_deadline_reached"
    report_version: Version
    agency: AgencyKey | None = None


class DormancyDue(Command):
    name = "dormancy_due"


COMMANDS: dict[str, type[Command]] = {
    c.name: c
    for c in (
        OpenProcess,
        LogContact,
        SubmitOpinion,
        AssignRepresentative,
        RecordMeeting,
        MarkDormant,
        ReEngage,
        ProposeInstrument,
        ClearInstrument,
        SignInstrument,
        ProposeMission,
        GrantConsent,
        RefuseConsent,
        RescheduleMission,
        StartMission,
        RecordMissionMeeting,
        CompleteMission,
        DeliverReport,
        SubmitReview,
        SubmitConclusions,
        RequestRevision,
        ReviseReport,
        AcceptReport,
        HoldPresentation,
        ClearPublication,
        PublishReport,
        Suspend,
        Resume,
        Withdraw,
        CloseProcess,
    )
}

SYSTEM_COMMANDS: dict[str, type[Command]] = {
    c.name: c
    for c in (ConsentDeadlineReached, ReviewReminderDue, ReviewDeadlineReached, DormancyDue)
}


def parse_command(
    name: str, data: Mapping[str, Any] | str | bytes, *, include_system: bool = False
) -> Command:
    """Validate a payload in JSON mode (ISO dates as strings) into a command.

    Raises DomainError("invalid_input") naming the field path and the rule broken.
    Timer commands are only parsed with `include_system=True` (the workflow's own timers).
    """
    model = COMMANDS.get(name) or (SYSTEM_COMMANDS.get(name) if include_system else None)
    if model is None:
        known = ", ".join(sorted(COMMANDS))
        raise DomainError("invalid_input", f"unknown command {name!r}; known: {known}", "name")
    if isinstance(data, Mapping):
        raw: str | bytes = json.dumps(dict(data), default=str)
    elif isinstance(data, str | bytes):
        raw = data
    else:
        raise DomainError("invalid_input", f"{name}: payload must be a JSON object", None)
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise _invalid_input(name, exc) from None


def _invalid_input(name: str, exc: ValidationError) -> DomainError:
    problems = []
    first_field: str | None = None
    for error in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in error["loc"])
        first_field = first_field if first_field is not None else (path or None)
        problems.append(f"field '{path or '(payload)'}': {error['msg']}")
    return DomainError("invalid_input", f"{name}: " + "; ".join(problems), first_field)
