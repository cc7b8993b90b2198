"""The report's sections beyond the timelines: who took part, the sources cited, the
mission's facts and the reviews, each built from the folded state or the recorded rows."""

from __future__ import annotations

from datetime import date

from domain import ProcessConfig, ProcessState, describe
from domain import events as ev
from domain.dates import BusinessDate, spoken
from domain.sources import cited
from domain.vocabulary import PARTNER, SYSTEM

from .model import Block, Facts, Paragraph, Table
from .names import Names
from .rows import Row, by_timer

_AGENCY_FLAGS = {
    "channel": "official channel",
    "consent_required": "consents to missions",
    "reviewer": "reviews reports",
    "escalation_target": "receives escalations",
}


def parties(config: ProcessConfig, rows: list[Row], names: Names) -> tuple[Block, ...]:
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


def sources(rows: list[Row], config: ProcessConfig) -> tuple[Block, ...]:
    """Each cited source once, with the facts it supports and where in it; then how many
    facts cite none."""
    facts: dict[str, list[tuple[str, ...]]] = {}
    uncited = 0
    for row in rows:
        source = row.recorded.metadata.source
        if not source:
            uncited += row.recorded.metadata.actor is not None and not by_timer(row)
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


def mission_facts(state: ProcessState, names: Names) -> list[Block]:
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


def review_tables(rows: list[Row], names: Names) -> list[Block]:
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
