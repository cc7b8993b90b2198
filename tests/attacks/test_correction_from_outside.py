"""correct_record from outside: a bare WorkflowService update with a valid token, as any
service holding one would send it (`tests/attacks/raw.py`). A correction the rules refuse
writes nothing: the same store rows and the same history length; a refusal names the
field and never quotes the rejected value. The original event is never rewritten.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from security.keys import KeyRing
from store import EventStore
from tests.attacks import raw
from tests.attacks.test_identity import fresh, trace
from tests.workflows.builders import ICMP_POLICY, MFA_HEAD, NB_CHAIR, Driver, opened

pytestmark = pytest.mark.attacks

SECRET = "Secret-Value-7f3a"


async def started_late(session: Session) -> tuple[Driver, int]:
    driver = await opened(session, "idn-correct")
    return driver, await driver.to_mission_started_late()


def correction(actor: dict[str, str], version: int, **fields: Any) -> dict[str, Any]:
    return {
        "actor": actor,
        "occurred_on": "2023-06-21",
        "version": version,
        "fields": fields,
        "reason": "The source gives another date",
    }


@pytest.mark.parametrize(
    ("actor", "version_offset", "fields", "code", "field"),
    [
        # Another party, with its own valid token: not the one that recorded the event.
        (MFA_HEAD, 0, {"occurred_on": "2023-06-05"}, "not_allowed", "actor.party"),
        # The chair may correct anything correctable, but never the opening.
        (NB_CHAIR, None, {"occurred_on": "2018-05-16"}, "guard_failed", "version"),
        # A field that identifies rather than describes.
        (ICMP_POLICY, 0, {"tor_version": 2}, "invalid_input", "fields.tor_version"),
        # A value of the wrong type: named, never quoted.
        (ICMP_POLICY, 0, {"note": [SECRET]}, "invalid_input", "fields.note"),
        # A corrected date before the event's previous neighbour (invariant 1).
        (ICMP_POLICY, 0, {"occurred_on": "2023-03-31"}, "out_of_order", "fields.occurred_on"),
        # A corrected date in the future.
        (ICMP_POLICY, 0, {"occurred_on": "2999-01-01"}, "invalid_input", "fields.occurred_on"),
        # A version the process does not have.
        (ICMP_POLICY, 100, {"note": "x"}, "invalid_input", "version"),
    ],
    ids=[
        "other-party",
        "opening",
        "identifying-field",
        "bad-value",
        "neighbour",
        "future",
        "unknown",
    ],
)
async def test_a_refused_correction_writes_nothing(
    temporal_env: WorkflowEnvironment,
    session: Session,
    store: EventStore,
    plain_client: Client,
    actor_keys: KeyRing,
    actor: dict[str, str],
    version_offset: int | None,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    driver, started = await started_late(session)
    version = 1 if version_offset is None else started + version_offset
    before = await trace(plain_client, store, driver.workflow_id)
    token = fresh(actor_keys, actor, driver.process_id)

    refused = await raw.update_with_header(
        temporal_env,
        driver.workflow_id,
        "correct_record",
        correction(actor, version, **fields),
        token,
    )

    assert (refused.accepted, refused.code) == (False, code), refused.message
    assert f"'{field}'" in refused.message or code in ("not_allowed", "guard_failed")
    assert SECRET not in refused.message
    assert await trace(plain_client, store, driver.workflow_id) == before


async def test_an_accepted_correction_leaves_the_original_event_as_recorded(
    temporal_env: WorkflowEnvironment,
    session: Session,
    store: EventStore,
    actor_keys: KeyRing,
) -> None:
    driver, started = await started_late(session)
    original = [(e.version, e.hash, e.data) for e in await store.read_stream(driver.workflow_id)]
    token = fresh(actor_keys, ICMP_POLICY, driver.process_id)
    accepted = await raw.update_with_header(
        temporal_env,
        driver.workflow_id,
        "correct_record",
        correction(ICMP_POLICY, started, occurred_on="2023-06-05"),
        token,
    )
    assert accepted.accepted, accepted.message
    after = await store.read_stream(driver.workflow_id)
    assert [(e.version, e.hash, e.data) for e in after[: len(original)]] == original
    assert [e.event_type for e in after[len(original) :]] == ["RecordCorrected"]
    assert (await store.verify(driver.workflow_id)).ok
