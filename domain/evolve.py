"""evolve: how each recorded event changes the state. Total: never raises on a valid stream."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, assert_never, cast

from domain import events as ev
from domain.corrected import corrected_changes
from domain.dates import BusinessDate
from domain.entries import appended, entry
from domain.stages import Stage
from domain.state import (
    Changes,
    Consent,
    Mission,
    Opinion,
    ProcessState,
    Report,
    Review,
    amend,
    frozen_map,
    with_entry,
)

_NO_CONSENT = Consent()
_NO_REVIEW = Review()


def _opened(s: ProcessState, e: ev.ProcessOpened) -> Changes:
    return {"config": e.process, "stage": Stage.CONTACT}


def _contact(s: ProcessState, e: ev.ContactLogged) -> Changes:
    changes: Changes = {}
    if s.stage == Stage.CONTACT:
        changes["stage"] = Stage.OPTIONS_REVIEW
    if s.dates.first_contact is None:
        changes["dates"] = amend(s.dates, first_contact=e.occurred_on)
    return changes


def _opinion(s: ProcessState, e: ev.OpinionSubmitted) -> Changes:
    changes: Changes = {
        "opinion": Opinion(e.recommendation, e.conditions),
        "dates": amend(s.dates, opinion=e.occurred_on),
    }
    if e.recommendation == "decline":
        changes["stage"] = Stage.WITHDRAWN
        changes["dates"] = amend(s.dates, opinion=e.occurred_on, withdrawn=e.occurred_on)
    return changes


def _representative(s: ProcessState, e: ev.RepresentativeAssigned) -> Changes:
    return {"representative": e.representative}


def _negotiations(s: ProcessState, e: ev.NegotiationsOpened) -> Changes:
    return {
        "stage": Stage.NEGOTIATING,
        "dates": amend(s.dates, negotiations_opened=e.occurred_on),
    }


def _nothing(s: ProcessState, e: ev.Event) -> Changes:
    return {}


def _dormant(s: ProcessState, e: ev.ProcessWentDormant) -> Changes:
    return {"stage": Stage.DORMANT, "dormant_from": s.stage}


def _reengaged(s: ProcessState, e: ev.ProcessReengaged) -> Changes:
    return {"stage": s.dormant_from or Stage.OPTIONS_REVIEW, "dormant_from": None}


def _instrument_proposed(s: ProcessState, e: ev.InstrumentProposed) -> Changes:
    # A new draft is not cleared until the channel clears that very draft.
    return {
        "instrument": amend(
            s.instrument, type=e.type, draft_version=e.draft_version, cleared_version=None
        )
    }


def _instrument_cleared(s: ProcessState, e: ev.InstrumentCleared) -> Changes:
    return {"instrument": amend(s.instrument, cleared_version=e.draft_version)}


def _instrument_signed(s: ProcessState, e: ev.InstrumentSigned) -> Changes:
    return {
        "stage": Stage.INSTRUMENT_SIGNED,
        "instrument": amend(
            s.instrument,
            type=e.type,
            signed_on=e.occurred_on,
            signed_place=e.place,
            signatories=e.signatories,
        ),
        "dates": amend(s.dates, signed=e.occurred_on),
    }


def _mission_proposed(s: ProcessState, e: ev.MissionProposed) -> Changes:
    # A new ToR version replaces the plan and voids every earlier consent.
    required = s.config.consent_agencies if s.config else ()
    mission = Mission(
        tor_version=e.tor_version,
        planned_start=e.planned_start,
        planned_end=e.planned_end,
        team=e.team,
        agencies_to_meet=e.agencies_to_meet,
        consents=frozen_map({key: Consent() for key in required}),
    )
    stage = Stage.MISSION_PLANNING if required else Stage.MISSION_READY
    return {"stage": stage, "mission": mission}


def _consent(s: ProcessState, key: str, **changes: Any) -> Mission:
    current = s.mission.consents.get(key, _NO_CONSENT)
    return amend(s.mission, consents=with_entry(s.mission.consents, key, amend(current, **changes)))


def _consent_granted(s: ProcessState, e: ev.ConsentGranted) -> Changes:
    mission = _consent(s, e.agency, status="granted")
    if mission.all_consents_granted and s.stage == Stage.MISSION_PLANNING:
        return {"mission": mission, "stage": Stage.MISSION_READY}
    return {"mission": mission}


def _consent_refused(s: ProcessState, e: ev.ConsentRefused) -> Changes:
    return {"mission": _consent(s, e.agency, status="refused")}


def _consent_overdue(s: ProcessState, e: ev.ConsentOverdue) -> Changes:
    return {"mission": _consent(s, e.agency, status="overdue")}


def _rescheduled(s: ProcessState, e: ev.MissionRescheduled) -> Changes:
    return {"mission": amend(s.mission, planned_start=e.planned_start, planned_end=e.planned_end)}


def _mission_started(s: ProcessState, e: ev.MissionStarted) -> Changes:
    return {
        "stage": Stage.MISSION_IN_PROGRESS,
        "mission": amend(s.mission, started_on=e.occurred_on),
        "dates": amend(s.dates, mission_start=e.occurred_on),
    }


def _mission_meeting(s: ProcessState, e: ev.MissionMeetingRecorded) -> Changes:
    seen = s.mission.received_by
    received = seen + tuple(k for k in e.received_by if k not in seen)
    return {"mission": amend(s.mission, received_by=received)}


def _mission_completed(s: ProcessState, e: ev.MissionCompleted) -> Changes:
    return {
        "stage": Stage.MISSION_COMPLETED,
        "mission": amend(
            s.mission,
            actual_start=e.actual_start,
            actual_end=e.actual_end,
            mode=e.mode,
            coverage_gaps=e.coverage_gaps,
        ),
        "dates": amend(s.dates, mission_end=BusinessDate.of(e.actual_end)),
    }


def _delivered(s: ProcessState, e: ev.ReportDelivered) -> Changes:
    return {
        "stage": Stage.UNDER_REVIEW,
        "report": Report(
            title=e.title,
            version=e.version,
            classification=e.classification,
            recipient=e.recipient,
        ),
        "dates": amend(s.dates, delivered=e.occurred_on),
    }


def _review(s: ProcessState, key: str, **changes: Any) -> Report:
    current = s.report.reviews.get(key, _NO_REVIEW)
    return amend(s.report, reviews=with_entry(s.report.reviews, key, amend(current, **changes)))


def _review_requested(s: ProcessState, e: ev.ReviewRequested) -> Changes:
    return {"report": amend(s.report, reviews=with_entry(s.report.reviews, e.agency, _NO_REVIEW))}


def _review_submitted(s: ProcessState, e: ev.ReviewSubmitted) -> Changes:
    return {"report": _review(s, e.agency, status="submitted")}


def _review_reminder(s: ProcessState, e: ev.ReviewReminderSent) -> Changes:
    reminders = s.report.reviews.get(e.agency, _NO_REVIEW).reminders + 1
    return {"report": _review(s, e.agency, reminders=reminders)}


def _review_overdue(s: ProcessState, e: ev.ReviewOverdue) -> Changes:
    return {"report": _review(s, e.agency, status="overdue")}


def _escalated(s: ProcessState, e: ev.Escalated) -> Changes:
    if e.matter == "consent":
        return {"mission": _consent(s, e.agency, escalated=True)}
    return {"report": _review(s, e.agency, escalated=True)}


def _conclusions(s: ProcessState, e: ev.ConclusionsSubmitted) -> Changes:
    return {
        "stage": Stage.CONCLUSIONS_SUBMITTED,
        "report": amend(s.report, conclusions_version=e.report_version),
        "dates": amend(s.dates, conclusions=e.occurred_on),
    }


def _revision_requested(s: ProcessState, e: ev.RevisionRequested) -> Changes:
    return {"stage": Stage.REVISION, "report": amend(s.report, revision_rounds=e.round)}


def _revised(s: ProcessState, e: ev.ReportRevised) -> Changes:
    # Reviews and conclusions belong to a version; the new one starts afresh.
    report = amend(
        s.report,
        version=e.version,
        title=e.title or s.report.title,
        reviews=frozen_map({}),
        conclusions_version=None,
    )
    return {"stage": Stage.UNDER_REVIEW, "report": report}


def _accepted(s: ProcessState, e: ev.ReportAccepted) -> Changes:
    return {
        "stage": Stage.ACCEPTED,
        "report": amend(s.report, accepted_version=e.report_version),
        "dates": amend(s.dates, accepted=e.occurred_on),
    }


def _presented(s: ProcessState, e: ev.PresentationHeld) -> Changes:
    return {"stage": Stage.PRESENTED, "dates": amend(s.dates, presented=e.occurred_on)}


def _cleared(s: ProcessState, e: ev.PublicationCleared) -> Changes:
    return {"report": amend(s.report, clearances=s.report.clearances | {e.party})}


def _published(s: ProcessState, e: ev.ReportPublished) -> Changes:
    return {
        "stage": Stage.PUBLISHED,
        "report": amend(s.report, classification="public", languages=e.languages),
        "dates": amend(s.dates, published=e.occurred_on),
    }


def _suspended(s: ProcessState, e: ev.ProcessSuspended) -> Changes:
    return {"stage": Stage.SUSPENDED, "suspended_from": s.stage, "suspended_by": e.party}


def _resumed(s: ProcessState, e: ev.ProcessResumed) -> Changes:
    return {
        "stage": s.suspended_from or Stage.CONTACT,
        "suspended_from": None,
        "suspended_by": None,
    }


def _withdrawn(s: ProcessState, e: ev.ProcessWithdrawn) -> Changes:
    return {"stage": Stage.WITHDRAWN, "dates": amend(s.dates, withdrawn=e.occurred_on)}


def _closed(s: ProcessState, e: ev.ProcessClosed) -> Changes:
    return {"stage": Stage.CLOSED, "dates": amend(s.dates, closed=e.occurred_on)}


Apply = Callable[[ProcessState, Any], Changes]


def _rule_for(e: ev.AnyEvent) -> Apply:
    """How an event of `e`'s class changes the state: a class without a case is a mypy
    error (`assert_never`)."""
    match e:
        case ev.ProcessOpened():
            return _opened
        case ev.ContactLogged():
            return _contact
        case ev.OpinionSubmitted():
            return _opinion
        case ev.RepresentativeAssigned():
            return _representative
        case ev.NegotiationsOpened():
            return _negotiations
        case ev.MeetingRecorded():
            return _nothing
        case ev.ProcessWentDormant():
            return _dormant
        case ev.ProcessReengaged():
            return _reengaged
        case ev.InstrumentProposed():
            return _instrument_proposed
        case ev.InstrumentCleared():
            return _instrument_cleared
        case ev.InstrumentSigned():
            return _instrument_signed
        case ev.MissionProposed():
            return _mission_proposed
        case ev.ConsentGranted():
            return _consent_granted
        case ev.ConsentRefused():
            return _consent_refused
        case ev.MissionRescheduled():
            return _rescheduled
        case ev.MissionStarted():
            return _mission_started
        case ev.MissionMeetingRecorded():
            return _mission_meeting
        case ev.MissionCompleted():
            return _mission_completed
        case ev.ReportDelivered():
            return _delivered
        case ev.ReviewRequested():
            return _review_requested
        case ev.ReviewSubmitted():
            return _review_submitted
        case ev.ConclusionsSubmitted():
            return _conclusions
        case ev.RevisionRequested():
            return _revision_requested
        case ev.ReportRevised():
            return _revised
        case ev.ReportAccepted():
            return _accepted
        case ev.PresentationHeld():
            return _presented
        case ev.PublicationCleared():
            return _cleared
        case ev.ReportPublished():
            return _published
        case ev.ProcessSuspended():
            return _suspended
        case ev.ProcessResumed():
            return _resumed
        case ev.ProcessWithdrawn():
            return _withdrawn
        case ev.ProcessClosed():
            return _closed
        case ev.RecordCorrected():
            return corrected_changes
        case ev.ConsentOverdue():
            return _consent_overdue
        case ev.Escalated():
            return _escalated
        case ev.ReviewReminderSent():
            return _review_reminder
        case ev.ReviewOverdue():
            return _review_overdue
        case _:
            assert_never(e)


# The match depends on nothing but the event's class (class patterns without arguments), so
# its answer is kept per class. Measured: matching every event made `fold` about twice as
# slow, since isinstance on a pydantic model goes through ABCMeta's check for each case.
_RULES: dict[type[ev.Event], Apply] = {}


def _changes(s: ProcessState, e: ev.Event) -> Changes:
    apply = _RULES.get(type(e))
    if apply is None:
        # Every event class is in the union (tests/domain checks it): the cast states a fact.
        apply = _RULES[type(e)] = _rule_for(cast(ev.AnyEvent, e))
    return apply(s, e)


def evolve(state: ProcessState, event: ev.Event, by: str | None = None) -> ProcessState:
    """The state after one more event (one copy of the top-level record).

    `by` is the party whose command recorded the event (the event store keeps it as the
    actor metadata, not in the event): `correct_record` lets that party correct it."""
    changes = _changes(state, event)
    changes["version"] = state.version + 1
    changes["last_occurred_on"] = event.occurred_on
    changes["entries"] = appended(
        changes.get("entries", state.entries), entry(event.event_type, event.occurred_on, by)
    )
    if changes.get("stage", state.stage) != state.stage:
        changes["stage_since"] = event.occurred_on
    return amend(state, **changes)


def fold(
    events: Iterable[ev.Event],
    state: ProcessState | None = None,
    *,
    by: Iterable[str | None] | None = None,
) -> ProcessState:
    """Fold a stream of events onto `state` (the initial state by default); `by` gives
    each event's recording party, in the same order (see `evolve`)."""
    current = state if state is not None else ProcessState()
    if by is None:
        for event in events:
            current = evolve(current, event)
        return current
    for event, party in zip(events, by, strict=True):
        current = evolve(current, event, party)
    return current
