"""Actor binding on a real worker: with ACCORD_REQUIRE_ACTOR_TOKEN the workflow's validator
rejects forged actors with `not_allowed`, and nothing is written; without it, nothing changes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from cli.operations import CommandOutcome, start_process
from cli.session import Session
from security.actor_binding import RULE, ActorBinding, acting_as
from security.actor_token import mint_for
from security.keys import KeyConfigError, KeyRing
from tests.security.conftest import ring
from tests.workflows.builders import MFA_HEAD, NB_CHAIR, NB_SECRETARY, Driver, process_block
from workers.config import TemporalSettings

HOUR = timedelta(hours=1)


def token_for(actor: dict[str, Any], keys: KeyRing, **kw: Any) -> str:
    return mint_for(
        actor["party"], actor["role"], actor.get("name"), keys=keys, **{"ttl": HOUR, **kw}
    )


async def send_as(
    driver: Driver, token: str | None, name: str, actor: dict[str, Any], **fields: Any
) -> CommandOutcome:
    with acting_as(token):
        return await driver.send(name, "2018-05-17", actor, **fields)


def assert_refused(outcome: CommandOutcome, reason: str) -> None:
    assert not outcome.accepted
    assert outcome.code == "not_allowed", outcome
    assert outcome.field == "actor"
    assert outcome.message is not None and reason in outcome.message and RULE in outcome.message


async def opened(session: Session, keys: KeyRing) -> Driver:
    driver = Driver(session, f"sec-{uuid.uuid4().hex[:8]}")
    with acting_as(token_for(NB_CHAIR, keys)):
        await driver.open()
    for _ in range(100):  # the start is asynchronous: wait for ProcessOpened
        if await session.store.stream_version(driver.workflow_id) == 1:
            return driver
        await asyncio.sleep(0.1)
    raise AssertionError("the process was not opened")


async def test_forged_actors_are_refused_and_nothing_is_written(
    settings_for: Callable[..., TemporalSettings], running: Any
) -> None:
    keys = ring("k1")
    settings = settings_for(require_actor_token=True, actor_keys=keys)
    async with running(settings) as session:
        driver = await opened(session, keys)
        venue = {"venue": "The Hague"}
        version_before = await session.store.stream_version(driver.workflow_id)

        assert_refused(
            await send_as(driver, None, "log_contact", MFA_HEAD, **venue), "no actor token"
        )
        forged = token_for(MFA_HEAD, ring("k1"))  # right key id, wrong secret
        assert_refused(
            await send_as(driver, forged, "log_contact", MFA_HEAD, **venue), "bad signature"
        )
        stranger = token_for(MFA_HEAD, ring("k9"))
        assert_refused(
            await send_as(driver, stranger, "log_contact", MFA_HEAD, **venue), "unknown signing key"
        )
        expired = token_for(MFA_HEAD, keys, now=datetime.now(UTC) - 2 * HOUR)
        assert_refused(
            await send_as(driver, expired, "log_contact", MFA_HEAD, **venue), "token expired"
        )
        assert_refused(
            await send_as(driver, "not-a-token", "log_contact", MFA_HEAD, **venue), "malformed"
        )
        # A real token, used for another actor: the chair's token cannot speak for the MFA...
        chair = token_for(NB_CHAIR, keys)
        assert_refused(
            await send_as(driver, chair, "log_contact", MFA_HEAD, **venue), "another party"
        )
        # ...the secretary's cannot act as the chair, and a named token binds the name.
        secretary = token_for(NB_SECRETARY, keys)
        assert_refused(
            await send_as(
                driver, secretary, "submit_opinion", NB_CHAIR, recommendation="negotiate"
            ),
            "another role",
        )
        named = token_for({**MFA_HEAD, "name": "Jeyhun Bayramov"}, keys)
        impostor = {**MFA_HEAD, "name": "Someone Else"}
        assert_refused(
            await send_as(driver, named, "log_contact", impostor, **venue), "another name"
        )
        assert_refused(
            await send_as(driver, named, "log_contact", MFA_HEAD, **venue), "another name"
        )

        assert await session.store.stream_version(driver.workflow_id) == version_before

        # Happy path: the token matches the actor.
        ok = await send_as(driver, token_for(MFA_HEAD, keys), "log_contact", MFA_HEAD, **venue)
        assert ok.accepted, ok
        ok = await send_as(
            driver, named, "log_contact", {**MFA_HEAD, "name": "Jeyhun Bayramov"}, **venue
        )
        assert ok.accepted, ok
        # The token authenticates; the domain still authorizes (policy table, stages...).
        agency = await send_as(
            driver,
            token_for(MFA_HEAD, keys),
            "submit_opinion",
            MFA_HEAD,
            recommendation="negotiate",
        )
        assert agency.code == "not_allowed" and RULE not in (agency.message or "")
        # Malformed commands from an authenticated caller still get the domain's answer.
        bad = await send_as(
            driver, token_for(MFA_HEAD, keys), "log_contact", MFA_HEAD, venue="x", extra=1
        )
        assert bad.code == "invalid_input"


async def test_rotated_keys_old_tokens_still_accepted(
    settings_for: Callable[..., TemporalSettings], running: Any
) -> None:
    old = ring("k1")
    rotated = KeyRing((("k2", b"\x07" * 32), *old.entries))
    async with running(settings_for(require_actor_token=True, actor_keys=rotated)) as session:
        driver = await opened(session, old)
        for keys in (old, rotated):
            ok = await send_as(
                driver, token_for(MFA_HEAD, keys), "log_contact", MFA_HEAD, venue="Baku"
            )
            assert ok.accepted, ok


async def test_forged_opening_fails_the_workflow_before_anything_is_recorded(
    settings_for: Callable[..., TemporalSettings], running: Any
) -> None:
    keys = ring("k1")
    async with running(settings_for(require_actor_token=True, actor_keys=keys)) as session:
        process_id = f"sec-{uuid.uuid4().hex[:8]}"
        with acting_as(token_for(MFA_HEAD, keys)):  # an agency's token, the chair's command
            outcome = await start_process(
                session, process_block(process_id), default_on=datetime(2018, 5, 17).date()
            )
        assert outcome.accepted  # the start itself is asynchronous
        handle = session.client.get_workflow_handle(f"coop-{process_id}")
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "not_allowed"
        assert "another party" in cause.message
        assert await session.store.stream_version(f"coop-{process_id}") == 0


async def test_not_required_behaviour_is_unchanged(
    settings_for: Callable[..., TemporalSettings], running: Any
) -> None:
    # A client that sends a token to a worker that does not require one: ignored.
    settings = settings_for(actor_token=token_for(NB_CHAIR, ring("k1")))
    assert [type(i) for i in settings.interceptors()] == [ActorBinding]
    async with running(settings) as session:
        driver = Driver(session, f"sec-{uuid.uuid4().hex[:8]}")
        await driver.open()
        ok = await driver.send("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")
        assert ok.accepted, ok
    assert settings_for().interceptors() == []
    binding = ActorBinding(token="t")
    assert binding.workflow_interceptor_class(None) is None  # type: ignore[arg-type]


def test_requiring_tokens_needs_keys(settings_for: Callable[..., TemporalSettings]) -> None:
    with pytest.raises(KeyConfigError, match="ACCORD_ACTOR_KEYS"):
        settings_for(require_actor_token=True)
    with pytest.raises(KeyConfigError):
        ActorBinding(required=True)
