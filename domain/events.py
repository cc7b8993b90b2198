"""Events: facts the process has recorded. Each carries what `evolve` needs, nothing personal.

The actor who caused an event is stored by the event store as metadata, not here.
Events are validated leniently (not strict) because they are read back from JSON storage.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from domain.dates import BusinessDate
from domain.parties import ProcessConfig, Signatory
from domain.vocabulary import (
    AgencyKey,
    Classification,
    EscalationMatter,
    InstrumentType,
    LanguageCode,
    Line,
    MeetingFormat,
    MissionMode,
    Modality,
    Name,
    PartyKey,
    Recommendation,
    Text,
    Version,
)

Keys = Annotated[tuple[PartyKey, ...], Field(max_length=30)]
Lines = Annotated[tuple[Line, ...], Field(max_length=50)]


class Event(BaseModel):
    """Common shape. `event_type` is the class name; `schema_version` its current version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    # 2 for every type: business dates may be as imprecise as their source (EDTF, v1 only
    # had days) and ContactLogged 3 for the same reason (domain/codec.py upcasts older ones).
    schema_version: ClassVar[int] = 2

    # The date as written (EDTF text in the stored data; a plain day reads as it always did).
    occurred_on: BusinessDate

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.event_type = cls.__name__


class ProcessOpened(Event):
    process: ProcessConfig


class ContactLogged(Event):
    # v1 had a single optional `modality`; v2 lists `modalities` (see codec.UPCASTERS).
    schema_version = 3
    venue: Name
    participants: Annotated[tuple[Name, ...], Field(max_length=50)] = ()
    modalities: tuple[Modality, ...] = ()
    summary: Text = ""


class OpinionSubmitted(Event):
    recommendation: Recommendation
    conditions: Lines = ()
    summary: Text = ""


class RepresentativeAssigned(Event):
    agency: AgencyKey
    representative: Name
    title: Name | None = None


class NegotiationsOpened(Event):
    pass


class MeetingRecorded(Event):
    format: MeetingFormat
    location: Name | None = None
    agencies_present: Keys = ()
    # Added without a new schema version: optional, so a v1 event without it reads as ().
    participants: Annotated[tuple[Name, ...], Field(max_length=50)] = ()
    initiator: PartyKey
    summary: Text = ""


class ProcessWentDormant(Event):
    reason: Text = ""
    automatic: bool = False  # True when the dormancy timer fired


class ProcessReengaged(Event):
    initiator: PartyKey
    summary: Text = ""


class InstrumentProposed(Event):
    type: InstrumentType
    draft_version: Version
    title: Name | None = None
    summary: Text = ""


class InstrumentCleared(Event):
    agency: AgencyKey
    draft_version: Version


class InstrumentSigned(Event):
    type: InstrumentType
    draft_version: Version
    place: Name
    signatories: Annotated[tuple[Signatory, ...], Field(max_length=20)]


class MissionProposed(Event):
    tor_version: Version
    planned_start: date
    planned_end: date
    team: Annotated[tuple[Name, ...], Field(max_length=30)]
    agencies_to_meet: Keys = ()
    purpose: Text = ""


class ConsentGranted(Event):
    agency: AgencyKey
    tor_version: Version
    conditions: Lines = ()


class ConsentRefused(Event):
    agency: AgencyKey
    tor_version: Version
    reason: Text


class MissionRescheduled(Event):
    planned_start: date
    planned_end: date
    reason: Text


class MissionStarted(Event):
    tor_version: Version
    note: Text = ""


class MissionMeetingRecorded(Event):
    received_by: Keys
    location: Name | None = None
    summary: Text = ""


class MissionCompleted(Event):
    actual_start: date
    actual_end: date
    mode: MissionMode
    coverage_gaps: Lines = ()


class ReportDelivered(Event):
    title: Name
    version: Version
    recipient: AgencyKey
    classification: Classification


class ReviewRequested(Event):
    agency: AgencyKey
    report_version: Version


class ReviewSubmitted(Event):
    agency: AgencyKey
    report_version: Version
    conclusions: Text
    proposals: Lines = ()


class ConclusionsSubmitted(Event):
    agency: AgencyKey
    report_version: Version
    summary: Text = ""
    proposals: Lines = ()
    missing_reviews: Keys = ()  # reviewers that were overdue and escalated


class RevisionRequested(Event):
    report_version: Version
    points: Lines
    round: Annotated[int, Field(ge=1, le=10)]


class ReportRevised(Event):
    version: Version
    title: Name | None = None
    changes: Text = ""


class ReportAccepted(Event):
    report_version: Version


class PresentationHeld(Event):
    venue: Name
    attendee_categories: Annotated[tuple[Name, ...], Field(max_length=20)] = ()


class PublicationCleared(Event):
    party: PartyKey
    report_version: Version


class ReportPublished(Event):
    report_version: Version
    languages: Annotated[tuple[LanguageCode, ...], Field(max_length=10)]


class ProcessSuspended(Event):
    party: PartyKey
    reason: Text


class ProcessResumed(Event):
    party: PartyKey
    reason: Text = ""


class ProcessWithdrawn(Event):
    party: PartyKey
    reason: Text


class ProcessClosed(Event):
    summary: Text = ""


class RecordCorrected(Event):
    """One earlier event put right (`correct_record`); that event stays as recorded.

    `fields` holds the corrected values in their JSON form (dates as ISO strings), each
    checked against `corrected_type`'s own field type when the correction was decided."""

    corrected_version: Annotated[int, Field(ge=2)]
    corrected_type: Annotated[str, Field(max_length=40)]
    fields: Annotated[dict[str, JsonValue], Field(min_length=1, max_length=20)]
    reason: Text
    # The events its command recorded with it (a review request per reviewer, negotiations
    # opened): a corrected date moves theirs too.
    with_versions: Annotated[tuple[int, ...], Field(max_length=100)] = ()


# --- Timer-driven ----------------------------------------------------------------------


class ConsentOverdue(Event):
    agency: AgencyKey
    tor_version: Version


class Escalated(Event):
    agency: AgencyKey  # whose consent or review is missing
    matter: EscalationMatter
    version: Version  # the ToR version (consent) or report version (review)
    targets: Annotated[tuple[AgencyKey, ...], Field(min_length=1, max_length=30)]


class ReviewReminderSent(Event):
    agency: AgencyKey
    report_version: Version


class ReviewOverdue(Event):
    agency: AgencyKey
    report_version: Version


EVENTS: dict[str, type[Event]] = {
    e.event_type: e
    for e in (
        ProcessOpened,
        ContactLogged,
        OpinionSubmitted,
        RepresentativeAssigned,
        NegotiationsOpened,
        MeetingRecorded,
        ProcessWentDormant,
        ProcessReengaged,
        InstrumentProposed,
        InstrumentCleared,
        InstrumentSigned,
        MissionProposed,
        ConsentGranted,
        ConsentRefused,
        MissionRescheduled,
        MissionStarted,
        MissionMeetingRecorded,
        MissionCompleted,
        ReportDelivered,
        ReviewRequested,
        ReviewSubmitted,
        ConclusionsSubmitted,
        RevisionRequested,
        ReportRevised,
        ReportAccepted,
        PresentationHeld,
        PublicationCleared,
        ReportPublished,
        ProcessSuspended,
        ProcessResumed,
        ProcessWithdrawn,
        ProcessClosed,
        RecordCorrected,
        ConsentOverdue,
        Escalated,
        ReviewReminderSent,
        ReviewOverdue,
    )
}

# Every event as one union: `evolve` matches on it, so an event class without a case is a
# mypy error (`assert_never`). tests/domain checks that it names exactly EVENTS' classes.
AnyEvent: TypeAlias = (
    ProcessOpened
    | ContactLogged
    | OpinionSubmitted
    | RepresentativeAssigned
    | NegotiationsOpened
    | MeetingRecorded
    | ProcessWentDormant
    | ProcessReengaged
    | InstrumentProposed
    | InstrumentCleared
    | InstrumentSigned
    | MissionProposed
    | ConsentGranted
    | ConsentRefused
    | MissionRescheduled
    | MissionStarted
    | MissionMeetingRecorded
    | MissionCompleted
    | ReportDelivered
    | ReviewRequested
    | ReviewSubmitted
    | ConclusionsSubmitted
    | RevisionRequested
    | ReportRevised
    | ReportAccepted
    | PresentationHeld
    | PublicationCleared
    | ReportPublished
    | ProcessSuspended
    | ProcessResumed
    | ProcessWithdrawn
    | ProcessClosed
    | RecordCorrected
    | ConsentOverdue
    | Escalated
    | ReviewReminderSent
    | ReviewOverdue
)
