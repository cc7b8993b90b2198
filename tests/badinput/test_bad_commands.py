"""Bad commands through the real update path: each is refused with its code, and leaves no trace.

Every category of bad input is tried from outside, as raw update payloads
(`execute_update(name, payload)`) exactly as any Temporal client could send them, to
processes held at different stages:

- what only the workflow decides, at full budget: the update's envelope (no argument, two
  arguments, open_process on an open process), a finished process (`terminal`: the update
  fails at the RPC level and the CLI answers `terminal`), and payloads above the size
  rule (they travel the gRPC path and the codec before the domain refuses them);
- a thin sample (`SAMPLE` examples per category and form) of the categories `parse_command`
  and `decide` refuse on their own. Their full budgets run in the domain layer,
  tests/domain/test_domain_bad_input.py, from the same strategies (tests/domain/
  bad_input.py): here they show each way in still reaches the domain's answer unchanged.

Each case must come back as an `ApplicationError` whose type is the expected domain code
and whose message (at most 300 characters) and `field` name the field or the rule; a
finished process must answer `terminal`. The domain on its own gives the same code.
Afterwards no process has changed: same workflow history length, same stream version and
events, same projection.

Hypothesis runs in a worker thread and hands each case to the test's event loop: that way
one async test can set the processes up once, run every category against them, and check
the whole record at the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from cli.operations import send_command
from cli.session import Session
from domain import decode_event, fold
from domain.parties import ProcessConfig
from domain.stages import Stage
from domain.state import ProcessState
from readmodel.projections import Projections
from security.actor_binding import acting_as
from store import EventStore
from tests.actor_keys import token_for
from tests.domain.bad_input import (
    CATEGORIES,
    PUBLIC,
    SAFE_TEXT,
    BadInput,
    Case,
    Raw,
    actors,
    check,
    dates_from,
    forms_of,
    payload,
    refusal,
    today,
)
from tests.workflows.builders import ICMP_DG, MFA_HEAD, Driver

# -- the processes under test ----------------------------------------------------------


@dataclass
class Target:
    """A process at a known stage, and everything that must not change about it."""

    name: str
    workflow_id: str
    state: ProcessState
    history_length: int
    events: list[Any]
    view: dict[str, Any] | None

    @property
    def stage(self) -> Stage:
        assert self.state.stage is not None
        return self.state.stage

    @property
    def config(self) -> ProcessConfig:
        assert self.state.config is not None
        return self.state.config

    @property
    def last(self) -> date:
        assert self.state.last_occurred_on is not None
        return self.state.last_occurred_on.earliest


async def history_length(client: Client, workflow_id: str) -> int:
    return len((await client.get_workflow_handle(workflow_id).fetch_history()).events)


async def settled(client: Client, workflow_id: str, within: float = 60.0) -> None:
    """Wait until the workflow has no task or activity pending: its history stops growing.

    An accepted command's update completes before the workflow task that follows it (the
    opening is recorded after the start call returns), so the baseline is taken only once
    nothing is left to run."""
    handle = client.get_workflow_handle(workflow_id)
    deadline = time.monotonic() + within
    while True:
        raw = (await handle.describe()).raw_description
        idle = not raw.HasField("pending_workflow_task") and not raw.pending_activities
        if idle and raw.workflow_execution_info.history_length > 2:  # past the first task
            return
        assert time.monotonic() < deadline, f"{workflow_id} did not settle"
        await asyncio.sleep(0.2)


async def snapshot(session: Session, store: EventStore, name: str, workflow_id: str) -> Target:
    await settled(session.client, workflow_id)
    events = await store.read_stream(workflow_id)
    state = fold(decode_event(e.event_type, e.schema_version, e.data) for e in events)
    return Target(
        name=name,
        workflow_id=workflow_id,
        state=state,
        history_length=await history_length(session.client, workflow_id),
        events=events,
        view=await Projections(store).view(workflow_id),
    )


async def build_targets(session: Session, store: EventStore) -> dict[str, Target]:
    async def build(name: str, steps: Callable[[Driver], Coroutine[Any, Any, None]]) -> Target:
        driver = Driver(session, f"bad-{name.replace('_', '-')}-{uuid.uuid4().hex[:6]}")
        await driver.open()
        await steps(driver)
        return await snapshot(session, store, name, driver.workflow_id)

    async def nothing(d: Driver) -> None:
        return None

    async def options_review(d: Driver) -> None:
        await d.ok("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")

    async def withdrawn(d: Driver) -> None:
        await options_review(d)
        await d.ok("withdraw", "2018-06-01", ICMP_DG, reason="No mandate")
        # The workflow completes once the withdrawal is recorded.
        await session.client.get_workflow_handle(d.workflow_id).result()

    built = await asyncio.gather(
        build("contact", nothing),
        build("options_review", options_review),
        build("negotiating", Driver.to_negotiating),
        build("instrument_signed", Driver.to_instrument_signed),
        build("mission_planning", Driver.to_mission_planning),
        build("under_review", Driver.to_under_review),
        build("withdrawn", withdrawn),
    )
    targets = {t.name: t for t in built}
    for name, target in targets.items():
        assert str(target.stage) == name, (name, target.stage)
    return targets


# -- what only the workflow decides -------------------------------------------------------

LIVE = ["contact", "options_review", "negotiating", "instrument_signed"]
LIVE += ["mission_planning", "under_review"]

# The update's envelope, read by the workflow before the domain sees a command
# (workflows/intake.py `parse_update`).
ENVELOPE = ("no_argument", "two_arguments", "open_again")


class PathCases:
    """The categories only a running process can answer."""

    def __init__(self, targets: dict[str, Target]) -> None:
        self.targets = targets
        self.live = [targets[n] for n in LIVE]

    def envelope(self, form: str | None) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target = draw(st.sampled_from(self.live))
            command = draw(st.sampled_from(PUBLIC))
            body = payload(command, draw(st.sampled_from(actors(target.config))), target.last)
            kind = form or draw(st.sampled_from(ENVELOPE))
            if kind == "open_again":
                # open_process on an open process: refused before the payload is even read.
                args: tuple[Any, ...] = (body,)
                return Case(
                    "envelope", target.name, "open_process", args, "wrong_stage", "command",
                    "already", form=kind,
                )  # fmt: skip
            args = () if kind == "no_argument" else (body, body)
            return Case(
                "envelope", target.name, command, args, "invalid_input", "input",
                "one JSON object", form=kind,
            )  # fmt: skip

        return build()

    def terminal(self, form: str | None) -> st.SearchStrategy[Case]:
        """A withdrawn process: whatever is sent, valid or not, it accepts nothing."""
        withdrawn = self.targets["withdrawn"]

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            command = draw(st.sampled_from(PUBLIC))
            actor = draw(st.sampled_from(actors(withdrawn.config)))
            body = payload(command, actor, draw(dates_from(withdrawn.last)))
            if draw(st.booleans()):
                body["unexpected"] = draw(st.text(SAFE_TEXT, max_size=10))
            return Case("terminal", "withdrawn", command, (body,), "terminal", None, "terminal")

        return build()


FORMS = {"envelope": ENVELOPE}


# -- sending and checking ----------------------------------------------------------------


def sent(arg: Any) -> Any:
    """`Raw` bytes go as they are, labelled JSON: what a client with a broken encoder sends."""
    if isinstance(arg, Raw):
        return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=arg.data))
    return arg


async def send(session: Session, target: Target, case: Case) -> tuple[str, str, str | None]:
    """(code, message, field) of a rejected case; fails the test if it was accepted."""
    args = [sent(arg) for arg in case.args]
    if case.code == "terminal":
        # An update to a completed workflow fails at the RPC level; the CLI (and any
        # client) maps that to `terminal` after checking the workflow has finished.
        handle = session.client.get_workflow_handle(target.workflow_id)
        try:
            await handle.execute_update(case.name, args=args)
        except RPCError:
            pass
        else:
            raise AssertionError(f"accepted by a finished process: {case}")
        outcome = await send_command(session, target.workflow_id, case.name, case.args[0])
        assert not outcome.accepted
        return str(outcome.code), outcome.message or "", outcome.field
    handle = session.client.get_workflow_handle(target.workflow_id)
    # Raw bytes get a valid token of their own: the client would mint one from the actor
    # it reads in them, and its JSON reader gives up on the deepest nestings. The worker
    # checks the actor only of a command it can parse; the others are invalid_input.
    raw_bytes = any(isinstance(arg, Raw) for arg in case.args)
    token = token_for(MFA_HEAD, target.workflow_id) if raw_bytes else None
    try:
        if token is not None:
            with acting_as(token):
                await handle.execute_update(case.name, args=args)
        else:
            await handle.execute_update(case.name, args=args)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        assert isinstance(cause, ApplicationError), (case, cause)
        details = cause.details[0] if cause.details else {}
        assert isinstance(details, dict), details
        return str(cause.type), cause.message, details.get("field")
    raise AssertionError(f"accepted: {case}")


def local_agrees(target: Target, case: Case, code: str) -> None:
    """Where the domain decides the case on its own, it gives the same code."""
    if case.category in CATEGORIES:
        assert refusal(target.state, case, today()).code == code, case


# -- the test ------------------------------------------------------------------------------

# A rejection takes milliseconds; a case without an answer was accepted and is stuck.
CASE_TIMEOUT = 20

# Examples of what only the workflow decides, split between a category's forms.
BUDGET = {"envelope": 45, "terminal": 50, "too_large": 20}
# Examples per form of every category the domain decides alone (the domain layer runs
# about 1,100 of them): enough to try each way in from outside.
SAMPLE = 3


async def test_bad_commands_are_refused_and_leave_no_trace(
    session: Session, store: EventStore
) -> None:
    targets = await build_targets(session, store)
    domain = BadInput({name: targets[name].state for name in LIVE})
    path = PathCases(targets)
    strategies: dict[str, Callable[[str | None], st.SearchStrategy[Case]]] = {
        "envelope": path.envelope,
        "terminal": path.terminal,
        **{c: functools.partial(domain.strategy, c) for c in CATEGORIES},
    }
    runs: list[tuple[str, st.SearchStrategy[Case], int]] = []
    for category, cases in strategies.items():
        forms = FORMS.get(category) or forms_of(category)
        for form in forms:
            budget = max(SAMPLE, BUDGET[category] // len(forms)) if category in BUDGET else SAMPLE
            label = f"{category}/{form}" if form else category
            runs.append((label, cases(form), budget))
    loop = asyncio.get_running_loop()
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()

    async def run_case(label: str, case: Case) -> None:
        target = targets[case.target]
        code, message, field = await send(session, target, case)
        check(case, code, message, field)
        local_agrees(target, case, code)
        # Cheap per-case checks; the full record is compared once at the end.
        assert await store.stream_version(target.workflow_id) == target.state.version, case
        description = await session.client.get_workflow_handle(target.workflow_id).describe()
        assert description.history_length == target.history_length, case
        counts[label] += 1
        codes[code] += 1

    def run(label: str, strategy: st.SearchStrategy[Case], budget: int) -> None:
        @settings(
            max_examples=budget,
            deadline=None,
            database=None,
            # No shrinking: a failing case may have changed or blocked a shared process,
            # so re-running variations of it would only report noise. The first one counts.
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(case=strategy)
        def prop(case: Case) -> None:
            future = asyncio.run_coroutine_threadsafe(run_case(label, case), loop)
            try:
                future.result(timeout=CASE_TIMEOUT)
            except concurrent.futures.TimeoutError:
                future.cancel()
                raise AssertionError(
                    f"no answer in {CASE_TIMEOUT}s: accepted and stuck? {case}"
                ) from None

        prop()

    started = time.monotonic()
    for label, drawn, budget in runs:
        await asyncio.to_thread(run, label, drawn, budget)
    elapsed = time.monotonic() - started

    for target in targets.values():
        assert await history_length(session.client, target.workflow_id) == target.history_length
        assert await store.read_stream(target.workflow_id) == target.events, target.name
        assert await Projections(store).view(target.workflow_id) == target.view, target.name
    total = sum(counts.values())
    print(
        f"\nbad input: {total} cases in {elapsed:.1f}s against {len(targets)} processes, all"
        " unchanged (history length, stream events, projection)"
        f"\n  by category and form: {dict(counts)}\n  by code: {dict(codes)}"
    )
    # Every category, in every form, was tried from outside.
    assert {label for label, _, _ in runs} == set(counts), set(counts)
    assert set(codes) == {
        "invalid_input",
        "not_allowed",
        "wrong_stage",
        "out_of_order",
        "guard_failed",
        "terminal",
    }
