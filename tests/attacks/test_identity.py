"""Identity from outside: without a valid token for its actor and its process, nothing gets in.

Tokens are required by default (the `worker` fixture is Accord's worker with the session's
key ring). The caller without a token is the plain `temporal` CLI; the caller with one
sends bare WorkflowService requests whose header and HS256 signature are built by hand,
as a service without Python would (`tests/attacks/raw.py`; the CLI has no header flag).
Every refusal is checked for zero change: the same store rows and the same history length.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date
from typing import Any

import pytest
from temporalio.client import Client, WorkflowContinuedAsNewError, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from cli.operations import open_payload
from cli.session import Session
from security.actor_binding import RULE
from security.keys import KeyRing
from store import EventStore
from tests.attacks import raw
from tests.workflows.builders import MFA_HEAD, NB_CHAIR, Driver, process_block

pytestmark = pytest.mark.attacks

MINUTE = 60
YEAR = 365 * 24 * 3600
CONSENT = {"actor": MFA_HEAD, "occurred_on": "2023-04-01", "tor_version": 1}
CONTACT = {"actor": MFA_HEAD, "occurred_on": "2018-05-17", "venue": "Baku"}


def pid(name: str) -> str:
    return f"idn-{name}-{uuid.uuid4().hex[:6]}"


def signed(keys: KeyRing, actor: dict[str, str], process: str, iat: int, exp: int) -> str:
    """A token signed by hand with the key: anything a holder of the key can make."""
    claims = {**actor, "process": process, "iat": iat, "exp": exp}
    return raw.hs256_token(claims, keys.current_id, keys.current)


def fresh(keys: KeyRing, actor: dict[str, str], process: str) -> str:
    now = int(time.time())
    return signed(keys, actor, process, now, now + 5 * MINUTE)


async def trace(client: Client, store: EventStore, workflow_id: str) -> dict[str, Any]:
    """What a refused command must leave as it was: store rows and the history's length."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return {
        "events": [(e.version, e.event_type, e.hash) for e in await store.read_stream(workflow_id)],
        "history_length": len(history.events),
    }


async def opened(session: Session, name: str) -> Driver:
    driver = Driver(session, pid(name))
    await driver.open()
    await driver.ok("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")  # waits for it
    return driver


async def test_a_raw_update_without_a_token_is_refused_and_writes_nothing(
    temporal_env: WorkflowEnvironment,
    session: Session,
    store: EventStore,
    plain_client: Client,
    actor_keys: KeyRing,
) -> None:
    driver = Driver(session, pid("consent"))
    await driver.open()
    await driver.to_mission_planning()  # the MFA's consent is now awaited: only identity stops it
    before = await trace(plain_client, store, driver.workflow_id)

    code, out, err = await raw.update(temporal_env, driver.workflow_id, "grant_consent", CONSENT)
    assert code != 0
    assert "not_allowed" in out + err and "no actor token" in out + err
    # The same over the bare API (what any SDK sends), without the header.
    bare = await raw.update_with_header(
        temporal_env, driver.workflow_id, "grant_consent", CONSENT, None
    )
    assert (bare.accepted, bare.code) == (False, "not_allowed")
    assert "no actor token" in bare.message and RULE in bare.message
    # A header that is not a token, or a token that is not a JSON string.
    for junk in ("", "x" * 5000, "a.b.c"):
        refused = await raw.update_with_header(
            temporal_env, driver.workflow_id, "grant_consent", CONSENT, junk
        )
        assert (refused.accepted, refused.code) == (False, "not_allowed")
        assert junk == "" or junk not in refused.message
    assert await trace(plain_client, store, driver.workflow_id) == before

    # Control: the same command with a valid token in the documented header is recorded.
    token = fresh(actor_keys, MFA_HEAD, driver.process_id)
    done = await raw.update_with_header(
        temporal_env, driver.workflow_id, "grant_consent", CONSENT, token
    )
    assert done.accepted, done
    assert [e["event_type"] for e in done.result["events"]] == ["ConsentGranted"]
    recorded = await store.read_stream(driver.workflow_id)
    assert token not in json.dumps([e.data for e in recorded], default=str)  # header only


async def test_a_token_for_one_process_is_refused_on_another(
    temporal_env: WorkflowEnvironment,
    session: Session,
    store: EventStore,
    plain_client: Client,
    actor_keys: KeyRing,
) -> None:
    a, b = await opened(session, "a"), await opened(session, "b")
    for_a = fresh(actor_keys, MFA_HEAD, a.process_id)
    before = await trace(plain_client, store, b.workflow_id)

    refused = await raw.update_with_header(
        temporal_env, b.workflow_id, "log_contact", CONTACT, for_a
    )
    assert (refused.accepted, refused.code) == (False, "not_allowed")
    assert "the token is for another process" in refused.message
    assert for_a not in refused.message
    assert await trace(plain_client, store, b.workflow_id) == before

    assert (
        await raw.update_with_header(temporal_env, a.workflow_id, "log_contact", CONTACT, for_a)
    ).accepted


@pytest.mark.parametrize(
    ("lifetime", "issued", "reason"),
    [
        # Minted by hand with the key: a century from now.
        (100 * YEAR, 0, "lifetime (exp - iat) exceeds the maximum of 3600 s"),
        # The cap dodged by moving iat up to an hour before a far expiry.
        (5 * MINUTE, 100 * YEAR, "token issued in the future"),
        # Issued a day ahead of the server's clock (far beyond the minute of skew).
        (5 * MINUTE, 24 * 3600, "token issued in the future"),
        # One second over the worker's maximum.
        (3600 + 1, 0, "lifetime (exp - iat) exceeds the maximum"),
    ],
)
async def test_long_lived_and_future_tokens_are_refused_by_the_worker(
    temporal_env: WorkflowEnvironment,
    session: Session,
    store: EventStore,
    plain_client: Client,
    actor_keys: KeyRing,
    lifetime: int,
    issued: int,
    reason: str,
) -> None:
    driver = await opened(session, "long")
    now = int(time.time())
    token = signed(actor_keys, MFA_HEAD, driver.process_id, now + issued, now + issued + lifetime)
    before = await trace(plain_client, store, driver.workflow_id)

    refused = await raw.update_with_header(
        temporal_env, driver.workflow_id, "log_contact", CONTACT, token
    )
    assert (refused.accepted, refused.code) == (False, "not_allowed")
    assert reason in refused.message and token not in refused.message
    assert await trace(plain_client, store, driver.workflow_id) == before


async def test_a_raw_start_without_a_token_fails_its_run_and_records_nothing(
    temporal_env: WorkflowEnvironment,
    worker: Any,
    task_queue: str,
    store: EventStore,
    plain_client: Client,
    actor_keys: KeyRing,
) -> None:
    process_id = pid("open")
    workflow_id = f"coop-{process_id}"
    start = {"open_process": open_payload(process_block(process_id), date(2018, 5, 17))}

    code, _, err = await raw.start(temporal_env, workflow_id, task_queue, start)
    assert code == 0, err  # a start is asynchronous: the run is refused, not the request
    cause = await _failure(plain_client, workflow_id)
    assert cause.type == "not_allowed" and "no actor token" in cause.message
    assert await store.read_stream(workflow_id) == []
    assert await store.stream_version(workflow_id) == 0

    # With a header whose token is for another process: refused the same way.
    other_id = pid("open")
    other = f"coop-{other_id}"
    other_start = {"open_process": open_payload(process_block(other_id), date(2018, 5, 17))}
    await raw.start_with_header(
        temporal_env, other, task_queue, other_start, fresh(actor_keys, NB_CHAIR, process_id)
    )
    cause = await _failure(plain_client, other)
    assert cause.type == "not_allowed" and "another process" in cause.message
    assert await store.read_stream(other) == []

    # Control: the chair's token for this process opens it (a new run on the same id).
    await raw.start_with_header(
        temporal_env, workflow_id, task_queue, start, fresh(actor_keys, NB_CHAIR, process_id)
    )
    for _ in range(100):
        if await store.stream_version(workflow_id) == 1:
            break
        await asyncio.sleep(0.1)
    assert [e.event_type for e in await store.read_stream(workflow_id)] == ["ProcessOpened"]


@pytest.mark.slow
async def test_a_cron_start_is_refused_even_with_a_valid_token(
    temporal_env: WorkflowEnvironment,
    worker: Any,
    task_queue: str,
    store: EventStore,
    plain_client: Client,
    actor_keys: KeyRing,
) -> None:
    # A cron's later runs carry the server's continuation mark: they must never open anything.
    process_id = pid("cron")
    workflow_id = f"coop-{process_id}"
    start = {"open_process": open_payload(process_block(process_id), date(2018, 5, 17))}
    token = fresh(actor_keys, NB_CHAIR, process_id)
    run_id = await raw.start_with_header(
        temporal_env, workflow_id, task_queue, start, token, cron_schedule="* * * * *"
    )
    handle = plain_client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        # A failed cron run fails and names the next run (the SDK reports that as
        # "continued as new"); the first run waits for the next minute: a slow test.
        with pytest.raises(WorkflowContinuedAsNewError):
            await handle.result(follow_runs=False)
        history = await handle.fetch_history()
        closed = history.events[-1].workflow_execution_failed_event_attributes
        info = closed.failure.application_failure_info
        assert info.type == "not_allowed" and "cron" in closed.failure.message
        assert await store.read_stream(workflow_id) == []
    finally:
        await plain_client.get_workflow_handle(workflow_id).terminate("test cleanup")


async def _failure(client: Client, workflow_id: str) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as failure:
        await client.get_workflow_handle(workflow_id).result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause
