"""Corrections: `correct_record` puts right one earlier event; the event itself stays.

DOMAIN.md: a mis-recorded fact (a wrong date, a misspelt venue) is corrected by a
`RecordCorrected` event that names the event (its stream version), the fields corrected
with their new values, and a reason. Read models, the timeline and the report show the
corrected value, marked. What may be corrected, and by whom (domain/DECISIONS.md):

- Only fields that *describe* what happened (the business date, venues, places, titles,
  names, free text, a mission's actual end and mode, a publication's languages), never
  those that *identify* or that a rule was decided on: versions, agency and party keys,
  a recommendation (it moved the stage), an instrument type, signatories (checked for
  both heads), planned dates (a plan is changed with `reschedule_mission`, not corrected).
- Never `ProcessOpened` (the configuration), an event the process recorded by itself (a
  timer's: the actor party `system`), an event recorded only as a consequence of another
  (`NegotiationsOpened`, `ReviewRequested`) or a correction itself (correct the original
  again instead).
- By the party whose command recorded the event, or the national_body chair.

To decide that without the events themselves, the state keeps one compact entry per
version (`ProcessState.entries`: "EventType YYYY-MM-DD party", about 45 bytes each), so a
process of 10,000 events carries about 450 KB of them; see domain/entries.py. What a
recorded correction changes, in the state and in how the event reads, is domain/corrected.py.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import JsonValue, TypeAdapter, ValidationError

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.entries import (
    Entries,
    entry_at,
    entry_count,
    entry_date,
    read_entry,
)
from domain.errors import DomainError
from domain.state import ProcessState
from domain.text import INPUT, echo, rule_broken
from domain.vocabulary import NATIONAL_BODY, SYSTEM

# How far a business date may be ahead of the current UTC date (DOMAIN.md invariant 1):
# here for corrections and, imported, for `decide` (domain.FUTURE_TOLERANCE).
FUTURE_TOLERANCE = timedelta(days=1)

OCCURRED_ON = "occurred_on"

# Event type -> (the command whose field types and text rules a corrected value must meet,
# the fields that may be corrected). Every event type not listed cannot be corrected.
CORRECTABLE: dict[str, tuple[type[cmd.Command], frozenset[str]]] = {
    ev.ContactLogged.event_type: (
        cmd.LogContact,
        frozenset({OCCURRED_ON, "venue", "participants", "modalities", "summary"}),
    ),
    ev.OpinionSubmitted.event_type: (
        cmd.SubmitOpinion,
        frozenset({OCCURRED_ON, "conditions", "summary"}),
    ),
    ev.RepresentativeAssigned.event_type: (
        cmd.AssignRepresentative,
        frozenset({OCCURRED_ON, "representative", "title"}),
    ),
    ev.MeetingRecorded.event_type: (
        cmd.RecordMeeting,
        frozenset({OCCURRED_ON, "format", "location", "summary"}),
    ),
    ev.ProcessWentDormant.event_type: (cmd.MarkDormant, frozenset({OCCURRED_ON, "reason"})),
    ev.ProcessReengaged.event_type: (cmd.ReEngage, frozenset({OCCURRED_ON, "summary"})),
    ev.InstrumentProposed.event_type: (
        cmd.ProposeInstrument,
        frozenset({OCCURRED_ON, "title", "summary"}),
    ),
    ev.InstrumentCleared.event_type: (cmd.ClearInstrument, frozenset({OCCURRED_ON})),
    ev.InstrumentSigned.event_type: (cmd.SignInstrument, frozenset({OCCURRED_ON, "place"})),
    ev.MissionProposed.event_type: (
        cmd.ProposeMission,
        frozenset({OCCURRED_ON, "team", "purpose"}),
    ),
    ev.ConsentGranted.event_type: (cmd.GrantConsent, frozenset({OCCURRED_ON, "conditions"})),
    ev.ConsentRefused.event_type: (cmd.RefuseConsent, frozenset({OCCURRED_ON, "reason"})),
    ev.MissionRescheduled.event_type: (
        cmd.RescheduleMission,
        frozenset({OCCURRED_ON, "reason"}),
    ),
    ev.MissionStarted.event_type: (cmd.StartMission, frozenset({OCCURRED_ON, "note"})),
    ev.MissionMeetingRecorded.event_type: (
        cmd.RecordMissionMeeting,
        frozenset({OCCURRED_ON, "location", "summary"}),
    ),
    ev.MissionCompleted.event_type: (
        cmd.CompleteMission,
        frozenset({OCCURRED_ON, "actual_end", "mode", "coverage_gaps"}),
    ),
    ev.ReportDelivered.event_type: (cmd.DeliverReport, frozenset({OCCURRED_ON, "title"})),
    ev.ReviewSubmitted.event_type: (
        cmd.SubmitReview,
        frozenset({OCCURRED_ON, "conclusions", "proposals"}),
    ),
    ev.ConclusionsSubmitted.event_type: (
        cmd.SubmitConclusions,
        frozenset({OCCURRED_ON, "summary", "proposals"}),
    ),
    ev.RevisionRequested.event_type: (cmd.RequestRevision, frozenset({OCCURRED_ON, "points"})),
    ev.ReportRevised.event_type: (
        cmd.ReviseReport,
        frozenset({OCCURRED_ON, "title", "changes"}),
    ),
    ev.ReportAccepted.event_type: (cmd.AcceptReport, frozenset({OCCURRED_ON})),
    ev.PresentationHeld.event_type: (
        cmd.HoldPresentation,
        frozenset({OCCURRED_ON, "venue", "attendee_categories"}),
    ),
    ev.PublicationCleared.event_type: (cmd.ClearPublication, frozenset({OCCURRED_ON})),
    ev.ReportPublished.event_type: (cmd.PublishReport, frozenset({OCCURRED_ON, "languages"})),
    ev.ProcessSuspended.event_type: (cmd.Suspend, frozenset({OCCURRED_ON, "reason"})),
    ev.ProcessResumed.event_type: (cmd.Resume, frozenset({OCCURRED_ON, "reason"})),
}
# Recorded by the same command right after another event, on its date: when that event's
# date is corrected, theirs moves with it (`RecordCorrected.with_versions`).
RECORDED_WITH = frozenset({ev.NegotiationsOpened.event_type, ev.ReviewRequested.event_type})
# Why each other event type is refused, for the rejection message.
_NOT_CORRECTABLE = {
    ev.ProcessOpened.event_type: "the opening (the process's configuration) is never corrected",
    ev.NegotiationsOpened.event_type: (
        "it was recorded with the opinion or the representative; correct that event"
    ),
    ev.ReviewRequested.event_type: "it was recorded with the report; correct that event",
    ev.RecordCorrected.event_type: "a correction is not corrected; correct the original again",
}


# --- deciding ----------------------------------------------------------------------------


def decide_correction(
    state: ProcessState, command: cmd.CorrectRecord, today: date | None
) -> ev.RecordCorrected:
    """The `RecordCorrected` a correction records, or DomainError. Checks, in order:
    the version exists (invalid_input) -> the actor issued it or is the national_body chair
    (not_allowed) -> the event may be corrected (guard_failed) -> each field is one that
    may be corrected, with a valid value (invalid_input) -> the corrected business date is
    not in the future (invalid_input) and keeps invariant 1 between the event's neighbours
    (out_of_order) -> the correction's own date is not before the process's last business
    date once corrected (out_of_order)."""
    name = command.name
    version = command.version
    entries = state.entries
    count = entry_count(entries)
    if version > count:
        raise DomainError(
            "invalid_input",
            f"{name}: field 'version': no event {version} in this process (it has {count})",
            "version",
        )
    event_type, old_on, issuer = read_entry(entry_at(entries, version))
    actor = command.actor
    chair = actor.party == NATIONAL_BODY and actor.role == "chair"
    if actor.party != issuer and not chair:
        raise DomainError(
            "not_allowed",
            f"{name}: event {version} ({event_type}) may be corrected by the party that "
            "recorded it or the national_body chair",
            "actor.party",
        )
    if issuer == SYSTEM:
        raise DomainError(
            "guard_failed",
            f"{name}: event {version} ({event_type}) was recorded by the process's own timer, "
            "not from a source; it is not corrected",
            "version",
        )
    rule = CORRECTABLE.get(event_type)
    if rule is None:
        why = _NOT_CORRECTABLE.get(event_type, "it is not correctable")
        raise DomainError(
            "guard_failed", f"{name}: event {version} ({event_type}): {why}", "version"
        )
    model, allowed = rule
    values: dict[str, Any] = {}
    for field_name, raw in command.fields.items():
        path = f"fields.{echo(field_name)}"
        if field_name not in allowed:
            raise DomainError(
                "invalid_input",
                f"{name}: field '{path}': not a field of {event_type} that can be corrected; "
                f"correctable: {', '.join(sorted(allowed))}",
                path,
            )
        values[field_name] = _validated(model, field_name, raw, name, path)
    corrected: dict[str, JsonValue] = {
        k: _adapter(model, k).dump_python(v, mode="json") for k, v in values.items()
    }
    new_on: BusinessDate | None = values.get(OCCURRED_ON)
    _check_cross_fields(state, command, event_type, version, old_on, values)
    last = state.last_occurred_on
    with_versions: tuple[int, ...] = ()
    if new_on is not None:
        path = f"fields.{OCCURRED_ON}"
        if today is not None and new_on.earliest > today + FUTURE_TOLERANCE:
            raise DomainError(
                "invalid_input",
                f"{name}: field '{path}': {new_on} is later than today (UTC) plus "
                "one day of tolerance; a fact is recorded once it has happened",
                path,
            )
        before = entry_date(entry_at(entries, version - 1))
        with_versions = _recorded_with(entries, count, version, old_on, issuer)
        following = version + len(with_versions) + 1
        after = entry_date(entry_at(entries, following)) if following <= count else None
        # Invariant 1 on earliest possible days, as `decide` checks it.
        if new_on.earliest < before.earliest or (
            after is not None and new_on.earliest > after.earliest
        ):
            bound = f"from {before}" + (f" to {after}" if after is not None else " on")
            raise DomainError(
                "out_of_order",
                f"{name}: field '{path}': {new_on} would break invariant 1; the "
                f"dates of the events around event {version} allow {bound}",
                path,
            )
        if after is None:
            last = new_on  # the latest event moves: the process's last date with it
    if last is not None and command.occurred_on.earliest < last.earliest:
        raise DomainError(
            "out_of_order",
            f"{name}: occurred_on {command.occurred_on} is earlier than the last "
            f"recorded business date {last}; dates never go backwards",
            "occurred_on",
        )
    return ev.RecordCorrected(
        occurred_on=command.occurred_on,
        corrected_version=version,
        corrected_type=event_type,
        fields=corrected,
        reason=command.reason,
        with_versions=with_versions if new_on is not None else (),
    )


def _recorded_with(
    entries: Entries, count: int, version: int, on: BusinessDate, party: str
) -> tuple[int, ...]:
    """The versions recorded right after `version` by the same command (a review request
    per reviewer after a report, negotiations opened after the opinion): same date, same
    party, of a RECORDED_WITH type."""
    out: list[int] = []
    for later in range(version + 1, count + 1):
        event_type, later_on, later_party = read_entry(entry_at(entries, later))
        if event_type not in RECORDED_WITH or later_on != on or later_party != party:
            break
        out.append(later)
    return tuple(out)


_ADAPTERS: dict[tuple[type[cmd.Command], str], TypeAdapter[Any]] = {}


def _adapter(model: type[cmd.Command], field_name: str) -> TypeAdapter[Any]:
    key = (model, field_name)
    adapter = _ADAPTERS.get(key)
    if adapter is None:
        info = model.model_fields[field_name]
        annotated: Any = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        adapter = _ADAPTERS[key] = TypeAdapter(annotated)
    return adapter


def _validated(model: type[cmd.Command], field_name: str, raw: Any, name: str, path: str) -> Any:
    """The value as the command that records such events would take it (strict JSON, text
    hygiene), or invalid_input naming the field and the rule, never the value."""
    try:
        return _adapter(model, field_name).validate_json(
            json.dumps(raw), strict=True, context=INPUT
        )
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=True, include_context=True)[0]
        pattern = error.get("ctx", {}).get("pattern")
        rule = rule_broken(error["type"], pattern, error.get("input")) or error["msg"]
        rule = rule.removeprefix("Value error, ")
        inner = ".".join(echo(part) for part in error["loc"])
        where = f"{path}.{inner}" if inner else path
        message = f"{name}: field '{where}': {echo(rule, 160)}"
        raise DomainError("invalid_input", message, where) from None


def _check_cross_fields(
    state: ProcessState,
    command: cmd.CorrectRecord,
    event_type: str,
    version: int,
    old_on: BusinessDate,
    values: dict[str, Any],
) -> None:
    """The rules that tie a mission's dates together, as `complete_mission` checks them."""
    mission = state.mission
    if event_type == ev.MissionCompleted.event_type:
        end = values.get("actual_end", mission.actual_end)
        completed_on: BusinessDate = values.get(OCCURRED_ON, old_on)
        started = mission.started_on
        if end is not None and started is not None and end < started.earliest:
            raise DomainError(
                "guard_failed",
                f"{command.name}: actual_end {end.isoformat()} is before the mission started "
                f"({started})",
                "fields.actual_end",
            )
        if end is not None and end > completed_on.latest:
            raise DomainError(
                "guard_failed",
                f"{command.name}: actual_end {end.isoformat()} is after the completion was "
                f"recorded ({completed_on})",
                "fields.actual_end",
            )
    if event_type == ev.MissionStarted.event_type and OCCURRED_ON in values:
        end = mission.actual_end
        if end is not None and values[OCCURRED_ON].earliest > end:
            raise DomainError(
                "guard_failed",
                f"{command.name}: the mission ended on {end.isoformat()}; it cannot have "
                "started later",
                f"fields.{OCCURRED_ON}",
            )
