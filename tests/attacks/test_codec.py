"""Finding 7: with encryption on, plaintext sent by a caller without keys is refused.

The worker runs with codec keys. The callers have none: a Python client with a valid
actor token but no codec (a program with an identity, misconfigured, or a stolen token),
and the raw `temporal` CLI (which cannot send a token either). Each attack asserts the
refusal, that nothing reached the event store, and that the Temporal history holds none of
what was sent (updates: refused in the validator) or only what the server itself recorded
before any worker saw it (starts and signals), with no failed workflow task: a refusal is
an answer, never a task retried for ever that blocks the process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import HeaderCodecBehavior
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, EncodingPayloadConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from cli.operations import open_payload
from cli.session import Session
from security.actor_binding import ActorBinding
from security.codec import AesGcmCodec, data_converter
from security.codec_server import CodecServer
from security.keys import KeyRing
from store import EventStore
from tests.actor_keys import TEST_ACTOR_KEYS
from tests.attacks import raw
from tests.security.test_encrypted_history import raw_history
from tests.workflows.builders import MFA_HEAD, Driver, process_block
from workers.config import TemporalSettings
from workers.main import build_worker

VENUE = "OKAPI-7311 Embassy"  # what the attacker sends: must never be found in the history
UNENCRYPTED = "input: unencrypted payload refused"
TOKEN = "codec-server-token-for-the-test"
WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


@dataclass
class Encrypted:
    session: Session
    keys: KeyRing
    plain: Client  # no codec: sees exactly what the server stores


class _Opaque(EncodingPayloadConverter):
    """Reads what it cannot decrypt as bytes: the failures the worker sends back carry
    encrypted details, and the plain SDK would raise on them before showing the error."""

    @property
    def encoding(self) -> str:
        return "binary/encrypted"

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        return payload.data


class _KeylessConverter(PydanticPayloadConverter):
    def __init__(self) -> None:
        super().__init__()
        self._set_converters(*self.converters.values(), _Opaque())


async def encrypted_worker(
    env: WorkflowEnvironment, store: EventStore, *, accept_plaintext: bool = False
) -> AsyncIterator[Encrypted]:
    """A worker and a client with codec keys, on their own task queue; a keyless client."""
    keys = KeyRing((("k1", os.urandom(32)),))
    address = env.client.service_client.config.target_host
    settings = TemporalSettings(
        address=address,
        namespace="default",
        task_queue=f"accord-enc-{uuid.uuid4().hex[:8]}",
        codec_keys=keys,
        actor_keys=TEST_ACTOR_KEYS,
    )
    if accept_plaintext:  # the migration setting, only to show what the refusal prevents
        client = await Client.connect(
            address,
            data_converter=data_converter(keys, accept_plaintext=True),
            interceptors=settings.interceptors(),
            header_codec_behavior=HeaderCodecBehavior.CODEC,
        )
    else:
        client = await settings.connect()
    # Mints a valid token for each command, as the CLI does; has no codec.
    plain = await Client.connect(
        address,
        data_converter=DataConverter(payload_converter_class=_KeylessConverter),
        interceptors=[ActorBinding(keys=TEST_ACTOR_KEYS)],
    )
    async with build_worker(client, store, settings.task_queue):
        session = Session(client=client, store=store, task_queue=settings.task_queue, embedded=None)
        yield Encrypted(session, keys, plain)


@pytest.fixture
async def encrypted(
    temporal_env: WorkflowEnvironment, store: EventStore
) -> AsyncIterator[Encrypted]:
    async for target in encrypted_worker(temporal_env, store):
        yield target


@pytest.fixture
async def migrating(
    temporal_env: WorkflowEnvironment, store: EventStore
) -> AsyncIterator[Encrypted]:
    async for target in encrypted_worker(temporal_env, store, accept_plaintext=True):
        yield target


async def opened(target: Encrypted) -> Driver:
    """An open process whose history has settled (its opening recorded, no task pending)."""
    driver = Driver(target.session, f"enc-atk-{uuid.uuid4().hex[:8]}")
    await driver.open()
    for _ in range(100):
        history = await raw_history(target.plain, driver.workflow_id)
        types = event_types(history)
        tasks = [t for t in types if t in WORKFLOW_TASK_EVENTS]
        if tasks[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and types.count(
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ) == types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED):
            return driver
        await asyncio.sleep(0.1)
    raise AssertionError(f"{driver.workflow_id}: the opening did not settle")


def log_contact() -> dict[str, object]:
    return {"actor": MFA_HEAD, "occurred_on": "2018-05-18", "venue": VENUE}


def event_types(history: History) -> list[int]:
    return [event.event_type for event in history.events]


async def settled(client: Client, workflow_id: str, after: int) -> History:
    """The history once the workflow task that follows event `after` has completed."""
    for _ in range(100):
        history = await raw_history(client, workflow_id)
        types = event_types(history)[after:]
        if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in types or (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED in types
        ):
            return history
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id}: no workflow task completed after event {after}")


def refused_as_unencrypted(cause: BaseException | None) -> None:
    """The worker's answer to plaintext: invalid input, said so in words a keyless caller
    can read."""
    assert isinstance(cause, ApplicationError)
    assert cause.type == "invalid_input"
    assert cause.message.startswith(UNENCRYPTED)


async def keyless_contact_is_refused(handle: WorkflowHandle[Any, Any]) -> None:
    """A `log_contact` update sent in plaintext (no codec): refused in the validator."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("log_contact", log_contact())
    refused_as_unencrypted(refused.value.cause)


def no_failed_task(history: History) -> None:
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in event_types(history)


async def test_plaintext_update_from_a_client_without_keys_is_refused_and_leaves_no_trace(
    encrypted: Encrypted, temporal_env: WorkflowEnvironment
) -> None:
    driver = await opened(encrypted)
    before = await raw_history(encrypted.plain, driver.workflow_id)
    recorded = await encrypted.session.store.read_stream(driver.workflow_id)

    # With a valid actor token (its header as unencrypted as the command): refused for
    # being unencrypted, before the token check, and told so without keys.
    handle = encrypted.plain.get_workflow_handle(driver.workflow_id)
    await keyless_contact_is_refused(handle)
    # The raw CLI: no token, no codec.
    code, out, err = await raw.update(
        temporal_env, driver.workflow_id, "log_contact", log_contact()
    )
    assert code != 0 and "invalid_input" in out + err and UNENCRYPTED in out + err
    assert VENUE not in out + err

    after = await raw_history(encrypted.plain, driver.workflow_id)
    assert VENUE.encode() not in after.SerializeToString()
    assert len(after.events) == len(before.events)  # refused in the validator: no events
    assert await encrypted.session.store.read_stream(driver.workflow_id) == recorded
    # The process is not stuck: an encrypted command still goes through.
    await driver.ok("log_contact", "2018-05-18", MFA_HEAD, venue="The Hague")
    no_failed_task(await raw_history(encrypted.plain, driver.workflow_id))


async def test_without_the_refusal_the_same_update_would_be_recorded_in_plaintext(
    migrating: Encrypted,
) -> None:
    """The contrast (finding 7 as it was): a worker that lets plaintext through, as
    `ACCORD_CODEC_ACCEPT_PLAINTEXT=1` does for old histories, executes the keyless update
    and the history holds its body in clear."""
    driver = await opened(migrating)
    handle = migrating.plain.get_workflow_handle(driver.workflow_id)
    await handle.execute_update("log_contact", log_contact())
    [_, contact] = await migrating.session.store.read_stream(driver.workflow_id)
    assert contact.data["venue"] == VENUE
    history = await raw_history(migrating.plain, driver.workflow_id)
    assert VENUE.encode() in history.SerializeToString()


async def test_the_keyless_caller_is_told_why_in_plaintext(
    encrypted: Encrypted, temporal_env: WorkflowEnvironment
) -> None:
    """The caller has no keys: the refusal must name the rule and be readable without them."""
    driver = await opened(encrypted)
    handle = encrypted.plain.get_workflow_handle(driver.workflow_id)
    await keyless_contact_is_refused(handle)
    process_id = f"enc-start-{uuid.uuid4().hex[:8]}"
    body = {"open_process": open_payload(process_block(process_id), date(2018, 5, 17))}
    handle = await encrypted.plain.start_workflow(
        "CooperationProcess", body, id=f"coop-{process_id}", task_queue=driver.session.task_queue
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    refused_as_unencrypted(failed.value.cause)


async def test_forged_ciphertext_is_refused_without_failing_a_workflow_task(
    encrypted: Encrypted, temporal_env: WorkflowEnvironment
) -> None:
    """Bytes labelled `binary/encrypted` by someone without the key: refused, never a task
    failure (which Temporal would retry, blocking the process)."""
    driver = await opened(encrypted)
    before = await raw_history(encrypted.plain, driver.workflow_id)
    for kid in ("k1", "k0"):
        code, out, err = await raw.temporal(
            temporal_env,
            *("workflow", "update", "execute", "--workflow-id", driver.workflow_id),
            *("--name", "log_contact", "--input-base64"),
            *("--input", base64.b64encode(os.urandom(64)).decode()),
            *("--input-meta", "encoding=binary/encrypted"),
            *("--input-meta", f"encryption-key-id={kid}"),
        )
        assert code != 0 and "invalid_input" in out + err, (kid, out, err)
        reason = "failed authentication" if kid == "k1" else "a key this worker does not hold"
        assert f"{reason} (key id '{kid}')" in out + err
    after = await raw_history(encrypted.plain, driver.workflow_id)
    assert len(after.events) == len(before.events)
    no_failed_task(after)
    assert len(await encrypted.session.store.read_stream(driver.workflow_id)) == 1


async def test_plaintext_start_fails_the_run_before_anything_is_recorded(
    encrypted: Encrypted, temporal_env: WorkflowEnvironment
) -> None:
    """Temporal records a start before any worker sees it; the worker refuses it as the
    run's first act, before the token check: the run fails `invalid_input` with a reason
    readable without keys, nothing is in the store, and no workflow task failed."""
    task_queue = encrypted.session.task_queue
    starts = []
    # The raw CLI...
    process_id = f"enc-start-{uuid.uuid4().hex[:8]}"
    block = {**process_block(process_id), "country": VENUE}
    body = {"open_process": open_payload(block, date(2018, 5, 17))}
    code, _, err = await raw.start(temporal_env, f"coop-{process_id}", task_queue, body)
    assert code == 0, err
    starts.append(process_id)
    # ...and a plain Python client.
    process_id = f"enc-start-{uuid.uuid4().hex[:8]}"
    block = {**process_block(process_id), "country": VENUE}
    body = {"open_process": open_payload(block, date(2018, 5, 17))}
    await encrypted.plain.start_workflow(
        "CooperationProcess", body, id=f"coop-{process_id}", task_queue=task_queue
    )
    starts.append(process_id)

    for process_id in starts:
        workflow_id = f"coop-{process_id}"
        for client in (encrypted.plain, encrypted.session.client):
            with pytest.raises(WorkflowFailureError) as failed:
                await client.get_workflow_handle(workflow_id).result()
            cause = failed.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == "invalid_input"
            assert cause.message.startswith(UNENCRYPTED) and VENUE not in cause.message
        history = await raw_history(encrypted.plain, workflow_id)
        no_failed_task(history)
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in event_types(history)
        assert await encrypted.session.store.read_stream(workflow_id) == []


async def test_plaintext_signal_is_dropped(
    encrypted: Encrypted, temporal_env: WorkflowEnvironment
) -> None:
    """A forged timer report in plaintext: Temporal records the signal, the worker drops
    it (nothing decided, nothing recorded) and the process carries on."""
    driver = await opened(encrypted)
    before = await raw_history(encrypted.plain, driver.workflow_id)
    fired = {
        "command": "dormancy_due",
        "data": {"actor": {"party": "system", "role": "timer"}, "occurred_on": "2018-05-18"},
    }
    code, _, err = await raw.signal(temporal_env, driver.workflow_id, "timer_fired", fired)
    assert code == 0, err
    history = await settled(encrypted.plain, driver.workflow_id, len(before.events))
    no_failed_task(history)
    assert len(await encrypted.session.store.read_stream(driver.workflow_id)) == 1
    status = await encrypted.session.client.get_workflow_handle(driver.workflow_id).query("status")
    assert status["stage"] == "contact"
    await driver.ok("log_contact", "2018-05-18", MFA_HEAD, venue="The Hague")


def payload_texts(output: str) -> str:
    """Every payload's data in `temporal ... --output json` (base64 there), decoded."""
    found: list[bytes] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict) and isinstance(node.get("data"), str):
                found.append(base64.b64decode(node["data"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(output))
    assert found, "no payloads in the output"
    return b"\n".join(found).decode("utf-8", "replace")


async def test_the_raw_cli_reads_history_through_the_codec_server(
    encrypted: Encrypted, temporal_env: WorkflowEnvironment
) -> None:
    """Operators without Python read a process with the `temporal` CLI and the codec
    server; without it, or with a wrong token, they see ciphertext only."""
    driver = await opened(encrypted)
    await driver.ok("log_contact", "2018-05-18", MFA_HEAD, venue=VENUE)
    show = ("workflow", "show", "--workflow-id", driver.workflow_id)
    code, out, err = await raw.temporal(temporal_env, *show)
    assert code == 0, err
    assert VENUE not in payload_texts(out)
    server = CodecServer(AesGcmCodec(encrypted.keys), TOKEN, port=0).start()
    try:
        codec = ("--codec-endpoint", server.url, "--codec-auth", f"Bearer {TOKEN}")
        code, out, err = await raw.temporal(temporal_env, *show, *codec)
        assert code == 0, err
        assert VENUE in payload_texts(out)
        code, out, err = await raw.temporal(
            temporal_env, *show, "--codec-endpoint", server.url, "--codec-auth", "Bearer wrong"
        )
        assert code != 0 and VENUE not in out + err
    finally:
        server.stop()
