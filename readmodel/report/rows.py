"""The recorded events as the report reads them: each decoded, with its corrections applied
and marked, and the sentences and notes a timeline entry shows for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import Event, ProcessConfig, ProcessState, describe
from domain import events as ev
from domain.corrected import apply as apply_corrections
from domain.corrected import corrections_of, mark
from domain.state import Correction
from domain.vocabulary import SYSTEM
from store.model import RecordedEvent

from .names import Names


def notes(event: Event, names: Names) -> tuple[str, ...]:
    """What the record says beyond `describe`'s sentence (summaries, conclusions, points)."""
    found: list[str] = []
    for attr in ("summary", "purpose", "conclusions", "changes", "note"):
        value = getattr(event, attr, "")
        if isinstance(value, str) and value:
            found.append(value)
    if isinstance(event, ev.MissionProposed) and event.agencies_to_meet:
        found.append(f"Agencies to meet: {names.parties(event.agencies_to_meet)}")
    if isinstance(event, ev.ConsentGranted):
        found += [f"Condition: {c}" for c in event.conditions]
    found += [f"Proposal: {p}" for p in getattr(event, "proposals", ())]
    found += [f"Point: {p}" for p in getattr(event, "points", ())]
    return tuple(found)


@dataclass(frozen=True)
class Row:
    recorded: RecordedEvent
    event: Event  # as corrected, when `correct_record` put it right
    marks: tuple[Correction, ...] = ()
    original: Event | None = None  # as recorded, when corrected


def corrected_rows(rows: list[Row], state: ProcessState) -> list[Row]:
    """Each row's event with its corrections applied (the store keeps the original)."""
    out = []
    for row in rows:
        marks = corrections_of(state, row.recorded.version)
        if marks:
            corrected = apply_corrections(row.event, row.recorded.version, marks)
            row = Row(row.recorded, corrected, marks, row.event)
        out.append(row)
    return out


def sentence(row: Row, config: ProcessConfig) -> str:
    said = describe(row.event, config)
    return f"{said} {mark(row.marks)}" if row.marks else said


def correction_notes(row: Row) -> tuple[str, ...]:
    """What each correction changed: the recorded value and the corrected one."""
    if row.original is None:
        return ()
    recorded = row.original.model_dump(mode="json")
    changed = []
    for correction in row.marks:
        for name, value in correction.fields.items():
            if correction.version != row.recorded.version and name != "occurred_on":
                continue  # recorded with the corrected event: only its date moved
            before = _shown(recorded.get(name))
            changed.append(f"Corrected {name.replace('_', ' ')}: {before} -> {_shown(value)}")
    return tuple(changed)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value in (None, "") else str(value)


def by_timer(row: Row) -> bool:
    actor = row.recorded.metadata.actor
    return isinstance(actor, dict) and actor.get("party") == SYSTEM
