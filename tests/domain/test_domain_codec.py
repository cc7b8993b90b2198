"""Event encoding, decoding and upcasting."""

from __future__ import annotations

import json
from datetime import date

import pytest

from domain import (
    EVENTS,
    ContactLogged,
    EventDecodeError,
    InstrumentSigned,
    MeetingRecorded,
    Stage,
    decode_event,
    encode_event,
)
from domain.codec import UPCASTERS
from tests.domain.domain_scenario import CHAIR, MFA_HEAD, SYSTEM, run_to


def test_every_event_type_is_registered_under_its_class_name() -> None:
    assert len(EVENTS) == 37
    for name, model in EVENTS.items():
        assert model.event_type == name == model.__name__
        assert model.schema_version >= 1
        assert "occurred_on" in model.model_fields


def test_round_trip_of_every_emitted_event() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    run.do("review_reminder_due", SYSTEM, report_version=1)
    run.do("review_deadline_reached", SYSTEM, report_version=1)
    run.do("submit_conclusions", MFA_HEAD, report_version=1)
    run.do("suspend", CHAIR, reason="pause")
    for event in run.events:
        event_type, version, data = encode_event(event)
        assert (event_type, version) == (event.event_type, event.schema_version)
        assert decode_event(event_type, version, data) == event


def test_contact_logged_v1_is_upcast_to_the_current_version() -> None:
    v1 = {"occurred_on": "2018-05-17", "venue": "The Hague", "modality": "membership"}
    event = decode_event("ContactLogged", 1, v1)
    assert isinstance(event, ContactLogged)
    assert event.modalities == ("membership",)
    assert ContactLogged.schema_version == 3
    # From its JSON text too (the store's form), through the v1 -> v2 step.
    from_text = decode_event("ContactLogged", 1, json.dumps(v1))
    assert from_text == event
    no_modality = decode_event("ContactLogged", 1, {"occurred_on": "2018-05-17", "venue": "x"})
    assert isinstance(no_modality, ContactLogged) and no_modality.modalities == ()
    assert v1 == {"occurred_on": "2018-05-17", "venue": "The Hague", "modality": "membership"}


def test_decode_errors_are_clear() -> None:
    with pytest.raises(EventDecodeError, match="unknown event type 'TreatySigned'"):
        decode_event("TreatySigned", 1, {})
    with pytest.raises(EventDecodeError, match="schema_version 4 not readable; current is 3"):
        decode_event("ContactLogged", 4, {})
    with pytest.raises(EventDecodeError, match="schema_version 0"):
        decode_event("ProcessClosed", 0, {})
    with pytest.raises(EventDecodeError, match="ProcessClosed v1"):
        decode_event("ProcessClosed", 1, {"occurred_on": "2020-01-01", "extra": 1})


@pytest.mark.parametrize("form", ["dict", "text"])
def test_events_recorded_before_edtf_dates_read_unchanged(form: str) -> None:
    """v1 of every type had days only: it reads as the current version, its day unchanged,
    from a dict or straight from its JSON text, and the new fields take their defaults."""
    v1 = {
        "occurred_on": "2021-11-15",
        "format": "in_person",
        "location": "The Hague",
        "agencies_present": ["mfa"],
        "initiator": "partner",
        "summary": "s",
    }
    data = json.dumps(v1) if form == "text" else v1
    event = decode_event("MeetingRecorded", 1, data)
    assert isinstance(event, MeetingRecorded)
    assert event.occurred_on == date(2021, 11, 15) and str(event.occurred_on) == "2021-11-15"
    assert event.participants == ()
    assert encode_event(event)[1] == 2
    signed_v1 = {
        "occurred_on": "2022-04-04",
        "type": "protocol_of_intent",
        "draft_version": 1,
        "place": "Baku",
        "signatories": [{"party": "partner", "role": "director_general", "name": "K. B."}],
    }
    signed = decode_event("InstrumentSigned", 1, signed_v1)
    assert isinstance(signed, InstrumentSigned)
    assert signed.signatories[0].name == "K. B." and signed.signatories[0].title is None


def test_missing_upcaster_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(UPCASTERS, ("ContactLogged", 1))
    with pytest.raises(EventDecodeError, match="no upcaster from version 1"):
        decode_event("ContactLogged", 1, {"occurred_on": "2018-05-17", "venue": "x"})
