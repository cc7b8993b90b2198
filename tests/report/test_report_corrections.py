"""The report of a corrected process: the corrected value, marked, with the reason and what
changed (`scenarios/correction.yaml`, recorded by the domain decider alone)."""

from __future__ import annotations

from readmodel.report import Entry, Report, Table, Timeline, build_report, to_html, to_markdown
from tests.report.story import ROOT, Recorder, scenario_recorder

CORRECTION = ROOT / "scenarios" / "correction.yaml"
CHAIR = {"party": "national_body", "role": "chair"}


def recorded() -> Recorder:
    return scenario_recorder(CORRECTION, "coop-correction-report")


def chronology(report: Report) -> tuple[Entry, ...]:
    section = next(s for s in report.sections if s.title == "Chronology")
    (timeline,) = section.blocks
    assert isinstance(timeline, Timeline)
    return timeline.entries


def test_the_corrected_date_is_shown_marked_with_the_reason() -> None:
    entries = chronology(build_report(recorded().events))
    (started,) = [e for e in entries if e.text.startswith("The mission started")]
    assert str(started.on) == "2019-09-02"
    assert started.text.endswith(
        "(corrected on 2019-09-04: The mission team arrived on 2 September)"
    )
    assert "Corrected occurred on: 2019-09-16 -> 2019-09-02" in started.notes


def test_a_corrected_place_replaces_the_recorded_one() -> None:
    entries = chronology(build_report(recorded().events))
    (signed,) = [e for e in entries if "signed in" in e.text]
    assert "Capital" in signed.text and "Capitol" not in signed.text
    assert signed.text.endswith("(corrected on 2019-06-04: The signing place was misspelt)")
    assert "Corrected place: Capitol -> Capital" in signed.notes


def test_key_dates_and_periods_are_the_corrected_ones() -> None:
    report = build_report(recorded().events)
    key_dates = next(s for s in report.sections if s.title == "Key dates").blocks[0]
    assert isinstance(key_dates, Table)
    assert ("Mission started", "2019-09-02") in key_dates.rows
    stages = next(s for s in report.sections if s.title == "Time in each stage")
    periods = [p for block in stages.blocks for p in getattr(block, "periods", ())]
    (in_progress,) = [p for p in periods if p.stage == "mission_in_progress"]
    assert str(in_progress.start) == "2019-09-02"


def test_a_corrections_reason_is_escaped_in_every_format() -> None:
    recorder = recorded()
    recorder.command(
        "correct_record",
        {
            "actor": CHAIR,
            "occurred_on": "2019-09-20",
            "version": 2,
            "fields": {"venue": "Embassy <b>in</b> The Hague"},
            "reason": "<script>alert(1)</script>",
        },
    )
    report = build_report(recorder.events)
    page = to_html(report)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>in</b>" not in page
    assert "\\<script\\>" in to_markdown(report)
