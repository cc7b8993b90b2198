"""What a recorded correction changes: in the state (`corrected_changes`, for `evolve`) and
in how the corrected event reads (`apply`, `corrections_of`, `mark`, for the read side).
The rules of what may be corrected, and by whom, are domain/corrections.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from domain import events as ev
from domain.corrections import OCCURRED_ON
from domain.dates import BusinessDate
from domain.entries import (
    all_entries,
    entry,
    entry_at,
    entry_count,
    read_entry,
    replaced,
)
from domain.state import Changes, Correction, ProcessState, amend

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
