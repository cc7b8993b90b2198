"""correct_record through Temporal: a mission start recorded with the wrong date is put
right; status, timeline and report show the corrected date, marked, and the store keeps
the original. The corrected latest date frees the process's last business date."""

from __future__ import annotations

from cli.operations import read_status
from cli.session import Session
from readmodel.projections import Projections
from readmodel.report import Table, Timeline, build_report, to_markdown
from store import EventStore
from store.feed import feed_event_json
from tests.workflows.builders import ICMP_POLICY, MFA_HEAD, Driver, opened

REASON = "The mission report gives 5 June as the first day"


async def _started_late(session: Session) -> tuple[Driver, int]:
    p = await opened(session, "correct")
    return p, await p.to_mission_started_late()


async def test_a_corrected_mission_start_shows_everywhere(
    session: Session, store: EventStore
) -> None:
    p, version = await _started_late(session)
    outcome = await p.ok(
        "correct_record",
        "2023-06-06",  # between the right date and the wrong one
        ICMP_POLICY,
        version=version,
        fields={"occurred_on": "2023-06-05"},
        reason=REASON,
    )
    assert [e["event_type"] for e in outcome.events] == ["RecordCorrected"]

    status = await read_status(session, p.workflow_id)
    assert status["mission"]["started_on"] == "2023-06-05"
    assert status["key_dates"]["mission_start"] == "2023-06-05"
    assert status["last_occurred_on"] == "2023-06-06"
    assert status["corrections"] == [
        {
            "version": version,
            "event_type": "MissionStarted",
            "fields": {"occurred_on": "2023-06-05"},
            "reason": REASON,
            "corrected_on": "2023-06-06",
            "with_versions": [],
        }
    ]

    timeline = await Projections(store).timeline(p.workflow_id)
    row = next(r for r in timeline if r["version"] == version)
    assert row["occurred_on"] == "2023-06-05"
    assert row["summary"].endswith(f"(corrected on 2023-06-06: {REASON})")
    assert timeline[-1]["type"] == "RecordCorrected"

    events = await store.read_stream(p.workflow_id)
    original = next(e for e in events if e.version == version)
    assert original.metadata.occurred_on == "2023-06-20"  # the store's is kept
    assert original.data["occurred_on"] == "2023-06-20"
    report = build_report(events)
    entries = [
        entry
        for section in report.sections
        for block in section.blocks
        if isinstance(block, Timeline)
        for entry in block.entries
    ]
    corrected = [e for e in entries if e.text.endswith(f"(corrected on 2023-06-06: {REASON})")]
    assert corrected
    assert {str(e.on) for e in corrected} == {"2023-06-05"}
    assert "Corrected occurred on: 2023-06-20 -> 2023-06-05" in corrected[0].notes
    key_dates = next(s for s in report.sections if s.title == "Key dates").blocks[0]
    assert isinstance(key_dates, Table)
    assert ("Mission started", "2023-06-05") in key_dates.rows
    assert "2023-06-06: The mission report gives 5 June" in to_markdown(report)

    # The feed carries the correction like any event, after the original, unchanged.
    line = feed_event_json(events[-1])
    assert (line["type"], line["schema_version"], line["version"]) == (
        "RecordCorrected",
        2,
        outcome.events[0]["version"],
    )
    assert line["data"] == {
        "occurred_on": "2023-06-06",
        "corrected_version": version,
        "corrected_type": "MissionStarted",
        "fields": {"occurred_on": "2023-06-05"},
        "reason": REASON,
        "with_versions": [],
    }
    assert line["actor"] == ICMP_POLICY
    # A full refold of the read models writes the same corrected timeline.
    await Projections(store).rebuild()
    assert await Projections(store).timeline(p.workflow_id) == timeline

    # The process's last business date moved back with the corrected latest event.
    await p.ok("record_mission_meeting", "2023-06-10", ICMP_POLICY, received_by=["mfa"])


async def test_a_correction_by_another_party_records_nothing(
    session: Session, store: EventStore
) -> None:
    p, version = await _started_late(session)
    before = await store.read_stream(p.workflow_id)
    history = await session.client.get_workflow_handle(p.workflow_id).fetch_history()
    refused = await p.send(
        "correct_record",
        "2023-06-21",
        MFA_HEAD,
        version=version,
        fields={"occurred_on": "2023-06-05"},
        reason=REASON,
    )
    assert (refused.accepted, refused.code, refused.field) == (False, "not_allowed", "actor.party")
    assert await store.read_stream(p.workflow_id) == before
    after = await session.client.get_workflow_handle(p.workflow_id).fetch_history()
    assert len(after.events) == len(history.events)
    status = await read_status(session, p.workflow_id)
    assert status["mission"]["started_on"] == "2023-06-20"
    assert status["corrections"] == []


async def test_a_corrected_date_moves_the_events_recorded_with_it(
    session: Session, store: EventStore
) -> None:
    p = await opened(session, "correct")
    await p.to_negotiating()  # the representative's assignment also opened negotiations
    events = await store.read_stream(p.workflow_id)
    assigned, negotiations = events[-2], events[-1]
    assert (assigned.event_type, negotiations.event_type) == (
        "RepresentativeAssigned",
        "NegotiationsOpened",
    )
    await p.ok(
        "correct_record",
        "2018-06-03",
        MFA_HEAD,
        version=assigned.version,
        fields={"occurred_on": "2018-06-01"},
        reason="Assigned the day of the opinion",
    )
    status = await read_status(session, p.workflow_id)
    assert status["key_dates"]["negotiations_opened"] == "2018-06-01"
    assert status["corrections"][0]["with_versions"] == [negotiations.version]
    rows = {r["version"]: r for r in await Projections(store).timeline(p.workflow_id)}
    for version in (assigned.version, negotiations.version):
        assert rows[version]["occurred_on"] == "2018-06-01"
        assert rows[version]["summary"].endswith(
            "(corrected on 2018-06-03: Assigned the day of the opinion)"
        )
