"""Actor binding on a real worker: tokens are always required. The workflow's validator
rejects forged actors, foreign processes, over-long and future-dated tokens with
`not_allowed`, and nothing is written; the client mints a short token per command."""

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
from security.actor_binding import HEADER, RULE, ActorBinding, acting_as
from security.actor_token import (
    ANY_PROCESS,
    COMMAND_TOKEN_TTL,
    ActorClaims,
    mint,
    mint_for,
    verify,
)
from security.keys import KeyConfigError, KeyRing
from store import EventStore
from tests.actor_keys import TEST_ACTOR_KEYS
from tests.security.conftest import ring
from tests.workflows.builders import MFA_HEAD, NB_CHAIR, NB_SECRETARY, Driver, process_block
from workers.config import TemporalSettings
from workers.main import build_worker

HOUR = timedelta(hours=1)


def token_for(actor: dict[str, Any], keys: KeyRing, process: str = ANY_PROCESS, **kw: Any) -> str:
    return mint_for(
        actor["party"],
        actor["role"],
        actor.get("name"),
        process=process,
        keys=keys,
        **{"ttl": HOUR, **kw},
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


async def opened(session: Session, keys: KeyRing | None = None) -> Driver:
    """A process opened by the chair (with a token from `keys`, else the minted one)."""
    driver = Driver(session, f"sec-{uuid.uuid4().hex[:8]}")
    if keys is None:
        await driver.open()
    else:
        with acting_as(token_for(NB_CHAIR, keys, driver.process_id)):
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
    async with running(settings_for(actor_keys=keys)) as session:
        driver = await opened(session, keys)
        other = await opened(session, keys)
        venue = {"venue": "The Hague"}
        versions_before = [
            await session.store.stream_version(d.workflow_id) for d in (driver, other)
        ]
        pid = driver.process_id

        def mfa(**kw: Any) -> str:
            return token_for(MFA_HEAD, keys, pid, **kw)

        refusals: list[tuple[str | None, dict[str, Any], str]] = [
            (None, MFA_HEAD, "no actor token"),
            (token_for(MFA_HEAD, ring("k1"), pid), MFA_HEAD, "bad signature"),  # same kid
            (token_for(MFA_HEAD, ring("k9"), pid), MFA_HEAD, "unknown signing key"),
            (mfa(now=datetime.now(UTC) - 2 * HOUR), MFA_HEAD, "token expired"),
            ("not-a-token", MFA_HEAD, "malformed"),
            # A real token for the right actor, on another process.
            (token_for(MFA_HEAD, keys, other.process_id), MFA_HEAD, "another process"),
            # Minted by hand with the key: a century, and issued a day ahead.
            (mfa(ttl=timedelta(days=36500)), MFA_HEAD, "lifetime"),
            (mfa(now=datetime.now(UTC) + timedelta(days=1)), MFA_HEAD, "in the future"),
            # A real token used for another actor: the chair's cannot speak for the MFA.
            (token_for(NB_CHAIR, keys, pid), MFA_HEAD, "another party"),
        ]
        for token, actor, reason in refusals:
            outcome = await send_as(driver, token, "log_contact", actor, **venue)
            assert_refused(outcome, reason)
            assert token is None or token not in (outcome.message or "")
        # ...the secretary's cannot act as the chair, and a named token binds the name.
        secretary = token_for(NB_SECRETARY, keys, pid)
        assert_refused(
            await send_as(
                driver, secretary, "submit_opinion", NB_CHAIR, recommendation="negotiate"
            ),
            "another role",
        )
        named = token_for({**MFA_HEAD, "name": "Jeyhun Bayramov"}, keys, pid)
        impostor = {**MFA_HEAD, "name": "Someone Else"}
        assert_refused(
            await send_as(driver, named, "log_contact", impostor, **venue), "another name"
        )
        assert_refused(
            await send_as(driver, named, "log_contact", MFA_HEAD, **venue), "another name"
        )

        versions_after = [
            await session.store.stream_version(d.workflow_id) for d in (driver, other)
        ]
        assert versions_after == versions_before

        # Happy paths: a token for this process, one for any process (service accounts).
        for token in (mfa(), token_for(MFA_HEAD, keys, ANY_PROCESS)):
            ok = await send_as(driver, token, "log_contact", MFA_HEAD, **venue)
            assert ok.accepted, ok
        ok = await send_as(
            driver, named, "log_contact", {**MFA_HEAD, "name": "Jeyhun Bayramov"}, **venue
        )
        assert ok.accepted, ok
        # The token authenticates; the domain still authorizes (policy table, stages...).
        agency = await send_as(
            driver, mfa(), "submit_opinion", MFA_HEAD, recommendation="negotiate"
        )
        assert agency.code == "not_allowed" and RULE not in (agency.message or "")
        # Malformed commands from an authenticated caller still get the domain's answer.
        bad = await send_as(driver, mfa(), "log_contact", MFA_HEAD, venue="x", extra=1)
        assert bad.code == "invalid_input"


async def test_the_client_mints_a_short_token_per_command_for_its_actor_and_process(
    settings_for: Callable[..., TemporalSettings], running: Any
) -> None:
    async with running(settings_for()) as session:  # the session's ring, nothing else given
        driver = await opened(session)
        for actor in (MFA_HEAD, {**MFA_HEAD, "name": "Jeyhun Bayramov"}):
            ok = await driver.send("log_contact", "2018-05-17", actor, venue="Baku")
            assert ok.accepted, ok
        # A command whose actor cannot be read still gets the domain's invalid_input.
        bad = await send_command_without_actor(driver)
        assert bad.code == "invalid_input" and bad.field is not None and "actor" in bad.field
        # What went out: the opening's header holds a token for the chair, on this process,
        # living the command TTL.
        history = await session.client.get_workflow_handle(driver.workflow_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        token = _header_token(started.header.fields[HEADER].data)
        claims = verify(token, TEST_ACTOR_KEYS, datetime.fromtimestamp(_iat(token), UTC))
        assert claims.identity() == ("national_body", "chair", None)
        assert claims.process == driver.process_id
        assert claims.exp - claims.iat == COMMAND_TOKEN_TTL.total_seconds()


async def send_command_without_actor(driver: Driver) -> CommandOutcome:
    from cli.operations import send_command

    return await send_command(
        driver.session,
        driver.workflow_id,
        "log_contact",
        {"occurred_on": "2018-05-17", "venue": "Baku"},
    )


def _header_token(data: bytes) -> str:
    import json

    token = json.loads(data)
    assert isinstance(token, str)
    return token


def _iat(token: str) -> int:
    import base64
    import json

    claims = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["iat"])


async def test_the_worker_enforces_its_configured_maximum_lifetime(
    settings_for: Callable[..., TemporalSettings], running: Any
) -> None:
    keys = ring("k1")
    settings = settings_for(actor_keys=keys, token_max_lifetime=timedelta(minutes=2))
    async with running(settings) as session:
        driver = await opened(session)  # the client mints within the cap (2 minutes)
        ten_minutes = token_for(MFA_HEAD, keys, driver.process_id, ttl=timedelta(minutes=10))
        before = await session.store.stream_version(driver.workflow_id)
        outcome = await send_as(driver, ten_minutes, "log_contact", MFA_HEAD, venue="Baku")
        assert_refused(outcome, "lifetime")
        assert "120 s" in (outcome.message or "")
        assert await session.store.stream_version(driver.workflow_id) == before
        ok = await driver.send("log_contact", "2018-05-17", MFA_HEAD, venue="Baku")
        assert ok.accepted, ok


async def test_rotated_keys_old_tokens_still_accepted(
    settings_for: Callable[..., TemporalSettings], running: Any
) -> None:
    old = ring("k1")
    rotated = KeyRing((("k2", b"\x07" * 32), *old.entries))
    async with running(settings_for(actor_keys=rotated)) as session:
        driver = await opened(session, old)
        for keys in (old, rotated):
            token = token_for(MFA_HEAD, keys, driver.process_id)
            ok = await send_as(driver, token, "log_contact", MFA_HEAD, venue="Baku")
            assert ok.accepted, ok


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda keys, pid: token_for(MFA_HEAD, keys, pid), "another party"),
        (lambda keys, pid: None, "no actor token"),
        (lambda keys, pid: token_for(NB_CHAIR, keys, "sec-another"), "another process"),
        (
            lambda keys, pid: mint(
                ActorClaims("national_body", "chair", pid, 0, 4_000_000_000), keys
            ),
            "lifetime",
        ),
    ],
)
async def test_a_refused_opening_fails_the_run_before_anything_is_recorded(
    settings_for: Callable[..., TemporalSettings],
    running: Any,
    token: Callable[[KeyRing, str], str | None],
    reason: str,
) -> None:
    keys = ring("k1")
    async with running(settings_for(actor_keys=keys)) as session:
        process_id = f"sec-{uuid.uuid4().hex[:8]}"
        with acting_as(token(keys, process_id)):
            outcome = await start_process(
                session, process_block(process_id), default_on=datetime(2018, 5, 17).date()
            )
        assert outcome.accepted  # the start itself is asynchronous
        handle = session.client.get_workflow_handle(f"coop-{process_id}")
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "not_allowed"
        assert reason in cause.message and RULE in cause.message
        assert await session.store.stream_version(f"coop-{process_id}") == 0


async def test_a_worker_without_actor_keys_refuses_to_start(
    settings_for: Callable[..., TemporalSettings], store: EventStore
) -> None:
    settings = settings_for(actor_keys=None)
    [binding] = settings.interceptors()
    assert isinstance(binding, ActorBinding)
    client = await settings.connect()  # a client may still send a given token...
    with pytest.raises(KeyConfigError, match="ACCORD_ACTOR_KEYS"):
        build_worker(client, store, settings.task_queue)  # ...a worker cannot check any
    assert "token=set" in repr(ActorBinding(token="secret-token"))
    assert "secret-token" not in repr(ActorBinding(token="secret-token"))


async def test_a_name_with_surrounding_spaces_is_the_name_the_domain_reads(
    session: Session, store: EventStore
) -> None:
    """The domain strips text; the minted token must name the same (stripped) person."""
    from tests.workflows.builders import MFA_HEAD, Driver

    p = Driver(session, f"strip-{uuid.uuid4().hex[:6]}")
    await p.open()
    outcome = await p.send(
        "log_contact", "2018-05-17", {**MFA_HEAD, "name": "  Elnur Mammadov "}, venue="The Hague"
    )
    assert outcome.accepted, outcome
    [event] = [e for e in await store.read_stream(p.workflow_id) if e.event_type == "ContactLogged"]
    assert event.metadata.actor == {**MFA_HEAD, "name": "Elnur Mammadov"}


def test_deeply_nested_json_is_not_a_crash() -> None:
    from security.actor_binding import _mapping

    assert _mapping(b"[" * 100_000 + b"]" * 100_000) is None
