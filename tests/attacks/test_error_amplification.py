"""Error amplification (issue 12, finding 6): big or wrong payloads get a short answer, and
never fail a workflow task or starve honest callers.

Before: a 120 KB command (`conditions: [1]*40000`) produced a rejection listing 40,000
problems, a reply above gRPC's 4 MB limit, so the workflow task failed (and retried), and
during a flood of 30 such commands 10 of 25 honest commands got no answer.

Temporal itself caps the updates in flight per workflow (10 on the dev server) and answers
the rest RESOURCE_EXHAUSTED; the callers here send again after a pause, as a client should,
so the flood keeps that cap full of bad commands while the honest ones queue with them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from domain import MAX_COMMAND_BYTES, MESSAGE_LIMIT
from store import EventStore
from tests.attacks.test_input_hygiene import send, settled_trace, trace
from tests.workflows.builders import MFA_HEAD, NB_SECRETARY, Driver

pytestmark = pytest.mark.attacks

OPINION: dict[str, Any] = {
    "actor": NB_SECRETARY,
    "occurred_on": "2018-06-01",
    "recommendation": "negotiate",
}
# The payload: about 120 KB of JSON, 40,000 wrong list items.
WRONG_LIST = json.dumps(OPINION | {"conditions": [1] * 40000})
# Above the size rule: refused before it is parsed.
OVERSIZED = json.dumps(OPINION | {"summary": "x" * (MAX_COMMAND_BYTES + 1000)})


async def task_failures(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events)


async def opened(session: Session, name: str) -> Driver:
    driver = Driver(session, f"amp-{name}-{uuid.uuid4().hex[:6]}")
    await driver.open()
    await driver.ok("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")
    return driver


async def test_a_120_kb_command_gets_a_short_answer_and_changes_nothing(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    assert 110_000 < len(WRONG_LIST) < MAX_COMMAND_BYTES < len(OVERSIZED)
    driver = await opened(session, "big")
    before = await settled_trace(session.client, store, driver.workflow_id)

    accepted, code, message, details = await send(
        temporal_env, driver.workflow_id, "submit_opinion", WRONG_LIST, NB_SECRETARY
    )
    assert (accepted, code) == (False, "invalid_input")
    assert message == "submit_opinion: field 'conditions.0': Input should be a valid string"
    assert details == {"code": "invalid_input", "message": message, "field": "conditions.0"}

    accepted, code, message, details = await send(
        temporal_env, driver.workflow_id, "submit_opinion", OVERSIZED, NB_SECRETARY
    )
    assert (accepted, code) == (False, "invalid_input")
    assert f"a command is at most {MAX_COMMAND_BYTES} bytes of JSON" in message
    assert len(message) <= MESSAGE_LIMIT and details["field"] is None

    assert await trace(session.client, store, driver.workflow_id) == before
    assert await task_failures(session.client, driver.workflow_id) == 0


async def test_a_flood_of_oversized_commands_does_not_starve_honest_ones(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    driver = await opened(session, "flood")
    before = await settled_trace(session.client, store, driver.workflow_id)

    async def bad(i: int) -> tuple[bool, str | None, str]:
        body = OVERSIZED if i % 2 else WRONG_LIST
        accepted, code, message, _ = await send(
            temporal_env, driver.workflow_id, "submit_opinion", body, NB_SECRETARY
        )
        return accepted, code, message

    async def honest(i: int) -> tuple[bool, str | None, str]:
        meeting = {
            "actor": MFA_HEAD,
            "occurred_on": "2018-07-01",  # one date for all: any order is in date order
            "format": "online",
            "initiator": "mfa",
            "summary": f"Probe {i}",
        }
        accepted, code, message, _ = await send(
            temporal_env, driver.workflow_id, "record_meeting", json.dumps(meeting), MFA_HEAD
        )
        return accepted, code, message

    # Every call must be answered: a call without an answer fails the test by its timeout.
    results = await asyncio.wait_for(
        asyncio.gather(*(bad(i) for i in range(30)), *(honest(i) for i in range(25))), 120
    )
    refused, answered = results[:30], results[30:]
    assert all(not ok and code == "invalid_input" for ok, code, _ in refused), refused
    assert all(len(message) <= MESSAGE_LIMIT for _, _, message in refused)
    assert all(ok for ok, _, _ in answered), [r for r in answered if not r[0]]

    after = await settled_trace(session.client, store, driver.workflow_id)
    recorded = (await store.read_stream(driver.workflow_id))[before["stream_version"] :]
    assert after["stream_version"] == before["stream_version"] + 25
    assert sorted(e.data["summary"] for e in recorded) == sorted(f"Probe {i}" for i in range(25))
    assert {e.event_type for e in recorded} == {"MeetingRecorded"}
    assert await task_failures(session.client, driver.workflow_id) == 0
