"""Read models: a JSON-ready view of a process and one sentence per event for timelines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain import events as ev
from domain.awaiting import Awaiting, awaiting
from domain.dates import BusinessDate
from domain.errors import DomainError
from domain.parties import AgencyConfig, PartyInfo, ProcessConfig, Signatory
from domain.stages import Stage
from domain.state import ProcessState
from domain.vocabulary import NATIONAL_BODY, PARTNER

_VIEW = ConfigDict(frozen=True)


class InstrumentView(BaseModel):
    model_config = _VIEW
    type: str | None
    draft_version: int
    cleared_version: int | None
    signed_on: BusinessDate | None
    signed_place: str | None
    signatories: tuple[Signatory, ...]


class MissionView(BaseModel):
    model_config = _VIEW
    tor_version: int
    planned_start: date | None
    planned_end: date | None
    team: tuple[str, ...]
    agencies_to_meet: tuple[str, ...]
    consents: dict[str, str]  # agency -> pending/granted/refused/overdue
    escalated_consents: tuple[str, ...]
    started_on: BusinessDate | None
    actual_start: date | None
    actual_end: date | None
    mode: str | None
    coverage_gaps: tuple[str, ...]
    received_by: tuple[str, ...]


class ReportView(BaseModel):
    model_config = _VIEW
    title: str | None
    version: int
    classification: str | None
    recipient: str | None
    reviews: dict[str, str]  # agency -> pending/submitted/overdue, for the latest version
    escalated_reviews: tuple[str, ...]
    conclusions_version: int | None
    accepted_version: int | None
    publication_cleared_by: tuple[str, ...]
    languages: tuple[str, ...]


class CorrectionView(BaseModel):
    """One correction (`RecordCorrected`): which event, the corrected values, why, when."""

    model_config = _VIEW
    version: int  # the corrected event's stream version
    event_type: str
    fields: dict[str, Any]  # field -> corrected value (JSON form)
    reason: str
    corrected_on: BusinessDate
    with_versions: tuple[int, ...] = ()  # recorded with it by the same command: dates moved


class ProcessView(BaseModel):
    """The current picture of one process, as the CLI and projections show it."""

    model_config = _VIEW

    process_id: str
    stage: Stage
    country: str
    partner: PartyInfo
    national_body: PartyInfo
    agencies: tuple[AgencyConfig, ...]
    opinion: str | None
    representative: str | None
    dormant_from: Stage | None
    suspended_from: Stage | None
    suspended_by: str | None
    pending_consents: tuple[str, ...]
    pending_reviews: tuple[str, ...]
    pending_agencies: tuple[str, ...]
    awaiting: tuple[Awaiting, ...]  # every party awaited, with the command and since when
    stage_since: BusinessDate | None
    key_dates: dict[str, BusinessDate | None]
    report_version: int
    instrument: InstrumentView
    mission: MissionView
    report: ReportView
    revision_rounds: int
    max_revisions: int
    last_occurred_on: BusinessDate | None
    version: int
    corrections: tuple[CorrectionView, ...] = ()  # the values above are the corrected ones


def _config(state: ProcessState) -> ProcessConfig:
    if state.config is None:
        raise DomainError("wrong_stage", "the process is not opened")
    return state.config


def pending_agencies(state: ProcessState) -> tuple[str, ...]:
    """Every agency whose action the process is waiting for now, in configuration order
    (the agencies among `awaiting`)."""
    config = _config(state)
    awaited = {a.party for a in awaiting(state)}
    return tuple(k for k in config.agency_keys if k in awaited)


def process_view(state: ProcessState) -> ProcessView:
    config = _config(state)
    assert state.stage is not None
    mission, report, instrument = state.mission, state.report, state.instrument
    under_review = state.stage == Stage.UNDER_REVIEW
    return ProcessView(
        process_id=config.process_id,
        stage=state.stage,
        country=config.country,
        partner=config.partner,
        national_body=config.national_body,
        agencies=config.agencies,
        opinion=state.opinion.recommendation if state.opinion else None,
        representative=state.representative,
        dormant_from=state.dormant_from,
        suspended_from=state.suspended_from,
        suspended_by=state.suspended_by,
        pending_consents=(
            mission.consents_with("pending", "overdue")
            if state.stage == Stage.MISSION_PLANNING
            else ()
        ),
        pending_reviews=report.reviews_with("pending", "overdue") if under_review else (),
        pending_agencies=pending_agencies(state),
        awaiting=awaiting(state),
        stage_since=state.stage_since,
        key_dates={
            name: getattr(state.dates, name) for name in type(state.dates).__dataclass_fields__
        },
        report_version=report.version,
        instrument=InstrumentView(
            type=instrument.type,
            draft_version=instrument.draft_version,
            cleared_version=instrument.cleared_version,
            signed_on=instrument.signed_on,
            signed_place=instrument.signed_place,
            signatories=instrument.signatories,
        ),
        mission=MissionView(
            tor_version=mission.tor_version,
            planned_start=mission.planned_start,
            planned_end=mission.planned_end,
            team=mission.team,
            agencies_to_meet=mission.agencies_to_meet,
            consents={k: c.status for k, c in mission.consents.items()},
            escalated_consents=tuple(k for k, c in mission.consents.items() if c.escalated),
            started_on=mission.started_on,
            actual_start=mission.actual_start,
            actual_end=mission.actual_end,
            mode=mission.mode,
            coverage_gaps=mission.coverage_gaps,
            received_by=mission.received_by,
        ),
        report=ReportView(
            title=report.title,
            version=report.version,
            classification=report.classification,
            recipient=report.recipient,
            reviews={k: r.status for k, r in report.reviews.items()},
            escalated_reviews=tuple(k for k, r in report.reviews.items() if r.escalated),
            conclusions_version=report.conclusions_version,
            accepted_version=report.accepted_version,
            publication_cleared_by=tuple(sorted(report.clearances)),
            languages=report.languages,
        ),
        revision_rounds=report.revision_rounds,
        max_revisions=config.max_revisions,
        last_occurred_on=state.last_occurred_on,
        version=state.version,
        corrections=tuple(
            CorrectionView(
                version=c.version,
                event_type=c.event_type,
                fields=dict(c.fields),
                reason=c.reason,
                corrected_on=c.on,
                with_versions=c.with_versions,
            )
            for c in state.corrections
        ),
    )


# --- timeline sentences ----------------------------------------------------------------

_INSTRUMENTS = {
    "protocol_of_intent": "protocol of intent",
    "mou": "memorandum of understanding",
    "cooperation_agreement": "cooperation agreement",
    "exchange_of_notes": "exchange of notes",
    "membership_accession": "membership accession",
}


class _Names:
    """Turns party keys into display names when the configuration is known."""

    def __init__(self, config: ProcessConfig | None) -> None:
        self.config = config

    def __call__(self, key: str) -> str:
        config = self.config
        if config is None:
            return key
        if key == PARTNER:
            return config.partner.short_name or config.partner.name
        if key == NATIONAL_BODY:
            return config.national_body.short_name or config.national_body.name
        agency = config.agency(key)
        return (agency.name or agency.key) if agency else key

    def all(self, keys: tuple[str, ...]) -> str:
        names = [self(k) for k in keys]
        if len(names) <= 1:
            return "".join(names) or "nobody"
        return ", ".join(names[:-1]) + " and " + names[-1]


def _and(items: tuple[str, ...] | list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _signer(s: Signatory, n: _Names) -> str:
    """By name and title where the record has them; a signatory the source does not name
    is said to be unnamed, never given a label in a name's place."""
    role = f"{n(s.party)} {s.role.replace('_', ' ')}"
    if s.name:
        return f"{s.name}, {s.title}" if s.title else f"{s.name} ({role})"
    return f"the {role} (not named" + (f", {s.title})" if s.title else ")")


def _corrected_fields(fields: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        return str(value) if value not in (None, "") else "none"

    return "; ".join(f"{k.replace('_', ' ')} {shown(v)}" for k, v in fields.items())


def _tail(text: str) -> str:
    return f": {text}" if text else ""


_SENTENCES: dict[type[ev.Event], Callable[[Any, _Names], str]] = {
    ev.ProcessOpened: lambda e, n: (
        f"Cooperation process {e.process.process_id} opened between "
        f"{e.process.partner.name} and {e.process.national_body.name} ({e.process.country})."
    ),
    ev.ContactLogged: lambda e, n: (
        f"Contact at {e.venue}"
        + (f" with {_and(e.participants)}" if e.participants else "")
        + (
            f"; cooperation through {' or '.join(m.replace('_', ' ') for m in e.modalities)} "
            "discussed"
            if e.modalities
            else ""
        )
        + "."
    ),
    ev.OpinionSubmitted: lambda e, n: (
        f"{n(NATIONAL_BODY)} recommended negotiations"
        + (f" on conditions: {'; '.join(e.conditions)}" if e.conditions else "")
        + "."
        if e.recommendation == "negotiate"
        else f"{n(NATIONAL_BODY)} declined cooperation; the process is withdrawn."
    ),
    ev.RepresentativeAssigned: lambda e, n: (
        f"{n(e.agency)} assigned {e.representative}"
        + (f" ({e.title})" if e.title else "")
        + " as its representative."
    ),
    ev.NegotiationsOpened: lambda e, n: "Negotiations opened.",
    ev.MeetingRecorded: lambda e, n: (
        f"{'Online' if e.format == 'online' else 'In-person'} meeting"
        + (f" in {e.location}" if e.location else "")
        + f" at the initiative of {n(e.initiator)}"
        + (f", with {n.all(e.agencies_present)}" if e.agencies_present else "")
        + (f"; participants: {'; '.join(e.participants)}" if e.participants else "")
        + "."
    ),
    ev.ProcessWentDormant: lambda e, n: (
        "The process went dormant"
        + (" (no progress)" if e.automatic else "")
        + _tail(e.reason)
        + "."
    ),
    ev.ProcessReengaged: lambda e, n: (
        f"The process was re-engaged at the initiative of {n(e.initiator)}."
    ),
    ev.InstrumentProposed: lambda e, n: (
        f"{n(PARTNER)} proposed draft {e.draft_version} of a {_INSTRUMENTS[e.type]}"
        + (f" ({e.title})" if e.title else "")
        + "."
    ),
    ev.InstrumentCleared: lambda e, n: (
        f"{n(e.agency)} cleared draft {e.draft_version} of the instrument."
    ),
    ev.InstrumentSigned: lambda e, n: (
        f"{_INSTRUMENTS[e.type].capitalize()} signed in {e.place} by "
        f"{_and([_signer(s, n) for s in e.signatories])}."
    ),
    ev.MissionProposed: lambda e, n: (
        f"{n(PARTNER)} proposed mission terms of reference v{e.tor_version} for "
        f"{e.planned_start.isoformat()} to {e.planned_end.isoformat()} "
        f"(team: {_and(e.team)})."
    ),
    ev.ConsentGranted: lambda e, n: (
        f"{n(e.agency)} consented to the mission (ToR v{e.tor_version})."
    ),
    ev.ConsentRefused: lambda e, n: (
        f"{n(e.agency)} refused consent to the mission (ToR v{e.tor_version}){_tail(e.reason)}."
    ),
    ev.MissionRescheduled: lambda e, n: (
        f"Mission rescheduled to {e.planned_start.isoformat()} to {e.planned_end.isoformat()}"
        f"{_tail(e.reason)}."
    ),
    ev.MissionStarted: lambda e, n: f"The mission started (ToR v{e.tor_version}).",
    ev.MissionMeetingRecorded: lambda e, n: (
        "The mission was received by "
        + n.all(e.received_by)
        + (f" in {e.location}" if e.location else "")
        + "."
    ),
    ev.MissionCompleted: lambda e, n: (
        f"The mission took place {e.actual_start.isoformat()} to {e.actual_end.isoformat()} "
        f"({e.mode.replace('_', ' ')})"
        + (f"; not covered: {'; '.join(e.coverage_gaps)}" if e.coverage_gaps else "")
        + "."
    ),
    ev.ReportDelivered: lambda e, n: (
        f"Report \u201c{e.title}\u201d v{e.version} ({e.classification}) delivered to "
        f"{n(e.recipient)}."
    ),
    ev.ReviewRequested: lambda e, n: (
        f"Review of report v{e.report_version} requested from {n(e.agency)}."
    ),
    ev.ReviewSubmitted: lambda e, n: (
        f"{n(e.agency)} submitted its conclusions and proposals on report v{e.report_version}."
    ),
    ev.ConclusionsSubmitted: lambda e, n: (
        f"{n(e.agency)} submitted the consolidated conclusions on report v{e.report_version}"
        + (f" (without {n.all(e.missing_reviews)}, overdue)" if e.missing_reviews else "")
        + "."
    ),
    ev.RevisionRequested: lambda e, n: (
        f"{n(NATIONAL_BODY)} requested revision round {e.round} of report v{e.report_version} "
        f"({len(e.points)} point{'s' if len(e.points) != 1 else ''})."
    ),
    ev.ReportRevised: lambda e, n: f"{n(PARTNER)} delivered revised report v{e.version}.",
    ev.ReportAccepted: lambda e, n: f"{n(NATIONAL_BODY)} accepted report v{e.report_version}.",
    ev.PresentationHeld: lambda e, n: (
        f"Report presented at {e.venue}"
        + (f" to {_and(e.attendee_categories)}" if e.attendee_categories else "")
        + "."
    ),
    ev.PublicationCleared: lambda e, n: (
        f"{n(e.party)} cleared publication of report v{e.report_version}."
    ),
    ev.ReportPublished: lambda e, n: (
        f"Report v{e.report_version} published ({', '.join(e.languages)})."
    ),
    ev.ProcessSuspended: lambda e, n: f"{n(e.party)} suspended the process{_tail(e.reason)}.",
    ev.ProcessResumed: lambda e, n: f"{n(e.party)} resumed the process{_tail(e.reason)}.",
    ev.ProcessWithdrawn: lambda e, n: f"{n(e.party)} withdrew from the process{_tail(e.reason)}.",
    ev.ProcessClosed: lambda e, n: f"The process was closed{_tail(e.summary)}.",
    ev.RecordCorrected: lambda e, n: (
        f"Event {e.corrected_version} ({e.corrected_type}) corrected "
        f"({_corrected_fields(e.fields)}){_tail(e.reason)}."
    ),
    ev.ConsentOverdue: lambda e, n: f"Consent of {n(e.agency)} to ToR v{e.tor_version} is overdue.",
    ev.Escalated: lambda e, n: (
        f"Missing {e.matter} of {n(e.agency)} (v{e.version}) escalated to {n.all(e.targets)}."
    ),
    ev.ReviewReminderSent: lambda e, n: (
        f"Reminder sent to {n(e.agency)} to review report v{e.report_version}."
    ),
    ev.ReviewOverdue: lambda e, n: (
        f"Review of report v{e.report_version} by {n(e.agency)} is overdue."
    ),
}
assert set(_SENTENCES) == set(ev.EVENTS.values()), "every event type needs a sentence"


def describe(event: ev.Event, config: ProcessConfig | None = None) -> str:
    """One human-readable sentence for a timeline; names parties when `config` is given."""
    sentence = _SENTENCES[type(event)](event, _Names(config))
    return sentence[:1].upper() + sentence[1:]  # keys such as "mfa" may open a sentence
