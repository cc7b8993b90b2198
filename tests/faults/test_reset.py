"""`temporal workflow reset`, the operator's way out of a stuck workflow task: the reset run
takes the store's state (the record) and goes on without losing, duplicating or forking
anything. Updates after the reset point are not reapplied (`--reapply-exclude All`): they
were recorded already, and the store has them."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from cli.operations import read_status
from cli.session import Session
from store import EventStore
from tests.attacks import raw
from tests.workflows.builders import ICMP_POLICY, NB_SECRETARY, Driver
from tests.workflows.test_process import eventually


@pytest.mark.parametrize("point", ["first", "middle"])
async def test_a_reset_run_goes_on_from_the_store(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment, point: str
) -> None:
    p = Driver(session, f"reset-{point}-{uuid.uuid4().hex[:6]}")
    await p.open()
    await p.to_negotiating()
    history = await session.client.get_workflow_handle(p.workflow_id).fetch_history()
    completed = [
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    # "middle": just before the last command (assign_representative) was accepted, so the
    # reset run stands in options_review while the store is in negotiating.
    last_update = max(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )
    target = completed[0] if point == "first" else max(c for c in completed if c < last_update)
    before = await store.read_stream(p.workflow_id)
    first_run = (await session.client.get_workflow_handle(p.workflow_id).describe()).run_id

    code, _, err = await raw.temporal(
        temporal_env,
        *("workflow", "reset", "--workflow-id", p.workflow_id, "--run-id", first_run),
        *("--event-id", str(target), "--reason", "test", "--reapply-exclude", "All"),
    )
    assert code == 0, err

    async def reset_done() -> bool:
        desc = await session.client.get_workflow_handle(p.workflow_id).describe()
        return desc.run_id != first_run

    await eventually(reset_done)
    # Reset to the first task, the run re-opens: it finds its own stream and takes it.
    # Reset further on, the run's state lags the store until an append conflicts: the run
    # then takes the store's state and decides that command again, against the record.
    await p.ok(
        "record_meeting", "2021-11-14", NB_SECRETARY, format="online", initiator="national_body"
    )
    await p.ok(
        "propose_instrument", "2021-11-15", ICMP_POLICY, type="protocol_of_intent", draft_version=1
    )
    after = await store.read_stream(p.workflow_id)
    assert after[: len(before)] == before  # nothing rewritten
    assert [e.event_type for e in after[len(before) :]] == ["MeetingRecorded", "InstrumentProposed"]
    assert [e.version for e in after] == list(range(1, len(after) + 1))
    assert (await store.verify(p.workflow_id)).ok
    status = await read_status(session, p.workflow_id)
    assert (status["stage"], status["version"]) == ("negotiating", len(after))
