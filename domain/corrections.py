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
process of 10,000 events carries about 450 KB of them; see `entry`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import JsonValue, TypeAdapter, ValidationError

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.errors import DomainError
from domain.state import Changes, Correction, ProcessState, amend
from domain.text import INPUT, echo, rule_broken
from domain.vocabulary import NATIONAL_BODY, SYSTEM

# How far a business date may be ahead of the current UTC date (invariant 1; the same
# tolerance as `decider.FUTURE_TOLERANCE`, which imports this module).
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


# --- the per-version entries -------------------------------------------------------------


# Entries are kept in chunks of ENTRIES_PER_CHUNK: appending one copies the last chunk and
# the tuple of chunks (about 80 at 10,000 events), not every entry, so folding a long
# stream stays linear (a flat tuple made a 10,000-event fold four times slower per event).
ENTRIES_PER_CHUNK = 128
Entries = tuple[tuple[str, ...], ...]


def appended(entries: Entries, text: str) -> Entries:
    if entries and len(entries[-1]) < ENTRIES_PER_CHUNK:
        return (*entries[:-1], (*entries[-1], text))
    return (*entries, (text,))


def entry_count(entries: Entries) -> int:
    return (len(entries) - 1) * ENTRIES_PER_CHUNK + len(entries[-1]) if entries else 0


def entry_at(entries: Entries, version: int) -> str:
    """The entry of stream version `version` (1-based)."""
    chunk, offset = divmod(version - 1, ENTRIES_PER_CHUNK)
    return entries[chunk][offset]


def replaced(entries: Entries, version: int, text: str) -> Entries:
    chunk, offset = divmod(version - 1, ENTRIES_PER_CHUNK)
    old = entries[chunk]
    return (*entries[:chunk], (*old[:offset], text, *old[offset + 1 :]), *entries[chunk + 1 :])


def all_entries(entries: Entries) -> tuple[str, ...]:
    """Every entry in version order (for the rare reader that needs them all)."""
    return tuple(text for chunk in entries for text in chunk)


def entry(event_type: str, on: BusinessDate, party: str | None) -> str:
    """One version's entry: its type, business date and the party whose command recorded
    it ("" when the reader of the stream did not know it). One string, not a record: it is
    kept for every event of every process, and carried in continue-as-new snapshots."""
    return f"{event_type} {on.text} {party or ''}"  # EDTF text has no space


def read_entry(text: str) -> tuple[str, BusinessDate, str]:
    event_type, on, party = text.split(" ", 2)
    return event_type, BusinessDate.parse(on), party


def entry_date(text: str) -> BusinessDate:
    return BusinessDate.parse(text.split(" ", 2)[1])


def party_of(actor: Any) -> str | None:
    """The party of an event's recorded actor metadata (None when absent)."""
    if isinstance(actor, dict) or hasattr(actor, "get"):
        party = actor.get("party")
        return party if isinstance(party, str) else None
    return None


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


# --- evolving ----------------------------------------------------------------------------


def corrected_changes(s: ProcessState, e: ev.RecordCorrected) -> Changes:
    """What a correction changes in the state: the entry's date, and each value the state
    holds from that very event (not when a later event has replaced it since)."""
    version = e.corrected_version
    fields = e.fields
    entries = s.entries
    changes: Changes = {
        "corrections": (
            *s.corrections,
            Correction(
                version=version,
                event_type=e.corrected_type,
                fields=MappingProxyType(dict(fields)),
                reason=e.reason,
                on=e.occurred_on,
                with_versions=e.with_versions,
            ),
        )
    }
    if not 1 <= version <= entry_count(entries):
        return changes  # not this stream's event: nothing else to put right
    event_type, _, party = read_entry(entry_at(entries, version))
    raw_on = fields.get(OCCURRED_ON)
    on = BusinessDate.parse(raw_on) if isinstance(raw_on, str) else None
    if on is not None:
        moved = replaced(entries, version, entry(event_type, on, party))
        for companion in e.with_versions:
            if companion <= entry_count(moved):
                companion_type, _, companion_party = read_entry(entry_at(moved, companion))
                moved = replaced(moved, companion, entry(companion_type, on, companion_party))
                if companion_type == ev.NegotiationsOpened.event_type:
                    changes["dates"] = amend(s.dates, negotiations_opened=on)
        changes["entries"] = moved
    flat = all_entries(entries)
    earlier = {read_entry(t)[0] for t in flat[: version - 1]}
    later = {read_entry(t)[0] for t in flat[version:]}
    dates = changes.get("dates", s.dates)
    mission, report, instrument = s.mission, s.report, s.instrument
    E = ev
    if event_type == E.ContactLogged.event_type and on and event_type not in earlier:
        dates = amend(dates, first_contact=on)
    elif event_type == E.OpinionSubmitted.event_type:
        if on:
            dates = amend(dates, opinion=on)
        if "conditions" in fields and s.opinion is not None:
            changes["opinion"] = amend(s.opinion, conditions=_listed(fields, "conditions"))
    elif event_type == E.RepresentativeAssigned.event_type:
        if "representative" in fields and event_type not in later:
            changes["representative"] = str(fields["representative"])  # checked as text
    elif event_type == E.InstrumentSigned.event_type:
        if on:
            instrument = amend(instrument, signed_on=on)
            dates = amend(dates, signed=on)
        if "place" in fields:
            instrument = amend(instrument, signed_place=fields["place"])
    elif event_type == E.MissionProposed.event_type:
        if "team" in fields and event_type not in later:
            mission = amend(mission, team=_listed(fields, "team"))
    elif event_type == E.MissionStarted.event_type and on:
        mission = amend(mission, started_on=on)
        if mission.actual_start is not None and on.is_day:
            mission = amend(mission, actual_start=on.earliest)  # defined as the day it started
        dates = amend(dates, mission_start=on)
    elif event_type == E.MissionCompleted.event_type:
        if "actual_end" in fields:
            end = date.fromisoformat(str(fields["actual_end"]))
            mission = amend(mission, actual_end=end)
            dates = amend(dates, mission_end=BusinessDate.of(end))
        if "mode" in fields:
            mission = amend(mission, mode=fields["mode"])
        if "coverage_gaps" in fields:
            mission = amend(mission, coverage_gaps=_listed(fields, "coverage_gaps"))
    elif event_type == E.ReportDelivered.event_type:
        if on:
            dates = amend(dates, delivered=on)
        if "title" in fields and E.ReportRevised.event_type not in later:
            report = amend(report, title=fields["title"])
    elif event_type == E.ReportRevised.event_type:
        if fields.get("title") and event_type not in later:
            report = amend(report, title=fields["title"])
    elif event_type == E.ConclusionsSubmitted.event_type:
        if on and event_type not in later:
            dates = amend(dates, conclusions=on)
    elif event_type == E.ReportAccepted.event_type and on:
        dates = amend(dates, accepted=on)
    elif event_type == E.PresentationHeld.event_type and on:
        dates = amend(dates, presented=on)
    elif event_type == E.ReportPublished.event_type:
        if on:
            dates = amend(dates, published=on)
        if "languages" in fields:
            report = amend(report, languages=_listed(fields, "languages"))
    if dates is not s.dates:
        changes["dates"] = dates
    if mission is not s.mission:
        changes["mission"] = mission
    if report is not s.report:
        changes["report"] = report
    if instrument is not s.instrument:
        changes["instrument"] = instrument
    return changes


def _listed(fields: Mapping[str, Any], name: str) -> tuple[Any, ...]:
    value = fields.get(name)
    return tuple(value) if isinstance(value, list) else ()


# --- reading: the corrected event ----------------------------------------------------------


def corrections_of(state: ProcessState, version: int) -> tuple[Correction, ...]:
    """The corrections of the event at `version`, and those of an event it was recorded
    with whose date moved it too, in order."""
    return tuple(c for c in state.corrections if c.version == version or version in c.with_versions)


def apply(event: ev.Event, version: int, corrections: tuple[Correction, ...]) -> ev.Event:
    """The event at `version` as its corrections say it is (later corrections win); an
    event recorded with the corrected one takes only its corrected date."""
    if not corrections:
        return event
    data = event.model_dump(mode="json")
    for correction in corrections:
        if correction.version == version:
            data.update(correction.fields)
        elif OCCURRED_ON in correction.fields:
            data[OCCURRED_ON] = correction.fields[OCCURRED_ON]
    return type(event).model_validate(data)


def mark(corrections: tuple[Correction, ...]) -> str:
    """How a corrected event is marked: "(corrected on 2025-03-12: reason)"."""
    return "; ".join(f"(corrected on {c.on}: {c.reason})" for c in corrections)
