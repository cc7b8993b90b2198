"""One meaning per update id, within a run and across continue-as-new.

Within a run Temporal itself answers a repeated update id with the first outcome, without
asking the process; the outcome carries the digest of the command the process recorded,
so the CLI (and any client that compares it) refuses the reuse `idempotency_conflict`.
Across runs the process remembers its recent update ids: the same command again is
answered with its recorded outcome, another command under that id is refused.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.operations import CommandOutcome, send_command
from cli.session import Session
from store import EventStore
from tests.actor_keys import token_for
from tests.attacks import raw
from tests.workflows.builders import NB_SECRETARY, Driver, opened
from workflows.process import command_digest

pytestmark = pytest.mark.attacks


async def answered(
    env: WorkflowEnvironment, workflow_id: str, body: dict[str, Any], token: str, update_id: str
) -> raw.Outcome:
    """A raw caller that follows the documented rule: `busy` means send again, same id."""
    for _ in range(100):
        outcome = await raw.update_with_header(
            env, workflow_id, "record_meeting", body, token, update_id=update_id
        )
        if outcome.code != "busy":
            return outcome
        await asyncio.sleep(0.1)
    raise AssertionError("still busy after 10 s")


def meeting(on: str, summary: str) -> dict[str, Any]:
    return {
        "actor": NB_SECRETARY,
        "occurred_on": on,
        "format": "online",
        "initiator": "national_body",
        "summary": summary,
    }


async def test_the_cli_refuses_an_update_id_reused_for_another_command(
    session: Session, store: EventStore
) -> None:
    p = await opened(session, "uid")
    await p.to_negotiating()
    update_id = f"uid-{uuid.uuid4().hex}"

    async def record(on: str, summary: str) -> CommandOutcome:
        """A meeting sent through the CLI's path, always under the same update id."""
        body = meeting(on, summary)
        return await send_command(
            session, p.workflow_id, "record_meeting", body, update_id=update_id
        )

    first = await record("2019-01-01", "first")
    assert first.accepted
    version = await store.stream_version(p.workflow_id)

    again = await record("2019-01-01", "first")
    assert again.accepted and again.events == first.events  # a true retry

    other = await record("2019-02-01", "other")
    assert (other.accepted, other.code, other.field) == (False, "idempotency_conflict", "update_id")
    assert await store.stream_version(p.workflow_id) == version


async def test_a_raw_caller_sees_which_command_an_update_id_recorded(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    p = await opened(session, "uid-raw")
    await p.to_negotiating()
    token = token_for(NB_SECRETARY, p.process_id)
    update_id = f"uid-{uuid.uuid4().hex}"
    body = meeting("2019-01-01", "first")
    first = await raw.update_with_header(
        temporal_env, p.workflow_id, "record_meeting", body, token, update_id=update_id
    )
    assert first.accepted
    other = meeting("2019-02-01", "other")
    second = await raw.update_with_header(
        temporal_env, p.workflow_id, "record_meeting", other, token, update_id=update_id
    )
    # Temporal answered from its own record: the digest names the first command, not this one.
    from domain import parse_command

    digest = second.result["command_digest"]
    assert digest == command_digest(parse_command("record_meeting", body))
    assert digest != command_digest(parse_command("record_meeting", other))
    assert [e.event_type for e in await store.read_stream(p.workflow_id)].count(
        "MeetingRecorded"
    ) == 1


async def test_across_continue_as_new_an_update_id_keeps_its_meaning(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    process_id = f"uid-can-{uuid.uuid4().hex[:6]}"
    workflow_id = f"coop-{process_id}"
    p = Driver(session, process_id)
    first_run = await p.open_with_short_runs(60)
    handle = session.client.get_workflow_handle(workflow_id)
    await p.to_negotiating()
    token = token_for(NB_SECRETARY, process_id)
    update_id = f"uid-{uuid.uuid4().hex}"
    body = meeting("2019-01-01", "kept")
    assert (await answered(temporal_env, workflow_id, body, token, update_id)).accepted
    await p.meet_online(range(2, 20))  # enough history for the run to continue as new
    assert (await handle.describe()).run_id != first_run
    version = await store.stream_version(workflow_id)

    # Another command under the remembered id: refused by the process itself.
    conflict = await answered(
        temporal_env, workflow_id, meeting("2019-02-01", "other"), token, update_id
    )
    assert (conflict.accepted, conflict.code) == (False, "idempotency_conflict")
    # The same command again: answered with the outcome recorded by the first run.
    retry = await answered(temporal_env, workflow_id, body, token, update_id)
    assert retry.accepted and retry.result["events"][0]["version"] < version
    assert await store.stream_version(workflow_id) == version
