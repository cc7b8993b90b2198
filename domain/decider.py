"""decide: check a command against the state and say which events it causes.

Checks run in a fixed order so callers always get the most fundamental reason first:
future date -> terminal -> not_allowed -> wrong_stage -> out_of_order -> guard_failed (and
invalid_input for values that name parties or agencies the process does not have).

The future-date check (`today` given) comes first, where a malformed value is caught: it
judges the command alone, like `parse_command`'s checks that run before `decide`, so a
command dated in the future is `invalid_input` whatever the process's state, exactly as a
malformed date would be. Timer (system) commands are exempt: the workflow builds them
itself, and refusing one would lose a deadline; it never dates them in the future.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from domain import commands as cmd
from domain import events as ev
from domain.corrections import decide_correction
from domain.dates import BusinessDate
from domain.errors import DomainError
from domain.evolve import evolve, fold
from domain.parties import ProcessConfig
from domain.policy import authorize
from domain.stages import ALLOWED_IN, DORMANT_FROM, Stage
from domain.state import ProcessState
from domain.vocabulary import NATIONAL_BODY, PARTNER

__all__ = ["decide", "evolve", "fold"]

# How far a business date may be ahead of the current UTC date (DOMAIN.md invariant 1).
FUTURE_TOLERANCE = timedelta(days=1)

Decision = Callable[[ProcessState, ProcessConfig, Any, BusinessDate], list[ev.Event]]


def decide(
    state: ProcessState, command: cmd.Command, *, today: date | None = None
) -> list[ev.Event]:
    """The events `command` causes in `state`, or DomainError. Pure: nothing is changed.

    With `today` (the caller's current UTC date: the workflow passes
    `workflow.now().date()`), a business date later than today plus FUTURE_TOLERANCE is
    refused `invalid_input` (invariant 1: a fact is recorded once it has happened; the day
    of tolerance covers a caller whose local date is ahead of UTC). Without `today` there
    is no such check (replays of recorded facts, tests, tools without a clock).
    """
    name = command.name
    if (
        today is not None
        and name not in cmd.SYSTEM_COMMANDS
        and command.occurred_on.earliest > today + FUTURE_TOLERANCE
    ):
        # An imprecise date is refused only when even its earliest possible day is to come.
        raise DomainError(
            "invalid_input",
            f"{name}: occurred_on {command.occurred_on} is later than today "
            f"(UTC) plus one day of tolerance ({(today + FUTURE_TOLERANCE).isoformat()}); "
            "a fact is recorded once it has happened",
            "occurred_on",
        )
    source = command.source
    if today is not None and source is not None and source.date.earliest > today + FUTURE_TOLERANCE:
        raise DomainError(
            "invalid_input",
            f"{name}: field 'source.date': {source.date} is later than today (UTC) plus one "
            "day of tolerance; a source is cited once it exists",
            "source.date",
        )
    if state.is_terminal:
        raise DomainError(
            "terminal", f"{name}: the process is {state.stage} (terminal) and accepts no command"
        )
    config = state.config
    if config is None:
        if not isinstance(command, cmd.OpenProcess):
            raise DomainError(
                "wrong_stage", f"{name}: the process is not opened; only open_process is accepted"
            )
        authorize(name, command.actor, None)
        return [ev.ProcessOpened(occurred_on=command.occurred_on, process=command.process)]
    authorize(name, command.actor, config)
    suspended_by = state.suspended_by
    if isinstance(command, cmd.Resume) and suspended_by not in (None, command.actor.party):
        raise DomainError(
            "not_allowed",
            f"resume: only the party that suspended ({suspended_by}) may resume",
            "actor.party",
        )
    if isinstance(command, cmd.OpenProcess):
        raise DomainError("wrong_stage", "open_process: the process is already opened")
    allowed = ALLOWED_IN[name]
    if state.stage not in allowed:
        stages = ", ".join(sorted(allowed))
        raise DomainError(
            "wrong_stage", f"{name}: not accepted in stage {state.stage}; accepted in: {stages}"
        )
    if isinstance(command, cmd.CorrectRecord):
        # Its own order of checks (domain/corrections.py): the out_of_order check compares
        # with the last business date as corrected, so a wrong latest date can be undone.
        return [decide_correction(state, command, today)]
    on = command.occurred_on
    last = state.last_occurred_on
    # Invariant 1 on the earliest possible days (DOMAIN.md): "2021-11" may follow "2021",
    # "2021-01/2021-12" may follow "2021-01"; "2021" may not follow "2021-11-15", nor
    # "2021-10" follow "2021-11".
    if last is not None and on.earliest < last.earliest:
        if name in cmd.SYSTEM_COMMANDS:
            on = last  # a timer firing is never "late": it happens at the latest known date
        else:
            raise DomainError(
                "out_of_order",
                f"{name}: occurred_on {on} is earlier than the last recorded "
                f"business date {last}; dates never go backwards",
                "occurred_on",
            )
    return _DECISIONS[type(command)](state, config, command, on)


# --- guards --------------------------------------------------------------------------


def _guard(ok: bool, command: str, rule: str, field: str | None = None) -> None:
    if not ok:
        raise DomainError("guard_failed", f"{command}: {rule}", field)


def _known(
    config: ProcessConfig,
    keys: Iterable[str],
    command: str,
    field: str,
    *,
    parties: tuple[str, ...] = (),
) -> None:
    """Values that name agencies (or parties) must exist in this process."""
    valid = set(config.agency_keys) | set(parties)
    unknown = [k for k in keys if k not in valid]
    if unknown:
        raise DomainError(
            "invalid_input",
            f"{command}: field '{field}': unknown {', '.join(unknown)}; "
            f"known: {', '.join(sorted(valid))}",
            field,
        )


def _latest(state: ProcessState, command: str, version: int) -> None:
    latest = state.report.version
    _guard(
        version == latest,
        command,
        f"report_version {version} is not the latest report version ({latest})",
        "report_version",
    )


# --- opening, contacts and negotiations ------------------------------------------------


def _negotiations_open(state: ProcessState, opinion: str | None, representative: bool) -> bool:
    return state.stage == Stage.OPTIONS_REVIEW and opinion == "negotiate" and representative


def _log_contact(
    s: ProcessState, c: ProcessConfig, x: cmd.LogContact, on: BusinessDate
) -> list[ev.Event]:
    return [
        ev.ContactLogged(
            occurred_on=on,
            venue=x.venue,
            participants=x.participants,
            modalities=x.modalities,
            summary=x.summary,
        )
    ]


def _submit_opinion(
    s: ProcessState, c: ProcessConfig, x: cmd.SubmitOpinion, on: BusinessDate
) -> list[ev.Event]:
    _guard(s.opinion is None, x.name, "the national body has already given its opinion")
    out: list[ev.Event] = [
        ev.OpinionSubmitted(
            occurred_on=on,
            recommendation=x.recommendation,
            conditions=x.conditions,
            summary=x.summary,
        )
    ]
    if _negotiations_open(s, x.recommendation, s.representative is not None):
        out.append(ev.NegotiationsOpened(occurred_on=on))
    return out


def _assign_representative(
    s: ProcessState, c: ProcessConfig, x: cmd.AssignRepresentative, on: BusinessDate
) -> list[ev.Event]:
    out: list[ev.Event] = [
        ev.RepresentativeAssigned(
            occurred_on=on, agency=c.channel.key, representative=x.representative, title=x.title
        )
    ]
    recommendation = s.opinion.recommendation if s.opinion else None
    if _negotiations_open(s, recommendation, True):
        out.append(ev.NegotiationsOpened(occurred_on=on))
    return out


def _record_meeting(
    s: ProcessState, c: ProcessConfig, x: cmd.RecordMeeting, on: BusinessDate
) -> list[ev.Event]:
    _known(c, x.agencies_present, x.name, "agencies_present")
    _known(c, [x.initiator], x.name, "initiator", parties=(PARTNER, NATIONAL_BODY))
    return [
        ev.MeetingRecorded(
            occurred_on=on,
            format=x.format,
            location=x.location,
            agencies_present=x.agencies_present,
            participants=x.participants,
            initiator=x.initiator,
            summary=x.summary,
        )
    ]


def _mark_dormant(
    s: ProcessState, c: ProcessConfig, x: cmd.MarkDormant, on: BusinessDate
) -> list[ev.Event]:
    return [ev.ProcessWentDormant(occurred_on=on, reason=x.reason, automatic=False)]


def _re_engage(
    s: ProcessState, c: ProcessConfig, x: cmd.ReEngage, on: BusinessDate
) -> list[ev.Event]:
    _known(c, [x.initiator], x.name, "initiator", parties=(PARTNER, NATIONAL_BODY))
    return [ev.ProcessReengaged(occurred_on=on, initiator=x.initiator, summary=x.summary)]


# --- the instrument --------------------------------------------------------------------


def _propose_instrument(
    s: ProcessState, c: ProcessConfig, x: cmd.ProposeInstrument, on: BusinessDate
) -> list[ev.Event]:
    current = s.instrument.draft_version
    _guard(
        x.draft_version > current,
        x.name,
        f"draft_version {x.draft_version} must be greater than the current draft ({current})",
        "draft_version",
    )
    return [
        ev.InstrumentProposed(
            occurred_on=on,
            type=x.type,
            draft_version=x.draft_version,
            title=x.title,
            summary=x.summary,
        )
    ]


def _clear_instrument(
    s: ProcessState, c: ProcessConfig, x: cmd.ClearInstrument, on: BusinessDate
) -> list[ev.Event]:
    current = s.instrument.draft_version
    _guard(current > 0, x.name, "no instrument draft has been proposed", "draft_version")
    _guard(
        x.draft_version == current,
        x.name,
        f"only the current draft ({current}) can be cleared, not {x.draft_version}",
        "draft_version",
    )
    _guard(
        s.instrument.cleared_version != current,
        x.name,
        f"draft {current} is already cleared",
        "draft_version",
    )
    return [ev.InstrumentCleared(occurred_on=on, agency=c.channel.key, draft_version=current)]


def _sign_instrument(
    s: ProcessState, c: ProcessConfig, x: cmd.SignInstrument, on: BusinessDate
) -> list[ev.Event]:
    instrument = s.instrument
    _guard(instrument.draft_version > 0, x.name, "no instrument draft has been proposed")
    _guard(
        x.draft_version == instrument.draft_version,
        x.name,
        f"only the current draft ({instrument.draft_version}) can be signed",
        "draft_version",
    )
    _guard(
        instrument.cleared_version == x.draft_version,
        x.name,
        f"draft {x.draft_version} has not been cleared by the channel ({c.channel.key})",
        "draft_version",
    )
    _known(
        c, (p.party for p in x.signatories), x.name, "signatories", parties=(PARTNER, NATIONAL_BODY)
    )
    signers = {(p.party, p.role) for p in x.signatories}
    for party, role in ((NATIONAL_BODY, "chair"), (PARTNER, "director_general")):
        _guard(
            (party, role) in signers,
            x.name,
            f"signatories must include the {party} {role}",
            "signatories",
        )
    assert instrument.type is not None  # set with the first draft
    return [
        ev.InstrumentSigned(
            occurred_on=on,
            type=instrument.type,
            draft_version=x.draft_version,
            place=x.place,
            signatories=x.signatories,
        )
    ]


# --- the mission -----------------------------------------------------------------------


def _planned_not_past(x: cmd.ProposeMission | cmd.RescheduleMission, on: BusinessDate) -> None:
    # Refused only when the plan is surely in the past: before the earliest possible day.
    _guard(
        x.planned_start >= on.earliest,
        x.name,
        f"planned_start {x.planned_start.isoformat()} is before occurred_on {on}",
        "planned_start",
    )


def _within(day: date, span: BusinessDate | None) -> bool:
    """`day` is one of the days an imprecise business date may stand for."""
    return span is not None and span.earliest <= day <= span.latest


def _propose_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.ProposeMission, on: BusinessDate
) -> list[ev.Event]:
    _known(c, x.agencies_to_meet, x.name, "agencies_to_meet")
    _guard(s.instrument.signed, x.name, "no instrument has been signed")
    current = s.mission.tor_version
    _guard(
        x.tor_version > current,
        x.name,
        f"tor_version {x.tor_version} must be greater than the current ToR version ({current})",
        "tor_version",
    )
    _planned_not_past(x, on)
    return [
        ev.MissionProposed(
            occurred_on=on,
            tor_version=x.tor_version,
            planned_start=x.planned_start,
            planned_end=x.planned_end,
            team=x.team,
            agencies_to_meet=x.agencies_to_meet,
            purpose=x.purpose,
        )
    ]


def _consent_answerable(s: ProcessState, x: cmd.GrantConsent | cmd.RefuseConsent) -> str:
    agency = x.actor.party
    current = s.mission.tor_version
    _guard(
        x.tor_version == current,
        x.name,
        f"tor_version {x.tor_version} is not the current ToR version ({current})",
        "tor_version",
    )
    status = s.mission.consents.get(agency)
    _guard(status is not None, x.name, f"no consent of {agency} is awaited")
    assert status is not None
    _guard(
        status.status in ("pending", "overdue"),
        x.name,
        f"{agency} has already {status.status} consent for ToR version {current}; "
        "a new ToR version is needed to ask again",
    )
    return agency


def _grant_consent(
    s: ProcessState, c: ProcessConfig, x: cmd.GrantConsent, on: BusinessDate
) -> list[ev.Event]:
    agency = _consent_answerable(s, x)
    return [
        ev.ConsentGranted(
            occurred_on=on, agency=agency, tor_version=x.tor_version, conditions=x.conditions
        )
    ]


def _refuse_consent(
    s: ProcessState, c: ProcessConfig, x: cmd.RefuseConsent, on: BusinessDate
) -> list[ev.Event]:
    agency = _consent_answerable(s, x)
    return [
        ev.ConsentRefused(occurred_on=on, agency=agency, tor_version=x.tor_version, reason=x.reason)
    ]


def _reschedule_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.RescheduleMission, on: BusinessDate
) -> list[ev.Event]:
    if s.stage == Stage.MISSION_IN_PROGRESS:
        # Under way only the end can move (extended or shortened), not into the past.
        started = s.mission.started_on
        _guard(
            _within(x.planned_start, started),
            x.name,
            f"the mission is under way since {started}; planned_start must stay {started}",
            "planned_start",
        )
        _guard(
            x.planned_end >= on.earliest,
            x.name,
            f"planned_end {x.planned_end.isoformat()} is before occurred_on {on}",
            "planned_end",
        )
    else:
        _planned_not_past(x, on)
    return [
        ev.MissionRescheduled(
            occurred_on=on,
            planned_start=x.planned_start,
            planned_end=x.planned_end,
            reason=x.reason,
        )
    ]


def _start_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.StartMission, on: BusinessDate
) -> list[ev.Event]:
    # Invariant 2, checked even though mission_ready implies it.
    _guard(s.instrument.signed, x.name, "no instrument has been signed")
    missing = s.mission.consents_with("pending", "refused", "overdue")
    _guard(
        s.mission.tor_version > 0 and not missing,
        x.name,
        f"consents missing for ToR version {s.mission.tor_version}: {', '.join(missing)}",
    )
    return [ev.MissionStarted(occurred_on=on, tor_version=s.mission.tor_version, note=x.note)]


def _record_mission_meeting(
    s: ProcessState, c: ProcessConfig, x: cmd.RecordMissionMeeting, on: BusinessDate
) -> list[ev.Event]:
    _known(c, x.received_by, x.name, "received_by", parties=(NATIONAL_BODY,))
    return [
        ev.MissionMeetingRecorded(
            occurred_on=on, received_by=x.received_by, location=x.location, summary=x.summary
        )
    ]


def _complete_mission(
    s: ProcessState, c: ProcessConfig, x: cmd.CompleteMission, on: BusinessDate
) -> list[ev.Event]:
    started = s.mission.started_on
    _guard(
        _within(x.actual_start, started),
        x.name,
        f"actual_start must be the date the mission started ({started})",
        "actual_start",
    )
    _guard(
        x.actual_end <= on.latest,
        x.name,
        f"actual_end {x.actual_end.isoformat()} is after occurred_on {on}",
        "actual_end",
    )
    return [
        ev.MissionCompleted(
            occurred_on=on,
            actual_start=x.actual_start,
            actual_end=x.actual_end,
            mode=x.mode,
            coverage_gaps=x.coverage_gaps,
        )
    ]


# --- the report ------------------------------------------------------------------------


def _review_requests(c: ProcessConfig, version: int, on: BusinessDate) -> list[ev.Event]:
    return [
        ev.ReviewRequested(occurred_on=on, agency=k, report_version=version) for k in c.reviewers
    ]


def _deliver_report(
    s: ProcessState, c: ProcessConfig, x: cmd.DeliverReport, on: BusinessDate
) -> list[ev.Event]:
    channel = c.channel.key
    _guard(
        x.recipient == channel,
        x.name,
        f"the report must be delivered to the channel ({channel}), not {x.recipient}",
        "recipient",
    )
    delivered = ev.ReportDelivered(
        occurred_on=on,
        title=x.title,
        version=x.version,
        recipient=x.recipient,
        classification=x.classification,
    )
    return [delivered, *_review_requests(c, x.version, on)]


def _submit_review(
    s: ProcessState, c: ProcessConfig, x: cmd.SubmitReview, on: BusinessDate
) -> list[ev.Event]:
    agency = x.actor.party
    _latest(s, x.name, x.report_version)
    review = s.report.reviews.get(agency)
    _guard(
        review is None or review.status != "submitted",
        x.name,
        f"{agency} has already reviewed version {x.report_version}",
    )
    return [
        ev.ReviewSubmitted(
            occurred_on=on,
            agency=agency,
            report_version=x.report_version,
            conclusions=x.conclusions,
            proposals=x.proposals,
        )
    ]


def _submit_conclusions(
    s: ProcessState, c: ProcessConfig, x: cmd.SubmitConclusions, on: BusinessDate
) -> list[ev.Event]:
    _latest(s, x.name, x.report_version)
    waiting = s.report.awaited_reviews()
    _guard(
        not waiting,
        x.name,
        "reviews still awaited (neither submitted nor overdue and escalated): "
        + ", ".join(waiting),
    )
    return [
        ev.ConclusionsSubmitted(
            occurred_on=on,
            agency=c.channel.key,
            report_version=x.report_version,
            summary=x.summary,
            proposals=x.proposals,
            missing_reviews=s.report.reviews_with("overdue"),
        )
    ]


def _request_revision(
    s: ProcessState, c: ProcessConfig, x: cmd.RequestRevision, on: BusinessDate
) -> list[ev.Event]:
    _latest(s, x.name, x.report_version)
    used = s.report.revision_rounds
    _guard(
        used < c.max_revisions,
        x.name,
        f"revision limit reached: {used} of max_revisions {c.max_revisions} rounds used",
    )
    return [
        ev.RevisionRequested(
            occurred_on=on, report_version=x.report_version, points=x.points, round=used + 1
        )
    ]


def _revise_report(
    s: ProcessState, c: ProcessConfig, x: cmd.ReviseReport, on: BusinessDate
) -> list[ev.Event]:
    latest = s.report.version
    _guard(
        x.version > latest,
        x.name,
        f"version {x.version} must be greater than the latest report version ({latest})",
        "version",
    )
    revised = ev.ReportRevised(occurred_on=on, version=x.version, title=x.title, changes=x.changes)
    return [revised, *_review_requests(c, x.version, on)]


def _accept_report(
    s: ProcessState, c: ProcessConfig, x: cmd.AcceptReport, on: BusinessDate
) -> list[ev.Event]:
    _latest(s, x.name, x.report_version)
    _guard(
        s.report.conclusions_version == x.report_version,
        x.name,
        f"no conclusions were submitted on version {x.report_version}",
        "report_version",
    )
    return [ev.ReportAccepted(occurred_on=on, report_version=x.report_version)]


def _hold_presentation(
    s: ProcessState, c: ProcessConfig, x: cmd.HoldPresentation, on: BusinessDate
) -> list[ev.Event]:
    return [
        ev.PresentationHeld(
            occurred_on=on, venue=x.venue, attendee_categories=x.attendee_categories
        )
    ]


def _clear_publication(
    s: ProcessState, c: ProcessConfig, x: cmd.ClearPublication, on: BusinessDate
) -> list[ev.Event]:
    party = x.actor.party
    _guard(
        party not in s.report.clearances,
        x.name,
        f"{party} has already cleared publication",
    )
    version = s.report.accepted_version
    assert version is not None  # stages accepted/presented imply acceptance
    return [ev.PublicationCleared(occurred_on=on, party=party, report_version=version)]


def _publish_report(
    s: ProcessState, c: ProcessConfig, x: cmd.PublishReport, on: BusinessDate
) -> list[ev.Event]:
    missing = [p for p in (NATIONAL_BODY, PARTNER) if p not in s.report.clearances]
    _guard(not missing, x.name, f"publication not cleared by: {', '.join(missing)}")
    version = s.report.accepted_version
    assert version is not None
    return [ev.ReportPublished(occurred_on=on, report_version=version, languages=x.languages)]


# --- whole process ---------------------------------------------------------------------


def _suspend(s: ProcessState, c: ProcessConfig, x: cmd.Suspend, on: BusinessDate) -> list[ev.Event]:
    return [ev.ProcessSuspended(occurred_on=on, party=x.actor.party, reason=x.reason)]


def _resume(s: ProcessState, c: ProcessConfig, x: cmd.Resume, on: BusinessDate) -> list[ev.Event]:
    return [ev.ProcessResumed(occurred_on=on, party=x.actor.party, reason=x.reason)]


def _withdraw(
    s: ProcessState, c: ProcessConfig, x: cmd.Withdraw, on: BusinessDate
) -> list[ev.Event]:
    return [ev.ProcessWithdrawn(occurred_on=on, party=x.actor.party, reason=x.reason)]


def _close_process(
    s: ProcessState, c: ProcessConfig, x: cmd.CloseProcess, on: BusinessDate
) -> list[ev.Event]:
    return [ev.ProcessClosed(occurred_on=on, summary=x.summary)]


# --- timers: stale or irrelevant firings are no-ops, never errors ------------------------


def _targets(c: ProcessConfig, agency: str) -> tuple[str, ...]:
    # Escalate above the silent agency, not to itself (unless it is the only target).
    others = tuple(k for k in c.escalation_targets if k != agency)
    return others or c.escalation_targets


def _consent_deadline(
    s: ProcessState, c: ProcessConfig, x: cmd.ConsentDeadlineReached, on: BusinessDate
) -> list[ev.Event]:
    if s.stage != Stage.MISSION_PLANNING or x.tor_version != s.mission.tor_version:
        return []
    out: list[ev.Event] = []
    for agency in s.mission.consents_with("pending"):
        out.append(ev.ConsentOverdue(occurred_on=on, agency=agency, tor_version=x.tor_version))
        out.append(
            ev.Escalated(
                occurred_on=on,
                agency=agency,
                matter="consent",
                version=x.tor_version,
                targets=_targets(c, agency),
            )
        )
    return out


def _review_reminder(
    s: ProcessState, c: ProcessConfig, x: cmd.ReviewReminderDue, on: BusinessDate
) -> list[ev.Event]:
    if s.stage != Stage.UNDER_REVIEW or x.report_version != s.report.version:
        return []
    return [
        ev.ReviewReminderSent(occurred_on=on, agency=agency, report_version=x.report_version)
        for agency in s.report.reviews_with("pending", "overdue")
        if x.agency in (None, agency)
    ]


def _review_deadline(
    s: ProcessState, c: ProcessConfig, x: cmd.ReviewDeadlineReached, on: BusinessDate
) -> list[ev.Event]:
    if s.stage != Stage.UNDER_REVIEW or x.report_version != s.report.version:
        return []
    out: list[ev.Event] = []
    for agency in s.report.reviews_with("pending"):
        if x.agency not in (None, agency):
            continue
        out.append(ev.ReviewOverdue(occurred_on=on, agency=agency, report_version=x.report_version))
        out.append(
            ev.Escalated(
                occurred_on=on,
                agency=agency,
                matter="review",
                version=x.report_version,
                targets=_targets(c, agency),
            )
        )
    return out


def _dormancy(
    s: ProcessState, c: ProcessConfig, x: cmd.DormancyDue, on: BusinessDate
) -> list[ev.Event]:
    if s.stage not in DORMANT_FROM:
        return []
    after = c.durations.model_dump(mode="json")["dormancy_after"]  # ISO 8601, as configured
    reason = f"no progress within {after}"
    return [ev.ProcessWentDormant(occurred_on=on, reason=reason, automatic=True)]


_DECISIONS: dict[type[cmd.Command], Decision] = {
    cmd.LogContact: _log_contact,
    cmd.SubmitOpinion: _submit_opinion,
    cmd.AssignRepresentative: _assign_representative,
    cmd.RecordMeeting: _record_meeting,
    cmd.MarkDormant: _mark_dormant,
    cmd.ReEngage: _re_engage,
    cmd.ProposeInstrument: _propose_instrument,
    cmd.ClearInstrument: _clear_instrument,
    cmd.SignInstrument: _sign_instrument,
    cmd.ProposeMission: _propose_mission,
    cmd.GrantConsent: _grant_consent,
    cmd.RefuseConsent: _refuse_consent,
    cmd.RescheduleMission: _reschedule_mission,
    cmd.StartMission: _start_mission,
    cmd.RecordMissionMeeting: _record_mission_meeting,
    cmd.CompleteMission: _complete_mission,
    cmd.DeliverReport: _deliver_report,
    cmd.SubmitReview: _submit_review,
    cmd.SubmitConclusions: _submit_conclusions,
    cmd.RequestRevision: _request_revision,
    cmd.ReviseReport: _revise_report,
    cmd.AcceptReport: _accept_report,
    cmd.HoldPresentation: _hold_presentation,
    cmd.ClearPublication: _clear_publication,
    cmd.PublishReport: _publish_report,
    cmd.Suspend: _suspend,
    cmd.Resume: _resume,
    cmd.Withdraw: _withdraw,
    cmd.CloseProcess: _close_process,
    cmd.ConsentDeadlineReached: _consent_deadline,
    cmd.ReviewReminderDue: _review_reminder,
    cmd.ReviewDeadlineReached: _review_deadline,
    cmd.DormancyDue: _dormancy,
}
assert set(_DECISIONS) | {cmd.OpenProcess, cmd.CorrectRecord} == set(cmd.COMMANDS.values()) | set(
    cmd.SYSTEM_COMMANDS.values()
), "every command must have a decision"
