"""A business date written as a range open far into the future, sent from outside.

`2019-01-10/9999` is a valid EDTF range whose earliest day has passed, so the domain
accepts it (a fact is refused only when even its earliest day is to come). Its latest day
must not reach the process's clocks: a clock counting from 9999-12-31 would never fire and
its date arithmetic would overflow, failing the workflow task on every retry. Sent here as
a raw update with a valid token, as any SDK or the `temporal` CLI would.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.operations import read_status
from cli.session import Session
from store import EventStore
from tests.actor_keys import token_for
from tests.attacks import raw
from tests.workflows.builders import NB_SECRETARY, Driver

pytestmark = pytest.mark.attacks


async def test_a_range_open_into_the_future_leaves_the_clocks_running(
    temporal_env: WorkflowEnvironment, session: Session, store: EventStore
) -> None:
    p = Driver(session, f"open-range-{uuid.uuid4().hex[:6]}")
    await p.open(dormancy_after="PT3S")
    await p.to_negotiating()
    meeting = {
        "actor": NB_SECRETARY,
        "occurred_on": "2019-01-10/9999",
        "format": "online",
        "initiator": "national_body",
        "summary": "A meeting the source dates only as after January 2019",
    }
    outcome = await raw.update_with_header(
        temporal_env,
        p.workflow_id,
        "record_meeting",
        meeting,
        token_for(NB_SECRETARY, p.process_id),
    )
    assert outcome.accepted, outcome

    # The dormancy clock the meeting re-armed still fires, dated no later than today.
    deadline = asyncio.get_running_loop().time() + 60
    while (await read_status(session, p.workflow_id))["stage"] != "dormant":
        assert asyncio.get_running_loop().time() < deadline, "dormancy never fired"
        await asyncio.sleep(0.5)
    [dormant] = [
        e for e in await store.read_stream(p.workflow_id) if e.event_type == "ProcessWentDormant"
    ]
    fired_on = dormant.metadata.occurred_on
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert fired_on is not None and "9999" not in fired_on
    assert fired_on <= tomorrow.isoformat()
