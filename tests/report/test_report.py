"""The readable report, built from the story's events (the domain decider, no Temporal)."""

from __future__ import annotations

import dataclasses
import itertools
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from domain import BusinessDate, Stage, decode_event
from readmodel.report import (
    Entry,
    Facts,
    Paragraph,
    Report,
    Section,
    Table,
    Timeline,
    build_report,
    md,
    span,
    stage_periods,
    to_html,
    to_markdown,
)
from store.model import RecordedEvent
from tests.report.story import scenario_recorder, story_events

SYSTEM = {"party": "system", "role": "timer"}


def section(report: Report, title: str) -> Section:
    return next(s for s in report.sections if s.title == title)


def overview(report: Report) -> dict[str, str]:
    facts = section(report, "Overview").blocks[0]
    assert isinstance(facts, Facts)
    return dict(facts.rows)


def test_overview_and_key_dates() -> None:
    report = build_report(story_events())
    assert report.title == "Cooperation process az-icmp"
    assert "International Commission on Missing Persons" in report.subtitle
    facts = overview(report)
    assert facts["Stage now"] == "Presented, since 2025-03-10"
    # Presented: each party's clearance for publication, and the national body may close.
    assert facts["Waiting on"] == (
        "State Commission: clear_publication; ICMP: clear_publication; "
        "State Commission: close_process"
    )
    # Opened "in May 2018" (the letter's month): the period is as long as the dates allow.
    assert facts["Period"] == (
        "May 2018 to 2025-03-10: between 6 years 9 months (2475 days) and "
        "6 years 10 months (2505 days)"
    )
    assert facts["Dates"].startswith("6 of 27 dated to the day")
    key_dates = section(report, "Key dates").blocks[0]
    assert isinstance(key_dates, Table)
    assert ("First contact", "2018-05-17") in key_dates.rows
    assert ("Opinion of the national body", "between 2018-05-17 and 2021") in key_dates.rows
    assert ("Instrument signed", "2022-04-04") in key_dates.rows
    assert ("Report delivered", "between 2023-06-16 and 2025-03-10") in key_dates.rows
    assert ("Report presented", "2025-03-10") in key_dates.rows


def test_time_in_each_stage_is_folded_event_by_event() -> None:
    events = story_events()
    periods = stage_periods(decode_event(e.event_type, e.schema_version, e.data) for e in events)
    # Contiguous, in order, ending in the stage the process is in now.
    for before, after in itertools.pairwise(periods):
        assert before.end == after.start
    assert str(periods[0].start) == "2018-05" and periods[-1].end is None
    assert [p.stage for p in periods if p.stage == Stage.NEGOTIATING] == [Stage.NEGOTIATING] * 2
    [table] = [
        b
        for b in section(build_report(events), "Time in each stage").blocks
        if isinstance(b, Table)
    ]
    rows = {row[0]: row for row in table.rows}
    # Between imprecise dates, the shortest and the longest time the dates allow.
    assert rows["Dormant"] == (
        "Dormant",
        "between 2018-05-17 and 2021",
        "in 2021",
        "between same day and 3 years 7 months (1324 days)",
    )
    assert rows["Mission in progress"] == (
        "Mission in progress",
        "2023-06-05",
        "2023-06-16",
        "11 days",
    )
    assert rows["Under review"][1:3] == ("between 2023-06-16 and 2025-03-10",) * 2
    assert rows["Presented"] == ("Presented", "2025-03-10", "now", "same day so far")


def test_parties_people_meetings_and_reviews() -> None:
    text = to_markdown(build_report(story_events()))
    for expected in (
        "| Ministry of Foreign Affairs | mfa | official channel, consents to missions, "
        "reviews reports |",
        "| Gazanfar Ahmadov | State Commission | secretary | Secretary of the State "
        "Commission on Prisoners of War, Hostages and Missing Citizens of Azerbaijan | "
        "2025-03-10 |",
        "| Hikmet Hajiyev | Presidential Administration | representative | Assistant to the "
        "President of Azerbaijan \u2013 Head of the Foreign Policy Department of the Presidential "
        "Administration | in 2021 |",
        "| Ambassador of Azerbaijan to the Netherlands (name not given) | Ministry of Foreign "
        "Affairs | representative | \\- | November 2021 |",
        "| Kathryne Bomberger, ICMP Director-General | \\- | meeting participant | \\- | "
        "2022-04-04 |",
        "| Carmen Osorno Solis | ICMP | mission team | \\- | between 2022-04-04 and 2023-06-05 |",
        "The State Commission's signatory (chair) of 2022-04-04 is not named in the source.",
        "signed in Azerbaijan by the State Commission chair (not named) and the ICMP director "
        "general (not named)",
        "In-person meeting in The Hague at the initiative of ICMP",
        "| State Security Service | v1 | between 2023-06-16 and 2025-03-10 | Conclusions of "
        "the State Security Service on the report | Proposals on the report |",
        "- **Consents:** Ministry of Foreign Affairs: granted; State Security Service: granted",
        "None: every consent and review came without a reminder.",
    ):
        assert expected in text, expected


def test_chronology_has_every_event_with_its_actor_and_notes() -> None:
    events = story_events()
    chronology = section(build_report(events), "Chronology").blocks[0]
    assert isinstance(chronology, Timeline)
    assert len(chronology.entries) == len(events)
    contact = chronology.entries[1]
    assert contact.on == date(2018, 5, 17)
    assert contact.by == "Ministry of Foreign Affairs, representative"
    assert contact.notes[0].startswith("Possibilities for cooperation with ICMP discussed")
    earliest = [e.on.earliest for e in chronology.entries]
    assert earliest == sorted(earliest)
    # People by name and the title the source gives, not the domain's role.
    by = {e.by for e in chronology.entries}
    assert (
        "Hikmet Hajiyev, Assistant to the President of Azerbaijan \u2013 Head of the Foreign "
        "Policy Department of the Presidential Administration"
    ) in by
    assert "Ambassador of Azerbaijan to the Netherlands" in by


def test_reminders_and_escalations() -> None:
    """The story up to the report, then the Security Service stays silent."""
    recorder = scenario_recorder(stop_after="deliver_report")
    timer = {"actor": SYSTEM, "report_version": 1}
    recorder.command("review_reminder_due", {**timer, "occurred_on": "2024-06-15"}, system=True)
    recorder.command(
        "submit_review",
        {
            "actor": {"party": "mfa", "role": "head"},
            "occurred_on": "2024-07-01",
            "report_version": 1,
            "conclusions": "Agreed.",
        },
    )
    recorder.command("review_deadline_reached", {**timer, "occurred_on": "2024-11-15"}, system=True)
    report = build_report(recorder.events)
    timeline = section(report, "Reminders, overdue answers and escalations").blocks[0]
    assert isinstance(timeline, Timeline)
    assert [(str(e.on), e.text) for e in timeline.entries] == [
        ("2024-06-15", "Reminder sent to Ministry of Foreign Affairs to review report v1."),
        ("2024-06-15", "Reminder sent to State Security Service to review report v1."),
        ("2024-11-15", "Review of report v1 by State Security Service is overdue."),
        (
            "2024-11-15",
            "Missing review of State Security Service (v1) escalated to "
            "Presidential Administration.",
        ),
    ]
    assert {e.by for e in timeline.entries} == {"Accord (timer)"}
    facts = overview(report)
    # The silent reviewer, and the channel: the conclusions may now go ahead without it.
    assert facts["Waiting on"] == (
        "State Security Service: submit_review; Ministry of Foreign Affairs: submit_conclusions"
    )


HOSTILE = '<script>alert("x")</script> [click](javascript:alert(1)) | **bold** & `code`'


def hostile_events() -> list[RecordedEvent]:
    """The story with markup in free text and in an actor's name."""
    events = story_events()
    out = []
    for e in events:
        if e.event_type == "ContactLogged":
            data = {**e.data, "summary": HOSTILE, "venue": "<b>Embassy</b>"}
            actor = {**(e.metadata.actor or {}), "name": '<img src=x onerror="alert(2)">'}
            meta = dataclasses.replace(e.metadata, actor=actor)
            e = dataclasses.replace(e, data=data, metadata=meta)
        out.append(e)
    return out


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_event_text() -> None:
    page = to_html(build_report(hostile_events()))
    parsed = _Collect()
    parsed.feed(page)
    assert not parsed.tags & {"script", "img", "a", "b", "link", "iframe"}
    assert not any(name.startswith("on") for name, _ in parsed.attrs)
    text = "".join(parsed.text)
    assert HOSTILE in text and '<img src=x onerror="alert(2)">' in text  # shown, as text
    assert "&lt;script&gt;" in page


def test_markdown_escapes_event_text() -> None:
    text = to_markdown(build_report(hostile_events()))
    assert not re.search(r"(?<!\\)[<\[\]`|]", text.replace("| ", "").replace(" |", ""))
    assert "\\<script\\>" in text and "\\[click\\](javascript:alert(1))" in text
    assert '\\<img src=x onerror="alert(2)"\\>' in text
    # A pipe inside a cell does not split the table row.
    assert md("a | b") == "a \\| b"
    assert md("- not a list\nsecond line") == "\\- not a list second line"
    assert md("# not a heading") == "\\# not a heading"
    assert md("1. not a list") == "1\\. not a list"


def test_html_is_self_contained_and_printable() -> None:
    page = to_html(build_report(story_events()))
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for external in ("http://", "https://", "src=", "href=", "<script", "<link", "@import"):
        assert external not in page, external
    assert "@media print" in page and "@page" in page
    parsed = _Collect()
    parsed.feed(page)
    assert {"table", "dl", "ol", "time", "footer"} <= parsed.tags


def test_provenance() -> None:
    events = story_events()
    generated = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    report = build_report(events, chain_ok=True, generated_at=generated)
    assert report.provenance[0].startswith(
        f"Compiled from the {len(events)} events of stream coop-az-icmp-report"
    )
    assert report.provenance[1] == f"Head hash: {bytes(range(32)).hex()}."
    assert "Hash chain verified: intact." in report.provenance
    assert "Generated 2026-01-06T10:00:00+00:00." in report.provenance
    assert "Hash chain verification FAILED." in build_report(events, chain_ok=False).provenance


def test_renderers_cover_every_block() -> None:
    report = Report(
        title="T",
        subtitle="S",
        sections=(
            Section(
                "One",
                (
                    Paragraph("p"),
                    Facts((("k", "v"),)),
                    Table(("a",), (("1",),)),
                    Timeline(
                        (
                            Entry(BusinessDate.of(date(2020, 1, 2)), "e", "by", ("n",)),
                            Entry(BusinessDate.parse("2021"), "f"),
                            Entry(BusinessDate.parse("2022-01~/2022-04-04"), "g"),
                        )
                    ),
                ),
            ),
        ),
    )
    assert to_markdown(report) == (
        "# T\n\n*S*\n\n## One\n\np\n\n- **k:** v\n\n| a |\n| --- |\n| 1 |\n\n"
        "- **2020-01-02**: e *(by)*\n  - n\n- **in 2021**: f\n"
        "- **between early 2022 (approximate) and 2022-04-04**: g\n"
    )
    page = to_html(report)
    assert '<li><time datetime="2020-01-02">2020-01-02</time><div>e' in page
    assert '<li><time datetime="2021">in 2021</time><div>f' in page
    # No machine-readable form for a range: the text only.
    assert "<li><time>between early 2022 (approximate) and 2022-04-04</time><div>g" in page


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        ((2020, 1, 1), (2020, 1, 1), "same day"),
        ((2020, 1, 1), (2020, 1, 2), "1 day"),
        ((2020, 1, 1), (2020, 1, 31), "30 days"),
        ((2020, 1, 31), (2020, 3, 2), "1 month (31 days)"),
        ((2020, 1, 15), (2021, 1, 14), "11 months (365 days)"),
        ((2020, 1, 15), (2022, 1, 15), "2 years (731 days)"),
    ],
)
def test_span(start: tuple[int, int, int], end: tuple[int, int, int], said: str) -> None:
    assert span(date(*start), date(*end)) == said


def test_an_empty_stream_has_no_report() -> None:
    with pytest.raises(ValueError, match="no events"):
        build_report([])


def test_the_open_stage_is_measured_to_the_reports_date() -> None:
    """21 months after the presentation, the process has been 'presented' for 21 months."""
    report = build_report(story_events(), generated_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    [table] = [b for b in section(report, "Time in each stage").blocks if isinstance(b, Table)]
    presented = next(row for row in table.rows if row[0] == "Presented")
    assert presented[2:] == ("now", f"{span(date(2025, 3, 10), date(2026, 12, 4))} so far")
    assert report.as_of == date(2026, 12, 4)
    assert "Report as of 2026-12-04" in to_markdown(report)
    assert "Report as of <time>2026-12-04</time>" in to_html(report)


def test_the_html_draws_the_stages_on_a_time_axis() -> None:
    report = build_report(story_events(), generated_at=datetime(2026, 12, 4, tzinfo=UTC))
    page = to_html(report)
    [chart] = re.findall(r"<svg class=\"stages\".*?</svg>", page)
    periods = stage_periods(
        decode_event(e.event_type, e.schema_version, e.data) for e in story_events()
    )
    assert chart.count("<rect ") == len(periods)  # one bar per period, dormancy included
    assert "<title>Dormant: between 2018-05-17 and 2021 to in 2021</title>" in chart
    assert "Presented: 2025-03-10 to 2026-12-04" in chart
    assert "<svg" not in to_markdown(report)


def test_report_output_must_name_a_known_format(tmp_path: object) -> None:
    from cli.main import main

    assert main(["report", "az-icmp", "-o", "report.out"]) == 2
    assert main(["report", "az-icmp", "-o", "report.md", "--format", "html"]) == 2
