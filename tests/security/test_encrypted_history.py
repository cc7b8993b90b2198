"""What Temporal stores when the codec is on: read the RAW history with a client that has
no codec, and find no plaintext of what was sent; a client with the keys reads it all."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from cli.operations import start_process
from security.actor_binding import acting_as
from security.actor_token import mint_for
from security.codec import ENCODING, KEY_ID
from security.keys import KeyRing
from tests.security.conftest import ring
from tests.workflows.builders import MFA_HEAD, NB_CHAIR, Driver, process_block
from workers.config import TemporalSettings
from workflows.contracts import ProcessStart
from workflows.process import CooperationProcessWorkflow

# Distinctive strings in every kind of input: start input and static details (partner
# name), update arguments (venue, summary, an actor's name), and the actor token header.
PARTNER = "QUAGGA-9034 Commission"
VENUE = "OKAPI-5150 Embassy"
SUMMARY = "ZEBRA-7731 met the working group"
MINISTER = {**MFA_HEAD, "name": "Jeyhun Bayramov"}
# Summaries the workflow itself writes (user metadata of the start, activities, timers).
WRITTEN_BY_ACCORD = ["cooperation process", "record ContactLogged", "dormancy: no activity"]


async def raw_history(client: Client, workflow_id: str) -> History:
    history, token = History(), b""
    while True:
        page = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                next_page_token=token,
            )
        )
        history.events.extend(page.history.events)
        token = page.next_page_token
        if not token:
            return history


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload anywhere in a proto message, with its field path."""
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        name = f"{path}.{field.name}"
        kind = field.message_type
        assert kind is not None
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].type != field.TYPE_MESSAGE:
                continue
            items = [(f"{name}[{k}]", v) for k, v in value.items()]  # e.g. header fields
        elif field.is_repeated:
            items = [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(name, value)]
        for sub_path, sub in items:
            if isinstance(sub, Payload):
                yield sub_path, sub
            else:
                yield from payloads_in(sub, sub_path)


def assert_all_encrypted(history: History) -> set[str]:
    """Every payload but the search attributes (indexed by the server) is encrypted."""
    kinds = set()
    for event in history.events:
        for path, payload in payloads_in(event):
            if "search_attributes" in path:
                continue
            assert payload.metadata.get("encoding") == ENCODING, path
            kinds.add(re.sub(r"\[[^]]*\]", "", path).lstrip("."))
    return kinds


async def test_raw_history_holds_no_plaintext(
    settings_for: Callable[..., TemporalSettings], running: Any, plain_client: Client
) -> None:
    keys, actor_keys = ring("k1"), ring("a1")
    settings = settings_for(codec_keys=keys, actor_keys=actor_keys)
    hour = timedelta(hours=1)
    chair = mint_for("national_body", "chair", process="*", keys=actor_keys, ttl=hour)
    minister = mint_for("mfa", "head", "Jeyhun Bayramov", process="*", keys=actor_keys, ttl=hour)
    async with running(settings) as session:
        driver = Driver(session, f"enc-{uuid.uuid4().hex[:8]}")
        block = process_block(driver.process_id)
        block["partner"] = {"name": PARTNER, "short_name": "QC"}
        with acting_as(chair):
            assert (await start_process(session, block, default_on=date(2018, 5, 17))).accepted
        with acting_as(minister):
            ok = await driver.send("log_contact", "2018-05-17", MINISTER, venue=VENUE)
            assert ok.accepted, ok
        with acting_as(chair):
            ok = await driver.send(
                "record_meeting",
                "2018-05-20",
                NB_CHAIR,
                format="online",
                initiator="national_body",
                summary=SUMMARY,
            )
            assert ok.accepted, ok

            # A failing run: its failure message is encoded too.
            failed_id = f"coop-enc-fail-{uuid.uuid4().hex[:8]}"
            bad_open = {"actor": NB_CHAIR, "occurred_on": "2018-05-17", "process": {}}
            handle = await session.client.start_workflow(
                CooperationProcessWorkflow.run,
                ProcessStart(open_process=bad_open),
                id=failed_id,
                task_queue=session.task_queue,
            )
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "invalid_input"
        assert cause.message.startswith("open_process:")

    history = await raw_history(plain_client, driver.workflow_id)
    raw = history.SerializeToString()
    for secret in [PARTNER, VENUE, SUMMARY, "Jeyhun", chair, minister, *WRITTEN_BY_ACCORD]:
        assert secret.encode() not in raw, secret
    kinds = assert_all_encrypted(history)
    for kind in [
        "workflow_execution_started_event_attributes.input",
        "workflow_execution_started_event_attributes.header",
        "user_metadata.summary",  # static summary, activity and timer summaries
        "user_metadata.details",  # static details
        "workflow_execution_update_accepted_event_attributes.accepted_request",
        "workflow_execution_update_completed_event_attributes.outcome",
        "activity_task_scheduled_event_attributes.input",
        "activity_task_completed_event_attributes.result",
    ]:
        assert any(k.startswith(kind) for k in kinds), (kind, sorted(kinds))
    assert any(k.startswith("workflow_execution_update_accepted") and "header" in k for k in kinds)

    failed = await raw_history(plain_client, failed_id)
    [end] = [e for e in failed.events if e.HasField("workflow_execution_failed_event_attributes")]
    stored = end.workflow_execution_failed_event_attributes.failure
    assert stored.message == "Encoded failure" and stored.stack_trace == ""
    assert stored.encoded_attributes.metadata["encoding"] == ENCODING
    assert b"open_process" not in failed.SerializeToString()

    # With the keys everything reads back; without them, nothing decodes.
    codec_client = await settings.connect()
    description = await codec_client.get_workflow_handle(driver.workflow_id).describe()
    assert PARTNER in (await description.static_details() or "")
    [meeting] = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input
        for e in history.events
        if e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == "record_meeting"
    ]
    [decoded] = await codec_client.data_converter.decode(meeting.args.payloads, [dict])
    assert decoded["summary"] == SUMMARY
    with pytest.raises(Exception, match="encoding"):
        await plain_client.data_converter.decode(meeting.args.payloads, [dict])


async def test_rotation_a_new_worker_replays_history_encrypted_with_the_old_key(
    settings_for: Callable[..., TemporalSettings], running: Any, plain_client: Client
) -> None:
    old = ring("k1")
    rotated = KeyRing((("k2", b"\x05" * 32), *old.entries))
    async with running(settings_for(codec_keys=old)) as session:
        driver = Driver(session, f"rot-{uuid.uuid4().hex[:8]}")
        await driver.open()
        await driver.ok("log_contact", "2018-05-17", MFA_HEAD, venue=VENUE)
    # A fresh worker has no cached workflow: it replays the k1 history before deciding.
    async with running(settings_for(codec_keys=rotated)) as session:
        driver.session = session
        await driver.ok("submit_opinion", "2018-06-01", NB_CHAIR, recommendation="negotiate")
        status = await session.client.get_workflow_handle(driver.workflow_id).query("status")
        assert status["stage"] == "options_review"
    history = await raw_history(plain_client, driver.workflow_id)
    assert_all_encrypted(history)
    key_ids = {
        p.metadata[KEY_ID]
        for e in history.events
        for path, p in payloads_in(e)
        if KEY_ID in p.metadata
    }
    assert key_ids == {b"k1", b"k2"}
