"""Temporal's own entry points, tried from outside: none of them goes around the gate.

Each case is sent with the plain `temporal` CLI, as another service with access to the
namespace would send it, and asserts refusal and zero change: the same store rows, the same
stage and version, and no update or activity in the workflow history beyond the refused
attempt itself (DOMAIN.md invariant 6).
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from cli.operations import ProcessNotFound, read_status, start_process
from cli.session import Session
from store import EventStore
from tests.actor_keys import token_for
from tests.attacks import raw
from tests.workflows.builders import (
    ICMP_DG,
    MFA_HEAD,
    NB_CHAIR,
    Driver,
    opening,
    process_block,
)

pytestmark = pytest.mark.attacks

# What a refused attempt may leave in a history, and what it may not.
WORK = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
}


def pid(name: str) -> str:
    return f"atk-{name}-{uuid.uuid4().hex[:6]}"


async def history_types(client: Client, workflow_id: str, run_id: str | None = None) -> list[Any]:
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    return [e.event_type for e in history.events]


async def snapshot(session: Session, store: EventStore, workflow_id: str) -> dict[str, Any]:
    """Everything a refused attempt must leave as it was."""
    status = await read_status(session, workflow_id)
    return {
        "events": [(e.version, e.event_type, e.hash) for e in await store.read_stream(workflow_id)],
        "stage": status["stage"],
        "version": status["version"],
        "work": [t for t in await history_types(session.client, workflow_id) if t in WORK],
    }


async def withdrawn(session: Session, name: str) -> Driver:
    """A process the partner withdrew from after a first contact: its workflow has ended."""
    p = Driver(session, pid(name))
    await p.open()
    await p.ok("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")
    await p.ok("withdraw", "2018-06-01", ICMP_DG, reason="No mandate")
    await session.client.get_workflow_handle(p.workflow_id).result()
    return p


async def failure_of(client: Client, workflow_id: str) -> ApplicationError:
    """The ApplicationError a run failed with (and that it failed, not retried a task)."""
    handle = client.get_workflow_handle(workflow_id)
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError), cause
    types = await history_types(client, workflow_id)
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types, "a task failed and retried"
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED in types
    return cause


@pytest.mark.parametrize(
    ("command", "data"),
    [
        ("withdraw", {"actor": NB_CHAIR, "reason": "forged"}),
        ("grant_consent", {"actor": MFA_HEAD, "tor_version": 1}),
        ("close_process", {"actor": NB_CHAIR}),
        ("consent_deadline_reached", {"actor": {"party": "system", "role": "timer"}}),
    ],
)
async def test_no_signal_runs_a_command(
    session: Session,
    store: EventStore,
    temporal_env: WorkflowEnvironment,
    command: str,
    data: dict[str, Any],
) -> None:
    p = Driver(session, pid("signal"))
    await p.open()
    await p.to_mission_planning()
    before = await snapshot(session, store, p.workflow_id)
    for name in ("timer_fired", command):
        payload = {"command": command, "data": {**data, "occurred_on": "9999-12-31"}}
        code, _, err = await raw.signal(temporal_env, p.workflow_id, name, payload)
        assert code == 0, err  # Temporal takes the signal; the process ignores it
    # A legitimate command afterwards is decided as if nothing had come in.
    await p.ok("grant_consent", "2023-04-01", MFA_HEAD, tor_version=1)
    after = await snapshot(session, store, p.workflow_id)
    assert after["events"][: len(before["events"])] == before["events"]
    assert [t for _, t, _ in after["events"][len(before["events"]) :]] == ["ConsentGranted"]
    assert after["stage"] == "mission_planning"
    # Only the legitimate command's update and activity were added to the history.
    added = after["work"][len(before["work"]) :]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED in added
    assert added.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 1


async def test_a_start_with_a_history_is_refused(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    process_id = pid("history")
    workflow_id = f"coop-{process_id}"
    forged = {
        "open_process": opening(process_id),
        "history": [
            {"event_type": "ProcessOpened", "schema_version": 1, "data": {}},
        ],
        "children": [],
    }
    await raw.start_with_header(
        temporal_env, workflow_id, session.task_queue, forged, token_for(NB_CHAIR, process_id)
    )
    cause = await failure_of(session.client, workflow_id)
    assert cause.type == "invalid_input"
    assert await store.stream_version(workflow_id) == 0


async def test_a_forged_continuation_cannot_reopen_a_withdrawn_process(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    p = await withdrawn(session, "reopen")
    events_before = await store.read_stream(p.workflow_id)
    head = events_before[-1]
    # The continuation input a process hands itself, crafted by hand for a finished process:
    # right stream, right version and head hash, a state that says "negotiating".
    forged = {
        "continued": {
            "stream_id": p.workflow_id,
            "version": head.version,
            "head_hash": head.hash.hex(),
            "snapshot": {"stage": "negotiating"},
        }
    }
    # With a valid token for the chair, so that only the process's own gate is tried.
    await raw.start_with_header(
        temporal_env, p.workflow_id, session.task_queue, forged, token_for(NB_CHAIR, p.process_id)
    )
    cause = await failure_of(session.client, p.workflow_id)
    assert cause.type == "not_allowed"
    assert "continued" in cause.message
    # A command sent afterwards finds no process to run it.
    code, _, _ = await raw.update(
        temporal_env, p.workflow_id, "complete_mission", {"actor": ICMP_DG}
    )
    assert code != 0
    assert await store.read_stream(p.workflow_id) == events_before
    assert (await store.verify(p.workflow_id)).ok


async def test_starting_an_existing_process_again_is_refused(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    p = await withdrawn(session, "again")
    before = await store.read_stream(p.workflow_id)

    # Through Accord's own CLI code: refused before anything is started.
    outcome = await start_process(session, process_block(p.process_id), default_on=date(2019, 1, 1))
    assert (outcome.accepted, outcome.code) == (False, "already_exists")

    # Raw, with a valid opening: the run fails `already_exists` and tells the truth.
    start = {"open_process": opening(p.process_id, on="2019-01-01")}
    await raw.start_with_header(
        temporal_env, p.workflow_id, session.task_queue, start, token_for(NB_CHAIR, p.process_id)
    )
    cause = await failure_of(session.client, p.workflow_id)
    assert cause.type == "already_exists"
    assert await store.read_stream(p.workflow_id) == before
    status = await read_status(session, p.workflow_id)
    assert (status["stage"], status["version"]) == ("withdrawn", len(before))


@pytest.mark.parametrize(
    "opener",
    [{"party": "mfa", "role": "head"}, {"party": "system", "role": "timer"}],
    ids=["agency", "system"],
)
async def test_a_refused_opening_starts_nothing(
    session: Session,
    store: EventStore,
    temporal_env: WorkflowEnvironment,
    opener: dict[str, str],
) -> None:
    process_id = pid("opener")
    workflow_id = f"coop-{process_id}"
    block = {**process_block(process_id), "actor": opener}
    outcome = await start_process(session, block, default_on=date(2018, 5, 17))
    assert not outcome.accepted
    assert outcome.code == "not_allowed"
    code, _, _ = await raw.temporal(temporal_env, "workflow", "describe", "-w", workflow_id)
    assert code != 0, "the CLI path started a workflow"

    # Raw: the run fails at once with the domain's code; no task retries for ever.
    payload = {"open_process": opening(process_id, actor=opener)}
    await raw.start_with_header(
        temporal_env, workflow_id, session.task_queue, payload, token_for(opener, process_id)
    )
    cause = await failure_of(session.client, workflow_id)
    assert cause.type == "not_allowed"
    assert await store.stream_version(workflow_id) == 0
    with pytest.raises(ProcessNotFound):  # `accord status`: "no process", exit 2
        await read_status(session, workflow_id)


async def test_a_start_under_another_process_id_is_refused(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    process_id = pid("alias")
    workflow_id = f"coop-{pid('other')}"
    start = {"open_process": opening(process_id)}
    # The token is for the workflow's process id, so the binding lets it through.
    await raw.start_with_header(
        temporal_env, workflow_id, session.task_queue, start, token_for(NB_CHAIR, workflow_id)
    )
    cause = await failure_of(session.client, workflow_id)
    assert cause.type == "invalid_input"
    assert await store.stream_version(workflow_id) == 0
    assert await store.stream_version(f"coop-{process_id}") == 0


async def test_timer_commands_are_not_updates(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    p = Driver(session, pid("timer-update"))
    await p.open()
    await p.to_mission_planning()
    before = await snapshot(session, store, p.workflow_id)
    code, _, _ = await raw.update(
        temporal_env,
        p.workflow_id,
        "consent_deadline_reached",
        {
            "actor": {"party": "system", "role": "timer"},
            "occurred_on": "2023-03-02",
            "tor_version": 1,
        },
    )
    assert code != 0
    assert await snapshot(session, store, p.workflow_id) == before
    status = await session.client.get_workflow_handle(p.workflow_id).describe()
    assert status.status == WorkflowExecutionStatus.RUNNING


async def test_a_start_with_a_repeated_key_is_refused(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    """JSON with `actor` twice: the history would show one opener and the store another."""
    process_id = pid("dupkey")
    workflow_id = f"coop-{process_id}"
    process = json.dumps(process_block(process_id))
    body = (
        '{"open_process": {"actor": {"party": "mfa", "role": "head"}, '
        f'"actor": {json.dumps(NB_CHAIR)}, "occurred_on": "2018-05-17", "process": {process}}}}}'
    )
    await raw.start_with_header(
        temporal_env, workflow_id, session.task_queue, body, token_for(NB_CHAIR, process_id)
    )
    cause = await failure_of(session.client, workflow_id)
    assert cause.type == "invalid_input"
    assert await store.stream_version(workflow_id) == 0
