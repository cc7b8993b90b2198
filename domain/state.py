"""The state of one process: immutable records folded from its events.

Frozen dataclasses rather than pydantic models: rebuilding a process from its stream must
fold well over 100,000 events per second, so every change is a cheap copy (`amend`).
They keep an instance `__dict__` (no `slots=True`) because copying one dict in C is about
three times faster than setting each slot, and the top-level record is copied per event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Literal, TypedDict, TypeVar

from domain.dates import BusinessDate
from domain.parties import ProcessConfig, Signatory
from domain.stages import TERMINAL, Stage
from domain.vocabulary import InstrumentType, Recommendation

ConsentStatus = Literal["pending", "granted", "refused", "overdue"]
ReviewStatus = Literal["pending", "submitted", "overdue"]

R = TypeVar("R")


def amend(record: R, **changes: Any) -> R:
    """`dataclasses.replace` for our records, several times faster.

    Copies the instance dict in C instead of re-running a frozen `__init__` field by field;
    the records stay frozen to everyone else. A name that is not a field is refused (the
    length check costs nothing next to the copy); `Changes` types the state's own fields.
    """
    new = object.__new__(type(record))
    attrs = new.__dict__
    attrs.update(record.__dict__)
    attrs.update(changes)
    if len(attrs) != len(record.__dict__):  # a name that is no field: never a new attribute
        unknown = ", ".join(sorted(set(changes) - set(record.__dict__)))
        raise TypeError(f"{type(record).__name__} has no field {unknown}")
    return new


def frozen_map(items: dict[str, R]) -> MappingProxyType[str, R]:
    return MappingProxyType(items)


def with_entry(mapping: MappingProxyType[str, R], key: str, value: R) -> MappingProxyType[str, R]:
    """A copy of an immutable mapping with one entry set."""
    updated = mapping.copy()  # a plain dict copy of the proxied dict, done in C
    updated[key] = value
    return MappingProxyType(updated)


def _no_entries() -> MappingProxyType[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Consent:
    status: ConsentStatus = "pending"
    escalated: bool = False


@dataclass(frozen=True)
class Review:
    status: ReviewStatus = "pending"
    escalated: bool = False
    reminders: int = 0


@dataclass(frozen=True)
class Opinion:
    recommendation: Recommendation
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Instrument:
    type: InstrumentType | None = None
    draft_version: int = 0  # 0 = no draft proposed yet
    cleared_version: int | None = None
    signed_on: BusinessDate | None = None
    signed_place: str | None = None
    signatories: tuple[Signatory, ...] = ()

    @property
    def signed(self) -> bool:
        return self.signed_on is not None


@dataclass(frozen=True)
class Mission:
    tor_version: int = 0  # 0 = no terms of reference proposed yet
    planned_start: date | None = None
    planned_end: date | None = None
    team: tuple[str, ...] = ()
    agencies_to_meet: tuple[str, ...] = ()
    # Consent of each consent_required agency for the CURRENT ToR version only.
    consents: MappingProxyType[str, Consent] = field(default_factory=_no_entries)
    started_on: BusinessDate | None = None
    actual_start: date | None = None
    actual_end: date | None = None
    mode: str | None = None
    coverage_gaps: tuple[str, ...] = ()
    received_by: tuple[str, ...] = ()

    def consents_with(self, *statuses: ConsentStatus) -> tuple[str, ...]:
        return tuple(k for k, c in self.consents.items() if c.status in statuses)

    @property
    def all_consents_granted(self) -> bool:
        return all(c.status == "granted" for c in self.consents.values())


@dataclass(frozen=True)
class Report:
    title: str | None = None
    version: int = 0  # latest version; 0 = not delivered
    classification: str | None = None
    recipient: str | None = None
    # Review of each reviewer agency for the LATEST version only.
    reviews: MappingProxyType[str, Review] = field(default_factory=_no_entries)
    revision_rounds: int = 0
    conclusions_version: int | None = None
    accepted_version: int | None = None
    clearances: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ()

    def reviews_with(self, *statuses: ReviewStatus) -> tuple[str, ...]:
        return tuple(k for k, r in self.reviews.items() if r.status in statuses)

    def awaited_reviews(self) -> tuple[str, ...]:
        """Reviews neither submitted nor given up (overdue and escalated): while any is
        left the consolidated conclusions are not due. The one home of that rule, for
        `decide` (submit_conclusions' guard) and the read model (`domain.awaiting`)."""
        return tuple(
            k
            for k, r in self.reviews.items()
            if r.status != "submitted" and not (r.status == "overdue" and r.escalated)
        )


@dataclass(frozen=True)
class KeyDates:
    first_contact: BusinessDate | None = None
    opinion: BusinessDate | None = None
    negotiations_opened: BusinessDate | None = None
    signed: BusinessDate | None = None
    mission_start: BusinessDate | None = None
    mission_end: BusinessDate | None = None
    delivered: BusinessDate | None = None
    conclusions: BusinessDate | None = None
    accepted: BusinessDate | None = None
    presented: BusinessDate | None = None
    published: BusinessDate | None = None
    closed: BusinessDate | None = None
    withdrawn: BusinessDate | None = None


@dataclass(frozen=True)
class Correction:
    """One `RecordCorrected`: the version it corrects, that event's type, the corrected
    values in their JSON form, the reason and the business date it was recorded on."""

    version: int
    event_type: str
    fields: MappingProxyType[str, Any]
    reason: str
    on: BusinessDate
    with_versions: tuple[int, ...] = ()  # recorded with it: their date moved too


@dataclass(frozen=True)
class ProcessState:
    config: ProcessConfig | None = None  # None until ProcessOpened
    stage: Stage | None = None  # None until ProcessOpened
    dormant_from: Stage | None = None  # where re_engage returns to
    suspended_from: Stage | None = None  # where resume returns to
    suspended_by: str | None = None  # the party that suspended (only it may resume)
    last_occurred_on: BusinessDate | None = None  # latest business date (invariant 1)
    stage_since: BusinessDate | None = None  # business date the current stage began
    version: int = 0  # number of events folded
    opinion: Opinion | None = None
    representative: str | None = None  # the channel's representative
    instrument: Instrument = Instrument()
    mission: Mission = Mission()
    report: Report = Report()
    dates: KeyDates = KeyDates()
    # One compact entry per version, "EventType <EDTF date> party", in chunks of 128
    # (domain/corrections.py): what `correct_record` checks, its issuer and its neighbours'
    # dates, without the events.
    entries: tuple[tuple[str, ...], ...] = ()
    corrections: tuple[Correction, ...] = ()  # every RecordCorrected, in order

    @property
    def is_open(self) -> bool:
        return self.config is not None

    @property
    def is_terminal(self) -> bool:
        return self.stage in TERMINAL


class Changes(TypedDict, total=False):
    """What one event changes in a `ProcessState`, field by field: `evolve` applies it in one
    copy. Typed, so a misspelt field or a wrong value is a mypy error, not a stray attribute
    (tests/domain checks the keys are exactly ProcessState's fields)."""

    config: ProcessConfig | None
    stage: Stage | None
    dormant_from: Stage | None
    suspended_from: Stage | None
    suspended_by: str | None
    last_occurred_on: BusinessDate | None
    stage_since: BusinessDate | None
    version: int
    opinion: Opinion | None
    representative: str | None
    instrument: Instrument
    mission: Mission
    report: Report
    dates: KeyDates
    entries: tuple[tuple[str, ...], ...]
    corrections: tuple[Correction, ...]


def initial_state() -> ProcessState:
    """A process not opened yet: only `open_process` is accepted."""
    return ProcessState()
