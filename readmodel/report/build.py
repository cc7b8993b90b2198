"""A process's chronology as a person reads it, built from its recorded events alone.

`build_report(events)` decodes the stream, applies its corrections, folds it (which also
gives the time spent in each stage) and returns a `Report` (`model.py`): sections of
plain-text blocks, rendered by `markdown.py` and `html.py`. No I/O here (the command is
`cli/report_cli.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain import Event, ProcessState, decode_event, evolve, initial_state, process_view
from domain import events as ev
from domain.dates import spoken
from store.model import RecordedEvent

from .model import Block, Entry, Facts, Paragraph, Report, Section, StageChart, Table, Timeline
from .names import Names
from .rows import Row, corrected_rows, correction_notes, notes, sentence
from .sections import mission_facts, parties, review_tables, sources
from .stages import span_between, stage_label, stage_periods, stage_table

_MILESTONES = {
    "first_contact": "First contact",
    "opinion": "Opinion of the national body",
    "negotiations_opened": "Negotiations opened",
    "signed": "Instrument signed",
    "mission_start": "Mission started",
    "mission_end": "Mission ended",
    "delivered": "Report delivered",
    "conclusions": "Consolidated conclusions",
    "accepted": "Report accepted",
    "presented": "Report presented",
    "published": "Report published",
    "closed": "Process closed",
    "withdrawn": "Process withdrawn",
}
_MEETINGS = (
    ev.ContactLogged,
    ev.MeetingRecorded,
    ev.MissionMeetingRecorded,
    ev.PresentationHeld,
)
_INSTRUMENT = (ev.InstrumentProposed, ev.InstrumentCleared, ev.InstrumentSigned)
_MISSION = (
    ev.MissionProposed,
    ev.ConsentGranted,
    ev.ConsentRefused,
    ev.ConsentOverdue,
    ev.MissionRescheduled,
    ev.MissionStarted,
    ev.MissionMeetingRecorded,
    ev.MissionCompleted,
)
_REPORT = (
    ev.ReportDelivered,
    ev.ReviewSubmitted,
    ev.ConclusionsSubmitted,
    ev.RevisionRequested,
    ev.ReportRevised,
    ev.ReportAccepted,
    ev.PresentationHeld,
    ev.PublicationCleared,
    ev.ReportPublished,
)
_ESCALATIONS = (ev.ConsentOverdue, ev.ReviewOverdue, ev.Escalated, ev.ReviewReminderSent)


def build_report(
    events: Sequence[RecordedEvent],
    *,
    chain_ok: bool | None = None,
    generated_at: datetime | None = None,
) -> Report:
    """The report of one process from its stream, in version order (`read_stream`)."""
    if not events:
        raise ValueError("no events: nothing to report")
    rows = [Row(r, decode_event(r.event_type, r.schema_version, r.data)) for r in events]
    state: ProcessState = initial_state()
    for row in rows:
        state = evolve(state, row.event)
    rows = corrected_rows(rows, state)
    config = state.config
    if config is None:
        raise ValueError(f"stream {events[0].stream_id} does not start with ProcessOpened")
    names = Names(config)
    view = process_view(state)
    first, last = rows[0].event.occurred_on, rows[-1].event.occurred_on
    documented = sum(1 for row in rows if row.event.occurred_on.is_day)

    def entries(types: tuple[type[Event], ...] | None = None) -> tuple[Entry, ...]:
        return tuple(
            Entry(
                on=row.event.occurred_on,
                text=sentence(row, config),
                by=names.actor(row.recorded.metadata.actor),
                notes=notes(row.event, names) + correction_notes(row),
            )
            for row in rows
            if types is None or isinstance(row.event, types)
        )

    periods = stage_periods(row.event for row in rows)
    current = periods[-1]
    # The open stage runs to the report's date, not to the last business date: a process
    # waiting for 21 months has been waiting 21 months, not "the same day so far".
    as_of = max(generated_at.date(), last.latest) if generated_at is not None else last.latest
    overview = Facts(
        (
            ("Partner", _party_line(config.partner.name, config.partner.short_name)),
            (
                "National body",
                _party_line(config.national_body.name, config.national_body.short_name),
            ),
            ("Country", config.country),
            ("Stage now", f"{stage_label(current.stage)}, since {spoken(current.start)}"),
            (
                "Waiting on",
                "; ".join(f"{names.party(a.party)}: {a.command}" for a in view.awaiting)
                or "nobody",
            ),
            ("Period", f"{spoken(first)} to {spoken(last)}: {span_between(first, last)}"),
            ("Events recorded", str(len(rows))),
            (
                "Dates",
                f"{documented} of {len(rows)} dated to the day; the others as their source "
                "gives them (a month, a year, approximate, or a range between known facts)",
            ),
        )
    )
    sections = [Section("Overview", (overview,))]
    milestones = [
        (label, spoken(when))
        for key, label in _MILESTONES.items()
        if (when := view.key_dates.get(key)) is not None
    ]
    if milestones:
        sections.append(Section("Key dates", (Table(("Milestone", "Date"), tuple(milestones)),)))
    sections.append(
        Section(
            "Time in each stage",
            (StageChart(tuple(periods), as_of), stage_table(periods, as_of)),
        )
    )
    sections.append(Section("Parties and people", parties(config, rows, names)))
    for title, types in (
        ("Meetings", _MEETINGS),
        ("The instrument", _INSTRUMENT),
        ("The evaluation mission", _MISSION),
        ("The report and its review", _REPORT),
    ):
        found = entries(types)
        if found:
            blocks: list[Block] = []
            if types is _MISSION:
                blocks += mission_facts(state, names)
            if types is _REPORT:
                blocks += review_tables(rows, names)
            sections.append(Section(title, (*blocks, Timeline(found))))
    escalations = entries(_ESCALATIONS)
    sections.append(
        Section(
            "Reminders, overdue answers and escalations",
            (Timeline(escalations),)
            if escalations
            else (Paragraph("None: every consent and review came without a reminder."),),
        )
    )
    sections.append(Section("Chronology", (Timeline(entries()),)))
    cited_sources = sources(rows, config)
    if cited_sources:
        sections.append(Section("Sources", cited_sources))

    recorded = rows[-1].recorded
    provenance = [
        f"Compiled from the {len(rows)} events of stream {recorded.stream_id} in Accord's "
        f"event store (versions {rows[0].recorded.version} to {recorded.version}; last "
        f"recorded {recorded.recorded_at.isoformat(timespec='seconds')}).",
        f"Head hash: {recorded.hash.hex()}.",
    ]
    if chain_ok is not None:
        provenance.append(
            "Hash chain verified: intact." if chain_ok else "Hash chain verification FAILED."
        )
    if generated_at is not None:
        provenance.append(f"Generated {generated_at.isoformat(timespec='seconds')}.")
    return Report(
        title=f"Cooperation process {config.process_id}",
        subtitle=f"{config.partner.name} and {config.national_body.name}, {config.country}",
        sections=tuple(sections),
        provenance=tuple(provenance),
        as_of=as_of,
    )


def _party_line(name: str, short: str | None) -> str:
    return f"{name} ({short})" if short and short != name else name
