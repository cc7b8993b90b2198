"""A process's chronology as a person reads it, built from its recorded events alone.

`build_report(events)` decodes and folds the stream event by event (which also gives the
time spent in each stage) and returns a `Report`: sections of plain-text blocks.
`to_markdown` and `to_html` render it. No I/O here (the command is `cli/report_cli.py`).

Escaping happens in exactly one place per format: the model holds plain text only, and
each renderer escapes every string it writes, so event text (free-form summaries,
conclusions, names) can never become markup, links or script.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain import (
    Event,
    ProcessConfig,
    ProcessState,
    Stage,
    decode_event,
    describe,
    evolve,
    initial_state,
    process_view,
)
from domain import events as ev
from domain.corrections import apply as apply_corrections
from domain.corrections import corrections_of, mark
from domain.dates import BusinessDate, spoken
from domain.parties import person
from domain.sources import cited
from domain.state import Correction
from domain.text import visible
from domain.vocabulary import NATIONAL_BODY, PARTNER, SYSTEM
from store.model import RecordedEvent

# --- the document model ------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """Label: value lines."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Entry:
    """One dated line of a timeline, with who did it and what the record says besides."""

    on: BusinessDate  # as written: rendered no more precise than its source (`spoken`)
    text: str
    by: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timeline:
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class StageChart:
    """The stages on a time axis (an SVG in HTML; Markdown has the table beside it)."""

    periods: tuple[StagePeriod, ...]
    until: date  # the open stage runs to here (the report's date)


Block = Facts | Table | Timeline | Paragraph | StageChart


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    provenance: tuple[str, ...] = field(default=())
    as_of: date | None = None  # the report's date: the open stage is measured to it


# --- building ----------------------------------------------------------------------------

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
_AGENCY_FLAGS = {
    "channel": "official channel",
    "consent_required": "consents to missions",
    "reviewer": "reviews reports",
    "escalation_target": "receives escalations",
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


def stage_label(stage: Stage | str) -> str:
    return str(stage).replace("_", " ").capitalize()


def span(start: date, end: date) -> str:
    """A duration as people say it: `3 days`, `1 year 4 months (488 days)`."""
    days = (end - start).days
    if days == 0:
        return "same day"
    if days < 31:
        return _plural(days, "day")
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    years, months = divmod(months, 12)
    words = [_plural(years, "year")] if years else []
    if months:
        words.append(_plural(months, "month"))
    return f"{' '.join(words) or _plural(days, 'day')} ({days} days)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class StagePeriod:
    stage: Stage
    start: BusinessDate
    end: BusinessDate | None  # None: the stage the process is in now


def span_between(start: BusinessDate, end: BusinessDate | date) -> str:
    """How long from one business date to another: exact between two days, otherwise the
    shortest and the longest the dates allow ("between 3 days and 1 year 2 months ...")."""
    until = end if isinstance(end, BusinessDate) else BusinessDate.of(end)
    if start.is_day and until.is_day:
        return span(start.earliest, until.earliest)
    least = span(start.latest, max(until.earliest, start.latest))
    most = span(start.earliest, until.latest)
    return most if least == most else f"between {least} and {most}"


def stage_periods(events: Iterable[Event]) -> list[StagePeriod]:
    """Fold event by event: each change of stage closes one period and opens the next."""
    state = initial_state()
    periods: list[StagePeriod] = []
    for event in events:
        before = state.stage
        state = evolve(state, event)
        if state.stage is None or state.stage == before:
            continue
        if periods:
            last = periods[-1]
            periods[-1] = StagePeriod(last.stage, last.start, event.occurred_on)
        periods.append(StagePeriod(state.stage, event.occurred_on, None))
    return periods


class _Names:
    """Party keys and actor metadata as the names a reader knows."""

    def __init__(self, config: ProcessConfig) -> None:
        self.config = config

    def party(self, key: str) -> str:
        if key == PARTNER:
            return self.config.partner.short_name or self.config.partner.name
        if key == NATIONAL_BODY:
            return self.config.national_body.short_name or self.config.national_body.name
        if key == SYSTEM:
            return "Accord (timer)"
        agency = self.config.agency(key)
        return (agency.name or key) if agency else key

    def parties(self, keys: Iterable[str]) -> str:
        return ", ".join(self.party(k) for k in keys) or "none"

    def actor(self, actor: Any) -> str | None:
        """By name and the title the source gives; the domain's party and role only where
        the record has neither (a label is never put in a person's place)."""
        if not isinstance(actor, dict) or "party" not in actor:
            return None
        party = self.party(str(actor["party"]))
        role = str(actor.get("role", "")).replace("_", " ")
        if actor["party"] == SYSTEM:
            return party
        named = person(actor)
        if named and actor.get("title"):
            return named
        return f"{named}, {party} {role}" if named else f"{party}, {role}"


def _notes(event: Event, names: _Names) -> tuple[str, ...]:
    """What the record says beyond `describe`'s sentence (summaries, conclusions, points)."""
    notes: list[str] = []
    for attr in ("summary", "purpose", "conclusions", "changes", "note"):
        value = getattr(event, attr, "")
        if isinstance(value, str) and value:
            notes.append(value)
    if isinstance(event, ev.MissionProposed) and event.agencies_to_meet:
        notes.append(f"Agencies to meet: {names.parties(event.agencies_to_meet)}")
    if isinstance(event, ev.ConsentGranted):
        notes += [f"Condition: {c}" for c in event.conditions]
    notes += [f"Proposal: {p}" for p in getattr(event, "proposals", ())]
    notes += [f"Point: {p}" for p in getattr(event, "points", ())]
    return tuple(notes)


@dataclass(frozen=True)
class _Row:
    recorded: RecordedEvent
    event: Event  # as corrected, when `correct_record` put it right
    marks: tuple[Correction, ...] = ()
    original: Event | None = None  # as recorded, when corrected


def _corrected_rows(rows: list[_Row], state: ProcessState) -> list[_Row]:
    """Each row's event with its corrections applied (the store keeps the original)."""
    out = []
    for row in rows:
        marks = corrections_of(state, row.recorded.version)
        if marks:
            corrected = apply_corrections(row.event, row.recorded.version, marks)
            row = _Row(row.recorded, corrected, marks, row.event)
        out.append(row)
    return out


def _text(row: _Row, config: ProcessConfig) -> str:
    sentence = describe(row.event, config)
    return f"{sentence} {mark(row.marks)}" if row.marks else sentence


def _correction_notes(row: _Row) -> tuple[str, ...]:
    """What each correction changed: the recorded value and the corrected one."""
    if row.original is None:
        return ()
    recorded = row.original.model_dump(mode="json")
    notes = []
    for correction in row.marks:
        for name, value in correction.fields.items():
            if correction.version != row.recorded.version and name != "occurred_on":
                continue  # recorded with the corrected event: only its date moved
            before = _shown(recorded.get(name))
            notes.append(f"Corrected {name.replace('_', ' ')}: {before} -> {_shown(value)}")
    return tuple(notes)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value in (None, "") else str(value)


def build_report(
    events: Sequence[RecordedEvent],
    *,
    chain_ok: bool | None = None,
    generated_at: datetime | None = None,
) -> Report:
    """The report of one process from its stream, in version order (`read_stream`)."""
    if not events:
        raise ValueError("no events: nothing to report")
    rows = [_Row(r, decode_event(r.event_type, r.schema_version, r.data)) for r in events]
    state: ProcessState = initial_state()
    for row in rows:
        state = evolve(state, row.event)
    rows = _corrected_rows(rows, state)
    config = state.config
    if config is None:
        raise ValueError(f"stream {events[0].stream_id} does not start with ProcessOpened")
    names = _Names(config)
    view = process_view(state)
    first, last = rows[0].event.occurred_on, rows[-1].event.occurred_on
    documented = sum(1 for row in rows if row.event.occurred_on.is_day)

    def entries(types: tuple[type[Event], ...] | None = None) -> tuple[Entry, ...]:
        return tuple(
            Entry(
                on=row.event.occurred_on,
                text=_text(row, config),
                by=names.actor(row.recorded.metadata.actor),
                notes=_notes(row.event, names) + _correction_notes(row),
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
            (StageChart(tuple(periods), as_of), _stage_table(periods, as_of)),
        )
    )
    sections.append(Section("Parties and people", _parties(config, rows, names)))
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
                blocks += _mission_facts(state, names)
            if types is _REPORT:
                blocks += _review_tables(rows, names)
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
    sources = _sources(rows, config)
    if sources:
        sections.append(Section("Sources", sources))

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


def _stage_table(periods: list[StagePeriod], last: date) -> Table:
    rows = []
    for period in periods:
        if period.end is None:
            until = "now" if period.stage not in (Stage.CLOSED, Stage.WITHDRAWN) else "end"
            duration = f"{span_between(period.start, last)} so far" if until == "now" else "-"
            rows.append((stage_label(period.stage), spoken(period.start), until, duration))
        else:
            rows.append(
                (
                    stage_label(period.stage),
                    spoken(period.start),
                    spoken(period.end),
                    span_between(period.start, period.end),
                )
            )
    return Table(("Stage", "From", "To", "Time spent"), tuple(rows))


def _parties(config: ProcessConfig, rows: list[_Row], names: _Names) -> tuple[Block, ...]:
    agencies = Table(
        ("Agency", "Key", "Part in the process"),
        tuple(
            (
                a.name or a.key,
                a.key,
                ", ".join(label for flag, label in _AGENCY_FLAGS.items() if getattr(a, flag))
                or "-",
            )
            for a in config.agencies
        ),
    )
    # People as the source names them: by name, or by title alone when it gives no name
    # ("Ambassador of Azerbaijan to the Netherlands"), with the title it gives.
    people: dict[str, tuple[str, str, str, str]] = {}

    def seen(
        name: str | None, party: str, role: str, on: BusinessDate, title: str | None = None
    ) -> None:
        key = name or (f"{title} (name not given)" if title else None)
        if key and key not in people:
            people[key] = (
                names.party(party) if party else "-",
                role.replace("_", " "),
                title if name and title else "-",
                spoken(on),
            )

    unnamed: list[str] = []
    for row in rows:
        event, on = row.event, row.event.occurred_on
        actor = row.recorded.metadata.actor
        if isinstance(actor, dict) and actor.get("party") != SYSTEM:
            seen(
                actor.get("name"),
                str(actor.get("party")),
                str(actor.get("role", "")),
                on,
                actor.get("title"),
            )
        if isinstance(event, ev.InstrumentSigned):
            for s in event.signatories:
                seen(s.name, s.party, f"{s.role} (signatory)", on, s.title)
                if not s.name and not s.title:
                    unnamed.append(
                        f"The {names.party(s.party)}'s signatory ({s.role.replace('_', ' ')}) "
                        f"of {spoken(on)} is not named in the source."
                    )
        elif isinstance(event, ev.MeetingRecorded | ev.ContactLogged):
            for participant in event.participants:
                seen(participant, "", "meeting participant", on)
        elif isinstance(event, ev.MissionProposed):
            for member in event.team:
                seen(member, PARTNER, "mission team", on)
        elif isinstance(event, ev.RepresentativeAssigned):
            seen(event.representative, event.agency, event.title or "representative", on)
    blocks: list[Block] = [agencies]
    if people:
        blocks.append(
            Table(
                ("Person", "Party", "Role", "Title in the source", "First in the record"),
                tuple((name, *info) for name, info in people.items()),
            )
        )
    blocks += [Paragraph(text) for text in unnamed]
    return tuple(blocks)


def _sources(rows: list[_Row], config: ProcessConfig) -> tuple[Block, ...]:
    """Each cited source once, with the facts it supports and where in it; then how many
    facts cite none."""
    facts: dict[str, list[tuple[str, ...]]] = {}
    uncited = 0
    for row in rows:
        source = row.recorded.metadata.source
        if not source:
            uncited += row.recorded.metadata.actor is not None and not _by_timer(row)
            continue
        key = cited({k: v for k, v in source.items() if k != "locator"})
        facts.setdefault(key, []).append(
            (
                spoken(row.event.occurred_on),
                describe(row.event, config),
                str(source.get("locator") or "-"),
            )
        )
    if not facts:
        return ()
    blocks: list[Block] = []
    for key, supported in facts.items():
        blocks.append(Paragraph(key))
        blocks.append(Table(("Date", "Fact", "Where in the source"), tuple(supported)))
    if uncited:
        blocks.append(Paragraph(f"{uncited} recorded facts cite no source."))
    return tuple(blocks)


def _by_timer(row: _Row) -> bool:
    actor = row.recorded.metadata.actor
    return isinstance(actor, dict) and actor.get("party") == SYSTEM


def _mission_facts(state: ProcessState, names: _Names) -> list[Block]:
    m = state.mission
    if not m.tor_version:
        return []
    facts = [
        ("Terms of reference", f"version {m.tor_version}"),
        ("Planned", f"{_iso(m.planned_start)} to {_iso(m.planned_end)}"),
        ("Team", ", ".join(m.team) or "-"),
        ("Agencies to meet", names.parties(m.agencies_to_meet)),
        (
            "Consents",
            "; ".join(f"{names.party(k)}: {c.status}" for k, c in m.consents.items()) or "-",
        ),
    ]
    if m.actual_start:
        facts.append(
            (
                "Took place",
                f"{_iso(m.actual_start)} to {_iso(m.actual_end)}, "
                + (m.mode or "-").replace("_", " "),
            )
        )
    if m.received_by:
        facts.append(("Received by", names.parties(m.received_by)))
    if m.coverage_gaps:
        facts.append(("Not covered", "; ".join(m.coverage_gaps)))
    return [Facts(tuple(facts))]


def _review_tables(rows: list[_Row], names: _Names) -> list[Block]:
    reviews = [
        (
            names.party(r.event.agency),
            f"v{r.event.report_version}",
            spoken(r.event.occurred_on),
            r.event.conclusions,
            "; ".join(r.event.proposals) or "-",
        )
        for r in rows
        if isinstance(r.event, ev.ReviewSubmitted)
    ]
    if not reviews:
        return []
    header = ("Reviewer", "Report", "Submitted", "Conclusions", "Proposals")
    return [Table(header, tuple(reviews))]


def _iso(value: date | None) -> str:
    return value.isoformat() if value else "-"


# --- Markdown ----------------------------------------------------------------------------

# Emphasis, code, links and images, HTML, table cells, entities and strikethrough; `(` is
# inert once `[` and `]` are escaped. Block markers matter only where a line starts.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|&~])")
_MD_LINE_START = re.compile(r"^([-+=#]|\d+[.)])")


def md(text: str) -> str:
    """Plain text as inert Markdown: one line, every markup character escaped, and every
    control or bidi character written as its escape (the document may go to a terminal)."""
    flat = visible(" ".join(text.split()))
    escaped = _MD_SPECIAL.sub(r"\\\1", flat)
    # `- x` and `# x` take the backslash in front; `1. x` on its punctuation (digits
    # cannot be escaped).
    return _MD_LINE_START.sub(
        lambda m: m[1][:-1] + "\\" + m[1][-1] if m[1][0].isdigit() else "\\" + m[1], escaped
    )


def to_markdown(report: Report) -> str:
    out = [f"# {md(report.title)}", "", f"*{md(report.subtitle)}*", ""]
    if report.as_of is not None:
        out += [f"Report as of {report.as_of.isoformat()}", ""]
    for section in report.sections:
        out += [f"## {md(section.title)}", ""]
        for block in section.blocks:
            out += _md_block(block)
            out.append("")
    if report.provenance:
        out += ["---", ""] + [md(line) + "  " for line in report.provenance]
    return "\n".join(out).rstrip() + "\n"


def _md_block(block: Block) -> list[str]:
    if isinstance(block, StageChart):
        return []  # Markdown has the table beside it; the HTML draws the chart
    if isinstance(block, Paragraph):
        return [md(block.text)]
    if isinstance(block, Facts):
        return [f"- **{md(label)}:** {md(value)}" for label, value in block.rows]
    if isinstance(block, Table):
        lines = ["| " + " | ".join(md(h) for h in block.header) + " |"]
        lines.append("|" + "|".join(" --- " for _ in block.header) + "|")
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in block.rows]
        return lines
    lines = []
    for entry in block.entries:
        by = f" *({md(entry.by)})*" if entry.by else ""
        lines.append(f"- **{md(spoken(entry.on))}**: {md(entry.text)}{by}")
        lines += [f"  - {md(note)}" for note in entry.notes]
    return lines


# --- HTML --------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6575; --rule: #d7dce3;
  --accent: #1f4e79; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 2rem 1.5rem 3rem; color: var(--ink);
  font: 15px/1.5 "Source Serif Pro", Georgia, "Times New Roman", serif; }
h1, h2 { font-family: "Helvetica Neue", Arial, sans-serif; color: var(--accent); }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 2px solid var(--rule); }
.subtitle { color: var(--muted); margin: 0 0 1.5rem; font-style: italic; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dt { font-weight: 600; } dd { margin: 0; }
table { width: 100%; border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem;
  border-bottom: 1px solid var(--rule); }
th { font-family: "Helvetica Neue", Arial, sans-serif; font-size: .8rem; text-transform: uppercase;
  letter-spacing: .03em; color: var(--muted); }
ol.timeline { list-style: none; padding: 0; margin: .4rem 0; }
ol.timeline > li { display: grid; grid-template-columns: 6.5rem 1fr; gap: .1rem 1rem;
  padding: .35rem 0; border-bottom: 1px dotted var(--rule); }
ol.timeline time { font-variant-numeric: tabular-nums; color: var(--accent); font-weight: 600; }
.by { color: var(--muted); font-size: .88rem; }
ul.notes { grid-column: 2; margin: .15rem 0 0; padding-left: 1.1rem; color: #333c48;
  font-size: .92rem; }
footer { margin-top: 2.5rem; padding-top: .6rem; border-top: 1px solid var(--rule);
  color: var(--muted); font-size: .8rem; overflow-wrap: anywhere; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  tr, ol.timeline > li, dl { break-inside: avoid; }
}
"""

# Nothing may load or run: styles are inline, there are no scripts, images or links.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"

# The stage chart: one row per stage in the order they were entered, on one time axis.
_CHART_WIDTH, _LABEL_WIDTH, _ROW, _BAR = 760, 190, 22, 14
_SIDE_STAGES = {Stage.DORMANT, Stage.SUSPENDED, Stage.WITHDRAWN}


def stage_chart_svg(chart: StageChart) -> str:
    """An inline SVG (no script, no external resource: the page's CSP allows it)."""
    # Placed on the time axis by each date's earliest possible day; labelled as written.
    first = chart.periods[0].start
    start = first.earliest
    total = max((chart.until - start).days, 1)
    plot = _CHART_WIDTH - _LABEL_WIDTH - 10
    stages: list[Stage] = []
    for period in chart.periods:
        if period.stage not in stages:
            stages.append(period.stage)
    height = _ROW * len(stages) + 26
    parts = [
        f'<svg class="stages" role="img" viewBox="0 0 {_CHART_WIDTH} {height}" width="100%">',
        f"<title>Stages from {_h(spoken(first))} to {chart.until.isoformat()}</title>",
    ]
    for row, stage in enumerate(stages):
        y = row * _ROW + 4
        parts.append(
            f'<text x="0" y="{y + _BAR - 3}" font-size="11">{_h(stage_label(stage))}</text>'
        )
        for period in (p for p in chart.periods if p.stage == stage):
            end = period.end.earliest if period.end else chart.until
            begin = period.start.earliest
            x = _LABEL_WIDTH + plot * (begin - start).days / total
            width = max(plot * (end - begin).days / total, 2)
            colour = "#b0772c" if stage in _SIDE_STAGES else "#1f4e79"
            until = spoken(period.end) if period.end else chart.until.isoformat()
            label = f"{stage_label(stage)}: {spoken(period.start)} to {until}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{_BAR}" '
                f'fill="{colour}"><title>{_h(label)}</title></rect>'
            )
    axis = len(stages) * _ROW + 16
    parts.append(f'<text x="{_LABEL_WIDTH}" y="{axis}" font-size="10">{_h(spoken(first))}</text>')
    parts.append(
        f'<text x="{_CHART_WIDTH - 10}" y="{axis}" font-size="10" text-anchor="end">'
        f"{chart.until.isoformat()}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _h(text: str) -> str:
    # Control and bidi characters escaped too: `--format html` may be printed on a terminal.
    return html.escape(visible(text, keep_newlines=True), quote=True)


def to_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_h(report.title)}</h1>",
        f'<p class="subtitle">{_h(report.subtitle)}</p>',
        *(
            [f'<p class="as-of">Report as of <time>{report.as_of.isoformat()}</time></p>']
            if report.as_of is not None
            else []
        ),
        "</header>",
        "<main>",
    ]
    for section in report.sections:
        parts.append(f"<section><h2>{_h(section.title)}</h2>")
        parts += [_html_block(block) for block in section.blocks]
        parts.append("</section>")
    parts.append("</main>")
    if report.provenance:
        parts.append("<footer>" + "".join(f"<p>{_h(p)}</p>" for p in report.provenance))
        parts.append("</footer>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _html_block(block: Block) -> str:
    if isinstance(block, StageChart):
        return stage_chart_svg(block)
    if isinstance(block, Paragraph):
        return f"<p>{_h(block.text)}</p>"
    if isinstance(block, Facts):
        rows = "".join(f"<dt>{_h(k)}</dt><dd>{_h(v)}</dd>" for k, v in block.rows)
        return f"<dl>{rows}</dl>"
    if isinstance(block, Table):
        head = "".join(f'<th scope="col">{_h(h)}</th>' for h in block.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    items = []
    for entry in block.entries:
        by = f' <span class="by">({_h(entry.by)})</span>' if entry.by else ""
        notes = (
            '<ul class="notes">' + "".join(f"<li>{_h(n)}</li>" for n in entry.notes) + "</ul>"
            if entry.notes
            else ""
        )
        items.append(f"<li>{_time(entry.on)}<div>{_h(entry.text)}{by}</div>{notes}</li>")
    return '<ol class="timeline">' + "".join(items) + "</ol>"


def _time(on: BusinessDate) -> str:
    """A `<time>` element: machine-readable where HTML has a form for the date (a day, a
    month, a year), the text as a report says it in every case."""
    machine = on.start.text if on.end is None and not on.start.qualifier else None
    attr = f' datetime="{_h(machine)}"' if machine else ""
    return f"<time{attr}>{_h(spoken(on))}</time>"
