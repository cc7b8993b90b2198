"""Commands: what a party asks the process to do. Strict, bounded, validated before deciding.

`OpenProcess` carries the configuration nested as `process: ProcessConfig` (not flattened),
so the same object is stored on `ProcessOpened` and read back by the state.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from domain.dates import BusinessDate
from domain.parties import Actor, ProcessConfig, Signatory
from domain.sources import Source
from domain.text import Line, Name, Reason, Text
from domain.vocabulary import (
    AgencyKey,
    Classification,
    InstrumentType,
    LanguageCode,
    MeetingFormat,
    MissionMode,
    Modality,
    PartyKey,
    Recommendation,
    Version,
)


def _distinct(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(values)) != len(values):
        raise ValueError("items must be distinct")
    return values


Keys = Annotated[
    tuple[PartyKey, ...], Field(fail_fast=True, max_length=30), AfterValidator(_distinct)
]
Lines = Annotated[tuple[Line, ...], Field(fail_fast=True, max_length=50)]


def _not_before(start_field: str) -> Any:
    """A validator that rejects an end date earlier than its start date."""

    def check(end: date, info: ValidationInfo) -> date:
        start = info.data.get(start_field)
        if start is not None and end < start:
            raise ValueError(f"must not be earlier than {start_field} ({start.isoformat()})")
        return end

    return check


class Command(BaseModel):
    """Common shape: who acts, the business date the act happened on (with the precision
    its source gives, `domain.dates`) and, optionally, the source that documents it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: ClassVar[str]

    actor: Actor
    occurred_on: BusinessDate
    source: Source | None = None


# --- Opening and first contacts -------------------------------------------------------


class OpenProcess(Command):
    name = "open_process"
    process: ProcessConfig


class LogContact(Command):
    name = "log_contact"
    venue: Name
    participants: Annotated[tuple[Name, ...], Field(fail_fast=True, max_length=50)] = ()
    modalities: Annotated[
        tuple[Modality, ...], Field(fail_fast=True, max_length=2), AfterValidator(_distinct)
    ] = ()
    summary: Text = ""


class SubmitOpinion(Command):
    name = "submit_opinion"
    recommendation: Recommendation
    conditions: Annotated[tuple[Line, ...], Field(fail_fast=True, max_length=20)] = ()
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
    # Officials who took part, in their public role, as the source names them
    # ("Kathryne Bomberger, ICMP Director-General"): people, where agencies are keys.
    participants: Annotated[tuple[Name, ...], Field(fail_fast=True, max_length=50)] = ()
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
    signatories: Annotated[
        tuple[Signatory, ...], Field(fail_fast=True, min_length=1, max_length=20)
    ]


# --- The mission -----------------------------------------------------------------------


class ProposeMission(Command):
    name = "propose_mission"
    tor_version: Version
    planned_start: date
    planned_end: date
    team: Annotated[tuple[Name, ...], Field(fail_fast=True, min_length=1, max_length=30)]
    agencies_to_meet: Keys = ()
    purpose: Text = ""

    check_dates = field_validator("planned_end")(_not_before("planned_start"))


class GrantConsent(Command):
    name = "grant_consent"
    tor_version: Version
    conditions: Annotated[tuple[Line, ...], Field(fail_fast=True, max_length=20)] = ()


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
    coverage_gaps: Annotated[tuple[Line, ...], Field(fail_fast=True, max_length=20)] = ()

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
    attendee_categories: Annotated[tuple[Name, ...], Field(fail_fast=True, max_length=20)] = ()


class ClearPublication(Command):
    name = "clear_publication"


class PublishReport(Command):
    name = "publish_report"
    languages: Annotated[
        tuple[LanguageCode, ...],
        Field(fail_fast=True, min_length=1, max_length=10),
        AfterValidator(_distinct),
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


class CorrectRecord(Command):
    """Puts right one earlier event (DOMAIN.md `correct_record`): the original stays in the
    store; `fields` (field name -> corrected value, JSON) are checked against that event
    type's own field types by the decider, which alone knows the event's type."""

    name = "correct_record"
    version: Annotated[int, Field(ge=1, le=1_000_000_000)]
    fields: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,39}$")], JsonValue],
        # Keys other than field names are refused (the pattern); the schema says so too.
        Field(min_length=1, max_length=20, json_schema_extra={"additionalProperties": False}),
    ]
    reason: Reason


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
        CorrectRecord,
    )
}

SYSTEM_COMMANDS: dict[str, type[Command]] = {
    c.name: c
    for c in (ConsentDeadlineReached, ReviewReminderDue, ReviewDeadlineReached, DormancyDue)
}


# Every command as one union: `decide` matches on it, so a command class without a case is
# a mypy error (`assert_never`), not a KeyError at run time. tests/domain checks that it
# names exactly the classes of COMMANDS and SYSTEM_COMMANDS.
AnyCommand: TypeAlias = (
    OpenProcess
    | LogContact
    | SubmitOpinion
    | AssignRepresentative
    | RecordMeeting
    | MarkDormant
    | ReEngage
    | ProposeInstrument
    | ClearInstrument
    | SignInstrument
    | ProposeMission
    | GrantConsent
    | RefuseConsent
    | RescheduleMission
    | StartMission
    | RecordMissionMeeting
    | CompleteMission
    | DeliverReport
    | SubmitReview
    | SubmitConclusions
    | RequestRevision
    | ReviseReport
    | AcceptReport
    | HoldPresentation
    | ClearPublication
    | PublishReport
    | Suspend
    | Resume
    | Withdraw
    | CloseProcess
    | CorrectRecord
    | ConsentDeadlineReached
    | ReviewReminderDue
    | ReviewDeadlineReached
    | DormancyDue
)
