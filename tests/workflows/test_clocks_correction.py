"""A correction is no progress: it does not re-arm the dormancy clock (workflows/clocks.py)."""

from __future__ import annotations

from domain import Stage
from tests.domain.domain_scenario import CHAIR, run_to
from workflows import clocks


def test_a_correction_does_not_re_arm_dormancy_but_a_meeting_does() -> None:
    run = run_to(Stage.NEGOTIATING)
    armed = clocks.reconcile({}, run.state, [], 0.0)
    first = armed["dormancy"].due_at
    events = run.do("correct_record", CHAIR, version=2, fields={"venue": "Baku"}, reason="Typo")
    assert [e.event_type for e in events] == ["RecordCorrected"]
    after = clocks.reconcile(armed, run.state, events, 500.0)
    assert after["dormancy"].due_at == first
    events = run.do("record_meeting", CHAIR, format="online", initiator="national_body")
    rearmed = clocks.reconcile(after, run.state, events, 600.0)
    assert rearmed["dormancy"].due_at == 600.0 + rearmed["dormancy"].period
