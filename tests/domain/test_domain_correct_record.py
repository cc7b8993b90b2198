"""correct_record: given events, when a correction, then RecordCorrected or the rejection.

One rule per test (DOMAIN.md `correct_record`, invariant 1; domain/corrections.py).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import (
    DomainError,
    ErrorCode,
    Stage,
    decide,
    decode_event,
    encode_event,
    fold,
    process_view,
)
from domain.dates import BusinessDate
from domain.entries import ENTRIES_PER_CHUNK, all_entries, entry_at, entry_count
from domain.events import RecordCorrected
from tests.domain.domain_scenario import (
    CHAIR,
    DG,
    MFA_HEAD,
    POLICY_DIRECTOR,
    SECRETARY,
    SYSTEM,
    Json,
    Run,
    command,
    run_to,
)

REASON = "The source gives another date"


def refused(
    run: Run,
    code: ErrorCode,
    who: Json,
    version: int,
    fields: dict[str, object],
    on: date | None = None,
) -> DomainError:
    """`correct_record` of `version` with `fields` (on `on`, else the run's day), refused
    `code`; nothing changes."""
    return run.rejects(code, "correct_record", who, on, version=version, fields=fields, reason="r")


def started(gap: int = 10) -> tuple[Run, int, date]:
    """A mission started `gap` days after the process's last date; its version and date."""
    run = run_to(Stage.MISSION_READY)
    on = run.today + timedelta(days=gap)
    run.do("start_mission", POLICY_DIRECTOR, on=on)
    return run, run.state.version, on


def test_the_issuing_party_corrects_a_date_and_the_state_shows_it() -> None:
    run, version, on = started()
    corrected = on - timedelta(days=4)
    events = run.do(
        "correct_record",
        DG,  # another partner role: the party recorded it, so the party may correct it
        on=on,
        version=version,
        fields={"occurred_on": corrected.isoformat()},
        reason=REASON,
    )
    assert events == [
        RecordCorrected(
            occurred_on=BusinessDate.of(on),
            corrected_version=version,
            corrected_type="MissionStarted",
            fields={"occurred_on": corrected.isoformat()},
            reason=REASON,
        )
    ]
    assert run.state.mission.started_on == corrected
    assert run.state.dates.mission_start == corrected


def test_the_view_shows_the_corrected_value_and_lists_the_correction() -> None:
    run, version, on = started()
    run.do(
        "correct_record",
        POLICY_DIRECTOR,
        on=on,
        version=version,
        fields={"occurred_on": (on - timedelta(days=2)).isoformat(), "note": "Arrived in Baku"},
        reason=REASON,
    )
    view = process_view(run.state)
    assert view.mission.started_on == on - timedelta(days=2)
    assert view.key_dates["mission_start"] == on - timedelta(days=2)
    (listed,) = view.corrections
    assert (listed.version, listed.event_type, listed.reason) == (version, "MissionStarted", REASON)
    assert listed.fields == {
        "occurred_on": (on - timedelta(days=2)).isoformat(),
        "note": "Arrived in Baku",
    }
    assert listed.corrected_on == on


def test_the_national_body_chair_corrects_another_partys_event() -> None:
    run, version, on = started()
    events = run.do(
        "correct_record", CHAIR, on=on, version=version, fields={"note": "Late"}, reason=REASON
    )
    assert [e.event_type for e in events] == ["RecordCorrected"]


def test_another_party_may_not_correct_the_event() -> None:
    run, version, _on = started()
    err = refused(run, "not_allowed", MFA_HEAD, version, {"note": "x"})
    assert err.field == "actor.party"


def test_another_role_of_the_national_body_may_not_correct_the_partners_event() -> None:
    run, version, _on = started()
    err = refused(run, "not_allowed", SECRETARY, version, {"note": "x"})
    assert err.field == "actor.party"


def test_the_opening_is_never_corrected() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    err = refused(run, "guard_failed", CHAIR, 1, {"occurred_on": run.today.isoformat()})
    assert err.field == "version"


def test_an_unknown_version_is_refused() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    err = refused(run, "invalid_input", CHAIR, run.state.version + 1, {"summary": "x"})
    assert err.field == "version"


def test_a_timer_event_is_not_corrected() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    run.do("consent_deadline_reached", SYSTEM, tor_version=1)
    overdue = [
        i
        for i, t in enumerate(all_entries(run.state.entries), start=1)
        if t.startswith("ConsentOverdue")
    ]
    err = refused(run, "guard_failed", CHAIR, overdue[0], {"occurred_on": run.today.isoformat()})
    assert err.field == "version"


def test_an_event_recorded_with_another_is_not_corrected_on_its_own() -> None:
    run = run_to(Stage.NEGOTIATING)
    version = all_entries(run.state.entries).index(
        next(t for t in all_entries(run.state.entries) if t.startswith("NegotiationsOpened"))
    )
    err = refused(run, "guard_failed", CHAIR, version + 1, {"occurred_on": run.today.isoformat()})
    assert err.field == "version"
    assert "correct that event" in err.message


def test_a_field_that_identifies_is_not_corrected() -> None:
    run, version, _on = started()
    err = refused(run, "invalid_input", POLICY_DIRECTOR, version, {"tor_version": 2})
    assert err.field == "fields.tor_version"
    assert "correctable: note, occurred_on" in err.message


def test_a_field_the_event_does_not_have_is_refused() -> None:
    run, version, _on = started()
    err = refused(run, "invalid_input", POLICY_DIRECTOR, version, {"venue": "Baku"})
    assert err.field == "fields.venue"


def test_a_value_of_the_wrong_type_is_refused_without_echoing_it() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    err = refused(run, "invalid_input", CHAIR, 2, {"venue": ["Secret-Value-123"]})
    assert err.field == "fields.venue"
    assert "Secret-Value-123" not in err.message


def test_a_corrected_text_meets_the_fields_hygiene() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    err = refused(run, "invalid_input", CHAIR, 2, {"venue": "   "})
    assert err.field == "fields.venue"
    assert "must not be empty or only whitespace" in err.message


def test_a_corrected_text_is_recorded_stripped() -> None:
    run = run_to(Stage.NEGOTIATING)
    (event,) = run.do("correct_record", CHAIR, version=2, fields={"venue": " Baku\n"}, reason="r")
    assert isinstance(event, RecordCorrected)
    assert event.fields == {"venue": "Baku"}


def test_a_corrected_date_before_the_previous_event_is_out_of_order() -> None:
    run, version, on = started()
    run.do("record_mission_meeting", POLICY_DIRECTOR, on=on, received_by=["mfa"])
    before = date.fromisoformat(all_entries(run.state.entries)[version - 2].split(" ")[1])
    err = refused(
        run,
        "out_of_order",
        POLICY_DIRECTOR,
        version,
        {"occurred_on": (before - timedelta(days=1)).isoformat()},
    )
    assert err.field == "fields.occurred_on"


def test_a_corrected_date_after_the_next_event_is_out_of_order() -> None:
    run, version, on = started()
    run.do(
        "record_mission_meeting", POLICY_DIRECTOR, on=on + timedelta(days=1), received_by=["mfa"]
    )
    err = refused(
        run,
        "out_of_order",
        POLICY_DIRECTOR,
        version,
        {"occurred_on": (on + timedelta(days=2)).isoformat()},
        on=on + timedelta(days=5),
    )
    assert err.field == "fields.occurred_on"


def test_a_corrected_date_in_the_future_is_refused() -> None:
    run, version, on = started()
    correction = command(
        "correct_record",
        POLICY_DIRECTOR,
        on,
        version=version,
        fields={"occurred_on": (on + timedelta(days=3)).isoformat()},
        reason="r",
    )
    with pytest.raises(DomainError) as caught:
        decide(run.state, correction, today=on)
    assert (caught.value.code, caught.value.field) == ("invalid_input", "fields.occurred_on")


def test_the_corrections_own_date_follows_invariant_1() -> None:
    run, version, on = started()
    run.do(
        "record_mission_meeting", POLICY_DIRECTOR, on=on + timedelta(days=3), received_by=["mfa"]
    )
    err = refused(
        run, "out_of_order", POLICY_DIRECTOR, version, {"note": "x"}, on=on + timedelta(days=1)
    )
    assert err.field == "occurred_on"


def test_correcting_the_latest_date_backwards_moves_the_last_business_date() -> None:
    run, version, wrong = started(gap=10)
    right = wrong - timedelta(days=8)
    # Recorded on a day between the right date and the wrong one: allowed, since the
    # process's last business date, once corrected, is the right one.
    run.do(
        "correct_record",
        POLICY_DIRECTOR,
        on=right + timedelta(days=1),
        version=version,
        fields={"occurred_on": right.isoformat()},
        reason=REASON,
    )
    assert run.state.last_occurred_on == right + timedelta(days=1)
    between = right + timedelta(days=3)
    events = run.do("record_mission_meeting", POLICY_DIRECTOR, on=between, received_by=["mfa"])
    assert [e.occurred_on for e in events] == [between]


def test_the_last_business_date_never_moves_back_past_a_later_event() -> None:
    run, version, on = started()
    later = on + timedelta(days=2)
    run.do("record_mission_meeting", POLICY_DIRECTOR, on=later, received_by=["mfa"])
    run.do(
        "correct_record",
        POLICY_DIRECTOR,
        on=later,
        version=version,
        fields={"occurred_on": (on - timedelta(days=1)).isoformat()},
        reason=REASON,
    )
    assert run.state.last_occurred_on == later
    run.rejects(
        "out_of_order",
        "record_mission_meeting",
        POLICY_DIRECTOR,
        on=later - timedelta(days=1),
        received_by=["mfa"],
    )


def test_a_mission_cannot_end_before_it_started() -> None:
    run = run_to(Stage.MISSION_COMPLETED)
    version = run.state.version
    start = run.state.mission.started_on
    assert start is not None
    err = refused(
        run,
        "guard_failed",
        POLICY_DIRECTOR,
        version,
        {"actual_end": (start.earliest - timedelta(days=1)).isoformat()},
    )
    assert err.field == "fields.actual_end"


def test_correcting_the_start_moves_the_completed_missions_actual_start() -> None:
    run = run_to(Stage.MISSION_COMPLETED)
    start = run.state.mission.started_on
    assert start is not None
    version = next(
        i
        for i, t in enumerate(all_entries(run.state.entries), start=1)
        if t.startswith("MissionStarted ")
    )
    before = date.fromisoformat(all_entries(run.state.entries)[version - 2].split(" ")[1])
    run.do("correct_record", DG, version=version, fields={"occurred_on": str(before)}, reason="r")
    assert run.state.mission.actual_start == before
    assert run.state.mission.started_on == before


def test_a_reason_is_required() -> None:
    run, version, _on = started()
    err = run.rejects(
        "invalid_input",
        "correct_record",
        POLICY_DIRECTOR,
        version=version,
        fields={"note": "x"},
        reason=" \n ",
    )
    assert err.field == "reason"


def test_at_least_one_field_is_corrected() -> None:
    run, version, _on = started()
    err = refused(run, "invalid_input", POLICY_DIRECTOR, version, {})
    assert err.field == "fields"


def test_a_terminal_process_accepts_no_correction() -> None:
    run = run_to(Stage.CLOSED)
    refused(run, "terminal", CHAIR, 2, {"summary": "x"})


def test_an_event_of_unknown_issuer_is_corrected_by_the_chair_only() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    unknown = fold(run.events)  # read without the actor metadata
    correction = command(
        "correct_record", MFA_HEAD, run.today, version=2, fields={"summary": "x"}, reason="r"
    )
    with pytest.raises(DomainError) as caught:
        decide(unknown, correction)
    assert caught.value.code == "not_allowed"
    chair = command(
        "correct_record", CHAIR, run.today, version=2, fields={"summary": "x"}, reason="r"
    )
    assert [e.event_type for e in decide(unknown, chair)] == ["RecordCorrected"]


def test_a_correction_survives_storage_and_refolds_to_the_same_state() -> None:
    run, version, on = started()
    run.do(
        "correct_record",
        POLICY_DIRECTOR,
        version=version,
        fields={"occurred_on": (on - timedelta(days=1)).isoformat()},
        reason=REASON,
    )
    stored = [encode_event(e) for e in run.events]
    assert stored[-1][:2] == ("RecordCorrected", 2)
    assert fold((decode_event(*row) for row in stored), by=run.parties) == run.state


def test_entries_across_chunks_keep_each_versions_date_and_issuer() -> None:
    run = run_to(Stage.NEGOTIATING)
    while run.state.version < ENTRIES_PER_CHUNK + 3:
        run.do("record_meeting", SECRETARY, on=run.tick(), format="online", initiator="partner")
    assert entry_count(run.state.entries) == run.state.version
    boundary = ENTRIES_PER_CHUNK + 1  # the first entry of the second chunk
    # Its previous neighbour is the last entry of the first chunk.
    previous = date.fromisoformat(entry_at(run.state.entries, boundary - 1).split(" ")[1])
    run.do(
        "correct_record",
        SECRETARY,
        version=boundary,
        fields={"occurred_on": previous.isoformat()},
        reason=REASON,
    )
    assert entry_at(run.state.entries, boundary) == f"MeetingRecorded {previous} national_body"
    err = run.rejects(
        "out_of_order",
        "correct_record",
        SECRETARY,
        version=boundary,
        fields={"occurred_on": (previous - timedelta(days=1)).isoformat()},
        reason=REASON,
    )
    assert err.field == "fields.occurred_on"


def test_the_events_recorded_with_a_corrected_event_take_its_date() -> None:
    run = run_to(Stage.NEGOTIATING)  # the representative's assignment opened negotiations
    flat = all_entries(run.state.entries)
    assigned = next(
        i for i, t in enumerate(flat, start=1) if t.startswith("RepresentativeAssigned")
    )
    assert flat[assigned].startswith("NegotiationsOpened")
    earlier = date.fromisoformat(flat[assigned - 2].split(" ")[1])
    (event,) = run.do(
        "correct_record",
        MFA_HEAD,
        version=assigned,
        fields={"occurred_on": earlier.isoformat()},
        reason=REASON,
    )
    assert isinstance(event, RecordCorrected)
    assert event.with_versions == (assigned + 1,)
    assert entry_at(run.state.entries, assigned + 1) == f"NegotiationsOpened {earlier} mfa"
    assert run.state.dates.negotiations_opened == earlier


def test_a_delivery_and_its_review_requests_move_together_and_free_the_last_date() -> None:
    run = run_to(Stage.MISSION_COMPLETED)
    wrong = run.today + timedelta(days=30)
    run.do(
        "deliver_report",
        DG,
        on=wrong,
        title="Assessment Report",
        version=1,
        recipient="mfa",
        classification="restricted",
    )
    delivered = run.state.version - 2  # then one review request per reviewer
    right = run.today - timedelta(days=25)
    ended = run.state.mission.actual_end
    assert ended is not None and right > ended  # after the event before the delivery
    (event,) = run.do(
        "correct_record",
        DG,
        on=right + timedelta(days=1),
        version=delivered,
        fields={"occurred_on": right.isoformat()},
        reason=REASON,
    )
    assert isinstance(event, RecordCorrected)
    assert event.with_versions == (delivered + 1, delivered + 2)
    assert run.state.dates.delivered == right
    assert run.state.last_occurred_on == right + timedelta(days=1)
    between = right + timedelta(days=5)
    run.do("submit_review", MFA_HEAD, on=between, report_version=1, conclusions="Agreed.")
