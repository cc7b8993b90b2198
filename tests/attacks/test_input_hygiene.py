"""Input hygiene from outside (issue 12, findings 4 and 5): hand-written JSON sent to a
running process over Temporal's own API, as any service with namespace access sends it.

Each bad command is refused `invalid_input` naming its field and rule, in a short message
that does not quote the rejected value, and changes nothing: the store's stream and the
workflow's history stay as they were. Then what the CLI prints of recorded text that holds
control or bidi characters (a stream written before these rules, or by another writer):
`accord timeline`, `accord events` and `accord report` escape it.

The `temporal` CLI cannot send the actor-token header (tests/attacks/raw.py), so commands go
as bare `UpdateWorkflowExecution` requests with a valid token: what is tested is the
command's content, past authentication.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from datetime import date
from typing import Any

import pytest
from temporalio.api.common.v1 import Header, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import Input, Meta, Request, WaitPolicy
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from domain import MESSAGE_LIMIT, ProcessConfig, encode_event
from domain import events as ev
from domain.dates import BusinessDate
from readmodel.projections import Projections
from store import EventMetadata, EventStore, NewEvent
from tests.actor_keys import token_for
from tests.attacks import raw
from tests.workflows.builders import MFA_HEAD, NB_CHAIR, Driver, process_block
from tests.workflows.test_cli import accord, cluster_env

pytestmark = pytest.mark.attacks

# Control characters a terminal acts on, and bidi controls that reorder what it shows.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def pid(name: str) -> str:
    return f"hyg-{name}-{uuid.uuid4().hex[:6]}"


async def send(
    env: WorkflowEnvironment, workflow_id: str, name: str, body: str, actor: dict[str, str]
) -> tuple[bool, str | None, str, dict[str, Any]]:
    """`body` as the update's JSON, byte for byte, with a valid token for `actor`:
    (accepted, error type, message, failure details)."""
    token = token_for(actor, workflow_id)
    request = UpdateWorkflowExecutionRequest(
        namespace="default",
        workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        request=Request(
            meta=Meta(update_id=str(uuid.uuid4()), identity="hygiene-test"),
            input=Input(
                name=name,
                header=Header(fields={raw.TOKEN_HEADER: raw.json_plain(json.dumps(token))}),
                args=Payloads(payloads=[raw.json_plain(body)]),
            ),
        ),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
        ),
    )
    # Temporal caps the updates in flight per workflow (10 on the dev server) and answers
    # RESOURCE_EXHAUSTED above it: a well-behaved client sends again with the same update
    # id after a pause, as here (the SDK's own retries give up after a few seconds).
    deadline = time.monotonic() + 90
    while True:
        try:
            response = await env.client.workflow_service.update_workflow_execution(
                request, retry=True
            )
            break
        except RPCError as err:
            if err.status != RPCStatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2 + random.random() / 2)
    outcome = response.outcome
    if not outcome.HasField("failure"):
        return True, None, "", {}
    info = outcome.failure.application_failure_info
    details: dict[str, Any] = {}
    if info.details.payloads:
        payload = info.details.payloads[0]
        assert payload.metadata["encoding"] == b"json/plain", payload.metadata
        details = json.loads(payload.data)
    return False, info.type or None, outcome.failure.message, details


async def trace(client: Client, store: EventStore, workflow_id: str) -> dict[str, Any]:
    """What a refused command must leave as it was: the stream and the history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return {
        "stream_version": await store.stream_version(workflow_id),
        "events": [(e.version, e.event_type, e.hash) for e in await store.read_stream(workflow_id)],
        "history_length": len(history.events),
    }


async def settled_trace(client: Client, store: EventStore, workflow_id: str) -> dict[str, Any]:
    """The trace once the history has stopped growing (the last command's task is done)."""
    last: dict[str, Any] | None = None
    deadline = time.monotonic() + 30
    while True:
        current = await trace(client, store, workflow_id)
        if current == last:
            return current
        assert time.monotonic() < deadline, "the process did not settle"
        last = current
        await asyncio.sleep(0.5)


MEETING: dict[str, Any] = {
    "actor": MFA_HEAD,
    "occurred_on": "2018-07-01",
    "format": "in_person",
    "location": "Baku",
    "initiator": "mfa",
    "summary": "Talks on the modalities",
}
KEY_970 = "k" + "ey" * 484 + "x"  # 970 characters
# (name, JSON body, field, rule fragment, what the message must not contain)
CASES: list[tuple[str, str, str, str, str | None]] = [
    (
        "log_contact",
        json.dumps({"actor": MFA_HEAD, "occurred_on": "2018-07-01", "venue": "   "}),
        "venue",
        "must not be empty or only whitespace",
        None,
    ),
    (
        "record_meeting",
        json.dumps(MEETING | {"summary": "Consent \u202egranted not\u202c by MFA"}),
        "summary",
        "bidirectional",
        "granted not",
    ),
    (
        "record_meeting",
        json.dumps(MEETING | {"location": "Baku\x1b[2K\rForged line"}),
        "location",
        "one line without control characters",
        "Forged line",
    ),
    (
        # One actor for the history's reader that keeps the first key, another for the one
        # that keeps the last.
        "record_meeting",
        json.dumps(MEETING).replace(
            '"party": "mfa"', '"party": "mfa", "party": "national_body_member_x"'
        ),
        "actor.party",
        "a key appears twice",
        "national_body_member_x",
    ),
    (
        "record_meeting",
        json.dumps(MEETING)[:-1] + ', "actor": {"party": "national_body", "role": "chair"}}',
        "actor",
        "a key appears twice",
        "chair",
    ),
    (
        "record_meeting",
        json.dumps(MEETING | {KEY_970: "x"}),
        KEY_970[:39] + "…",
        "Extra inputs are not permitted",
        KEY_970[:41],
    ),
    (
        # Finding 4: a typo for 2025 would have blocked every later real command.
        "record_meeting",
        json.dumps(MEETING | {"occurred_on": "2205-03-17"}),
        "occurred_on",
        "later than today (UTC) plus one day of tolerance",
        None,
    ),
]


async def test_bad_text_duplicate_keys_long_keys_and_future_dates_change_nothing(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    driver = Driver(session, pid("text"))
    await driver.open()
    await driver.ok("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")
    before = await settled_trace(session.client, store, driver.workflow_id)

    for name, body, field, rule, secret in CASES:
        accepted, code, message, details = await send(
            temporal_env, driver.workflow_id, name, body, MFA_HEAD
        )
        case = (name, field, message)
        assert not accepted, case
        assert code == "invalid_input", case
        assert details["field"] == field, (case, details)
        assert rule in message, case
        assert len(message) <= MESSAGE_LIMIT, case
        assert details["message"] == message
        assert secret is None or secret not in message, case
        assert KEY_970 not in message and not RAW_CONTROL.search(message), case
        # Nothing recorded, nothing added to the history (a refused update never enters it).
        assert await trace(session.client, store, driver.workflow_id) == before, case

    # Control: the well-formed command is recorded, with its text stripped.
    accepted, *_ = await send(
        temporal_env,
        driver.workflow_id,
        "record_meeting",
        json.dumps(MEETING | {"location": "  Baku\n", "summary": "Line one\n\tLine two "}),
        MFA_HEAD,
    )
    assert accepted
    recorded = (await store.read_stream(driver.workflow_id))[-1]
    assert recorded.event_type == "MeetingRecorded"
    assert (recorded.data["location"], recorded.data["summary"]) == (
        "Baku",
        "Line one\n\tLine two",
    )


# -- what the CLI prints -------------------------------------------------------------------

HOSTILE = "Agreed\x1b[2J\x1b[1;1H\rFORGED 2025-01-01 ProcessClosed\x08\x08\u202eevil\u202c"


async def test_the_cli_escapes_recorded_control_and_bidi_characters(
    temporal_env: WorkflowEnvironment, session: Session, store: EventStore, database_url: str
) -> None:
    # A stream recorded before the hygiene rules (or by another writer of the store): the
    # events are written as stored facts, then the projections are refreshed from them.
    process_id = pid("legacy")
    workflow_id = f"coop-{process_id}"
    config = ProcessConfig.model_validate_json(
        json.dumps(process_block(process_id) | {"country": "Azer\u202ebaijan"})
    )
    facts: list[ev.Event] = [
        ev.ProcessOpened(occurred_on=BusinessDate.of(date(2018, 5, 17)), process=config),
        ev.ContactLogged(
            occurred_on=BusinessDate.of(date(2018, 5, 18)),
            venue="The Hague\x1b[31m",
            summary=HOSTILE,
        ),
        ev.MeetingRecorded(
            occurred_on=BusinessDate.of(date(2018, 6, 1)),
            format="online",
            location="Baku\r\x1b[K",
            initiator="national_body",
            summary=HOSTILE,
        ),
    ]
    new = []
    for version, fact in enumerate(facts, start=1):
        event_type, schema_version, data = encode_event(fact)
        new.append(
            NewEvent(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{workflow_id}/{version}"),
                event_type=event_type,
                schema_version=schema_version,
                data=data,
                metadata=EventMetadata(occurred_on=fact.occurred_on.text, actor=NB_CHAIR),
            )
        )
    appended = await store.append(workflow_id, 0, new)
    await Projections(store).refresh(workflow_id)
    first_position = min(appended.positions) - 1

    env = cluster_env(temporal_env, session.task_queue, database_url)
    outputs: dict[str, str] = {}
    for label, args in {
        "timeline": ("timeline", process_id),
        "events": ("events", "--after", str(first_position), "--limit", "3"),
        "events --json": ("events", "--after", str(first_position), "--limit", "3", "--json"),
        "report md": ("report", process_id, "--format", "md"),
        "report html": ("report", process_id, "--format", "html"),
    }.items():
        code, out, err = await accord(*args, env=env)
        assert code == 0, (label, err)
        outputs[label] = out
        # Newlines separate lines; nothing else a terminal acts on may come out raw.
        assert not RAW_CONTROL.search(out.replace("\n", "").replace("\t", "")), label

    timeline = outputs["timeline"].splitlines()
    assert len(timeline) == 3, timeline  # one line per event: no forged line
    assert "The Hague\\x1b[31m" in timeline[1] and "Baku\\r\\x1b[K" in timeline[2]
    assert "\\x1b" in outputs["report md"] and "\\u202e" in outputs["report html"]
    # The JSON feed escapes, and still carries the recorded text exactly.
    feed = [json.loads(line) for line in outputs["events --json"].splitlines()]
    assert [e["type"] for e in feed] == ["ProcessOpened", "ContactLogged", "MeetingRecorded"]
    assert feed[1]["data"]["summary"] == HOSTILE
    assert "\\u202e" in outputs["events --json"]
