"""Another service, without Python: plain JSON payloads and a hand-signed actor token open a
process and send it commands, exactly as contracts/ and SECURITY.md describe them.

Commands need the token header `accord-actor-token`, which the `temporal` CLI (v1.5.1)
cannot send: the CLI is shown refused, and the service's requests go through the bare
WorkflowService API with payloads and header built by hand (`tests/attacks/raw.py`), as
any SDK or gRPC client in any language would send them."""

from __future__ import annotations

import time
import uuid

from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from security.keys import KeyRing
from store import EventStore
from tests.attacks import raw
from tests.workflows.builders import Driver, process_block
from workflows.contracts import CommandResult


def token(keys: KeyRing, actor: dict[str, str], process_id: str) -> str:
    """What the service's identity provider would issue: HS256, 5 minutes, this process."""
    now = int(time.time())
    claims = {**actor, "process": process_id, "iat": now, "exp": now + 300}
    return raw.hs256_token(claims, keys.current_id, keys.current)


async def test_another_service_opens_a_process_and_sends_commands_as_plain_json(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment, actor_keys: KeyRing
) -> None:
    process_id = f"az-icmp-cli-{uuid.uuid4().hex[:6]}"
    driver = Driver(session, process_id)
    chair = {"party": "national_body", "role": "chair"}
    mfa = {"party": "mfa", "role": "head"}
    open_process = {
        "actor": chair,
        "occurred_on": "2018-05-17",
        "process": process_block(process_id),
    }
    await raw.start_with_header(
        temporal_env,
        driver.workflow_id,
        session.task_queue,
        {"open_process": open_process},
        token(actor_keys, chair, process_id),
    )
    await driver.to_mission_planning()  # through the Python client, as any other caller
    before = await store.stream_version(driver.workflow_id)
    assert (await store.read_stream(driver.workflow_id))[0].event_type == "ProcessOpened"

    consent = {"actor": mfa, "occurred_on": "2023-04-10", "tor_version": 1}
    # The plain `temporal` CLI has no way to send the token: refused, nothing written.
    code, _, err = await raw.update(temporal_env, driver.workflow_id, "grant_consent", consent)
    assert code != 0 and "(type: not_allowed" in err and "no actor token" in err
    assert await store.stream_version(driver.workflow_id) == before

    outcome = await raw.update_with_header(
        temporal_env,
        driver.workflow_id,
        "grant_consent",
        consent,
        token(actor_keys, mfa, process_id),
    )
    assert outcome.accepted, outcome
    # The update's result (contracts/command_result.json): the events it recorded.
    result = CommandResult.model_validate(outcome.result)
    assert [(e.event_type, e.version) for e in result.events] == [("ConsentGranted", before + 1)]
    [recorded] = await store.read_stream(driver.workflow_id, after_version=before)
    assert recorded.event_type == "ConsentGranted"
    assert recorded.data["agency"] == "mfa" and recorded.data["tor_version"] == 1
    assert recorded.metadata.actor == mfa
    assert str(recorded.metadata.occurred_on) == "2023-04-10"

    # The partner may not consent for an agency: rejected with the domain's code (its own
    # valid token does not change what the policy allows), and nothing is written.
    partner = {"party": "partner", "role": "director_general"}
    outcome = await raw.update_with_header(
        temporal_env,
        driver.workflow_id,
        "grant_consent",
        {"actor": partner, "occurred_on": "2023-04-11", "tor_version": 1},
        token(actor_keys, partner, process_id),
    )
    assert (outcome.accepted, outcome.code) == (False, "not_allowed")
    # A payload the contract does not allow: invalid_input, naming the field.
    outcome = await raw.update_with_header(
        temporal_env,
        driver.workflow_id,
        "grant_consent",
        {"actor": mfa, "occurred_on": "2023-04-11", "tor": 1},
        token(actor_keys, mfa, process_id),
    )
    assert (outcome.accepted, outcome.code) == (False, "invalid_input")
    assert "tor" in outcome.message
    assert await store.stream_version(driver.workflow_id) == before + 1
