"""A history written by the SDK itself that no worker can replay: a known SDK bug.

Captured from the fault test (`test_faults.py`): process `coop-az-fault-27` stuck for good
after a worker restart; every later command was answered FAILED_PRECONDITION and each new
worker failed the workflow task with

    [TMPRL1100] Nondeterminism error: Update machine does not handle this event:
    HistoryEvent(id: 187, SignalExternalWorkflowExecutionInitiated)

What the history shows (events 180-188): U19 (`grant_consent`, mfa) was accepted and
scheduled `record_events`; the worker running it was killed, the activity timed out and ran
again; meanwhile the client had re-sent and then sent U20 (`grant_consent`, state security
service), which the server delivered in the *same* workflow task as U19's activity result
(U20's `accepted_request_sequencing_event_id` is that task's scheduled event, 184). A newly
started worker that already held the run in its cache (it had answered the client's
`status` query) handled that task: U19's handler went on and signalled the mission child
(187), then U20 was accepted (188). On replay the SDK hands both jobs to the workflow in
one activation and runs the update first, so it expects U20's acceptance before the signal.

The workflow code is deterministic (the same code wrote this history minutes earlier): the
live and replayed activations order the same jobs differently (temporalio 1.35.0; compare
temporalio/sdk-python#1591, open). The test is xfail(strict): when an SDK upgrade makes the
history replay, it fails as XPASS and the marker must go.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.main import WORKFLOWS, workflow_runner

HISTORY = Path(__file__).resolve().parent / "histories" / "update-accepted-after-signal.json"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="temporalio 1.35.0 cannot replay an update accepted after another handler's "
    "command in the same workflow task (compare temporalio/sdk-python#1591)",
)
async def test_history_with_update_accepted_after_signal_replays() -> None:
    history = WorkflowHistory.from_json("coop-az-fault-27", HISTORY.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = result.replay_failure
    if failure is not None and "Update machine does not handle this event" not in str(failure):
        pytest.fail(f"another replay failure than the known one: {failure}")  # not xfail
    assert failure is None, failure
