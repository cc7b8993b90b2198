"""Processes run the whole story while the worker, PostgreSQL and Temporal fail under them.

A dedicated deployment (tests/faults/cluster.py): its own PostgreSQL, its own Temporal dev
server and `accord worker` as a separate OS process. Thirty processes play the story of
scenarios/azerbaijan-icmp.yaml concurrently (its commands only: real durations, so no
timer fires) while the worker is SIGKILLed and restarted five times, PostgreSQL is
restarted once and the Temporal server once (FAULTS). Clients retry across the outages
like a careful caller must, and at the end every stream is exactly the story: nothing
lost, nothing recorded twice, versions without gaps, unique event ids, intact hash chains,
every process `presented` in the workflow and in the projection, no failed workflow task.
On a failure, each stuck process is explained (client trail, stream, history tail); set
ACCORD_FAULTS_KEEP=1 to keep the servers' data and logs under /tmp/accord-faults-*.

How a client retries safely (`StoryClient.apply`): every command is sent with a stable
update id (workflow id + step), so the server attaches a re-sent command to the one it
already has (in flight or completed) instead of running it again. That matters because some
commands are legitimately repeatable (`record_meeting`, `log_contact`,
`record_mission_meeting`): re-sent with a fresh id after an unknown outcome, one would be
recorded twice (`test_resent_command_with_same_update_id_is_recorded_once`).

Before re-sending, the client checks the process: the workflow's `status` query says
whether the step's events are already folded in (`applied_on_check`). It does not move on
on the strength of that, though, nor of the store: it re-sends the same id, which returns
once the first send's update has completed. Two reasons, both seen in this test:
- the store has a step's events up to 30 s (the activity timeout) before the workflow has
  folded them when a worker dies between the append and reporting the activity
  (`store_ahead`); a command sent then is validated against the old stage (`wrong_stage`,
  `guard_failed`);
- a command that reaches the workflow while the previous update is still finishing can be
  accepted in the same workflow task as that update's activity result, and the SDK may then
  write a history it cannot replay: the process is stuck for good
  (`test_update_replay.py`, temporalio 1.35.0).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from cli.operations import open_payload, start_process
from cli.scenario import load
from cli.session import Session
from domain import BusinessDate, decide, fold, initial_state, parse_command
from domain.errors import ERROR_CODES
from readmodel.projections import Projections
from security.actor_binding import ActorBinding
from store import EventStore
from store.embedded import project_root
from tests.actor_keys import TEST_ACTOR_KEYS
from tests.faults.cluster import Cluster
from workflows.contracts import CommandResult
from workflows.process import workflow_id_for

STORY = project_root() / "scenarios" / "azerbaijan-icmp.yaml"
PROCESSES = 30
# Each fault fires once this share of all the story's steps is done. The processes advance
# together, so the share is also where in the story they are: the early kills hit the
# negotiations, the later ones live mission and review child workflows. The last fault
# leaves a quarter of the work, enough to outlast the 30 s activity timeout a kill causes.
FAULTS = (
    (0.08, "kill worker"),
    (0.20, "kill worker"),
    (0.30, "restart postgres"),
    (0.42, "kill worker"),
    (0.52, "restart temporal"),
    (0.62, "kill worker"),
    (0.74, "kill worker"),
)
WORKER_KILLS = sum(f == "kill worker" for _, f in FAULTS)
# Seconds for every process to finish the story, faults included. About 2-3 minutes on a
# 2-core machine that other work keeps busy; the budget leaves room above that.
DRIVE_BUDGET = 300.0
QUERY_TIMEOUT = timedelta(seconds=5)
UPDATE_RPC_TIMEOUT = timedelta(seconds=20)

# Errors that leave a command's outcome unknown: the connection went away, the server
# restarted, or the call timed out while no worker could accept the update.
UNKNOWN_OUTCOME = (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError)
STORE_DOWN = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


# -- the story, planned with the domain ------------------------------------------------


@dataclass(frozen=True)
class Step:
    index: int
    command: str
    payload: dict[str, Any]
    before: int  # stream version before the command
    after: int  # stream version once its events are recorded
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class Story:
    process: dict[str, Any]  # the scenario's process block, without process_id
    first_date: BusinessDate
    steps: tuple[Step, ...]

    @property
    def event_types(self) -> list[str]:
        return ["ProcessOpened", *(t for s in self.steps for t in s.event_types)]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def plan_story() -> Story:
    """The story's commands and, from the domain's own decide/fold, the stream version and
    event types each one must produce: the oracle for "applied?", "lost" and "duplicated"."""
    scenario = load(STORY)
    first_date = next(s.on for s in scenario.steps if s.on is not None)
    process = {k: v for k, v in scenario.process.items() if k != "process_id"}
    opening = open_payload({**process, "process_id": "planning"}, first_date)
    state = fold(decide(initial_state(), parse_command("open_process", opening)))
    steps = []
    for index, step in enumerate(scenario.steps, start=1):
        if step.kind != "command":
            continue  # no waits or per-step expectations: the end state is checked instead
        assert step.command is not None
        payload = _jsonable({**step.with_, "actor": step.actor, "occurred_on": step.on})
        events = decide(state, parse_command(step.command, payload))
        before = state.version
        state = fold(events, state)
        steps.append(
            Step(
                index=index,
                command=step.command,
                payload=payload,
                before=before,
                after=state.version,
                event_types=tuple(e.event_type for e in events),
            )
        )
    assert str(state.stage) == "presented"
    return Story(process=process, first_date=first_date, steps=tuple(steps))


# -- a client that retries without duplicating -----------------------------------------


@dataclass
class Tally:
    steps_done: int = 0
    attempts: int = 0
    resent: int = 0  # re-sent after an unknown outcome (same update id)
    applied_on_check: int = 0  # at a re-send, the workflow had folded the step in already
    store_ahead: int = 0  # at a re-send, the store had the events, the workflow not yet
    rejected_as_applied: int = 0  # rejected by the domain because it was already applied
    deduplicated: int = 0  # a re-send answered with the first send's recorded events
    unknown: Counter[str] = field(default_factory=Counter)
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    def summary(self) -> str:
        return (
            f"attempts={self.attempts} resent={self.resent}"
            f" applied_on_check={self.applied_on_check} store_ahead={self.store_ahead}"
            f" deduplicated={self.deduplicated} rejected_as_applied={self.rejected_as_applied}"
            f" unknown_outcomes={dict(self.unknown)}"
        )

    async def step_done(self) -> None:
        async with self.progress:
            self.steps_done += 1
            self.progress.notify_all()

    async def reached(self, steps: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: self.steps_done >= steps)


class StoryClient:
    """Drives one process through the story, surviving any outage of any component."""

    def __init__(
        self, client: Client, store: EventStore, task_queue: str, process_id: str, tally: Tally
    ) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        self.process_id = process_id
        self.workflow_id = workflow_id_for(process_id)
        self.tally = tally
        self.current: Step | None = None
        self.trail: list[str] = []  # how each step went, for the failure report

    def note(self, step: Step, what: str) -> None:
        self.trail.append(f"{time.strftime('%H:%M:%S')} step {step.index} {step.command}: {what}")

    async def run(self, story: Story) -> None:
        await self.open(story)
        for step in story.steps:
            self.current = step
            await self.apply(step)
            await self.tally.step_done()
        self.current = None

    async def open(self, story: Story) -> None:
        session = Session(
            client=self.client, store=self.store, task_queue=self.task_queue, embedded=None
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await start_process(
                    session,
                    {**story.process, "process_id": self.process_id},
                    default_on=story.first_date,
                )
                assert outcome.accepted, outcome
                return
            except WorkflowAlreadyStartedError:
                return  # an earlier attempt started it; its outcome was lost on the way back
            except RPCError as err:
                self.tally.unknown[f"start:{err.status.name if err.status else '?'}"] += 1
                await asyncio.sleep(_backoff(attempt))

    async def workflow_version(self) -> int | None:
        """The version the workflow has folded (its `status` query), or None while no worker
        or server can answer. This is the state the next command is validated against."""
        handle = self.client.get_workflow_handle(self.workflow_id)
        try:
            view = await handle.query("status", rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, RPCTimeoutOrCancelledError, WorkflowQueryFailedError):
            _reraise_cancellation()
            return None
        return int(view["version"])

    async def stored_version(self) -> int | None:
        """The stream version in the store of record, or None while the store is away."""
        try:
            return await asyncio.wait_for(
                self.store.stream_version(self.workflow_id), QUERY_TIMEOUT.total_seconds()
            )
        except STORE_DOWN:
            return None

    async def apply(self, step: Step) -> None:
        handle = self.client.get_workflow_handle(self.workflow_id)
        # Stable per command: a re-send joins the first send instead of running again.
        update_id = f"{self.workflow_id}/step-{step.index}"
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                # Check the process before re-sending: has the workflow folded the step's
                # events in? Either way the same update id is sent again, which only waits
                # for the first send's outcome; the client never moves on before the
                # previous command's update has completed (see the module docstring).
                seen = await self.workflow_version()
                if seen is not None and seen >= step.after:
                    self.tally.applied_on_check += 1
                    self.note(step, f"applied (workflow at v{seen}), waiting for the update")
                else:
                    stored = await self.stored_version()
                    if stored is not None and stored >= step.after:
                        self.tally.store_ahead += 1
                    self.tally.resent += 1
            self.tally.attempts += 1
            try:
                result = await handle.execute_update(
                    step.command,
                    step.payload,
                    id=update_id,
                    result_type=CommandResult,
                    rpc_timeout=UPDATE_RPC_TIMEOUT,
                )
            except WorkflowUpdateFailedError as err:
                await self._rejected(step, err)
                return
            except UNKNOWN_OUTCOME as err:
                _reraise_cancellation()
                self.tally.unknown[_kind(err)] += 1
                self.note(step, f"unknown outcome ({_kind(err)})")
                await asyncio.sleep(_backoff(attempt))
                continue
            self._check_result(step, result)
            self.note(step, f"accepted v{step.after}")
            if attempt > 1:
                self.tally.deduplicated += 1
            return

    async def _rejected(self, step: Step, err: WorkflowUpdateFailedError) -> None:
        """A rejection is only acceptable if it proves the command was applied before."""
        cause = err.cause
        code = cause.type if isinstance(cause, ApplicationError) else None
        if code in ERROR_CODES:
            seen = None
            while seen is None:
                seen = await self.workflow_version()
                if seen is None:
                    await asyncio.sleep(0.5)
            if seen >= step.after:
                self.tally.rejected_as_applied += 1
                self.note(step, f"rejected {code}, applied before (workflow at v{seen})")
                return
        raise AssertionError(
            f"{self.workflow_id} step {step.index} ({step.command}) rejected: {code}: {cause}"
        )

    def _check_result(self, step: Step, result: CommandResult) -> None:
        versions = [e.version for e in result.events]
        types = tuple(e.event_type for e in result.events)
        assert versions == list(range(step.before + 1, step.after + 1)), (step, result)
        assert types == step.event_types, (step, result)


def _reraise_cancellation() -> None:
    """The SDK turns a cancelled update call into WorkflowUpdateRPCTimeoutOrCancelledError;
    when it is this task being cancelled, stop instead of retrying."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _kind(err: BaseException) -> str:
    if isinstance(err, RPCError):
        return f"rpc:{err.status.name if err.status else '?'}"
    return type(err).__name__


def _backoff(attempt: int) -> float:
    return float(min(0.2 * 2 ** min(attempt, 6), 5.0))


# -- faults --------------------------------------------------------------------------------


async def _supervise(cluster: Cluster, stop: asyncio.Event) -> None:
    """Restart the worker whenever it exits on its own (e.g. cannot connect at start)."""
    assert cluster.worker is not None
    while not stop.is_set():
        cluster.worker.ensure_running()
        await asyncio.sleep(0.5)


async def _inject_faults(
    cluster: Cluster, tally: Tally, total_steps: int, log: list[str], started: float
) -> None:
    """Each fault at its share of the work (FAULTS): every one hits processes in flight."""
    assert cluster.worker is not None
    worker = cluster.worker
    for share, fault in FAULTS:
        await tally.reached(int(total_steps * share))
        at = tally.steps_done / total_steps
        log.append(f"{time.monotonic() - started:6.1f}s at {at:.0%} of the steps: {fault}")
        if fault == "kill worker":
            worker.kill()
            worker.start()  # what a supervisor (systemd, Kubernetes) would do at once
        elif fault == "restart postgres":
            await asyncio.to_thread(cluster.restart_postgres, 3.0)
        else:
            await asyncio.to_thread(cluster.restart_temporal)
        log.append(f"{time.monotonic() - started:6.1f}s: {fault} done")


async def _explain(client: Client, store: EventStore, driver: StoryClient) -> str:
    """A stuck or failed process: the client's trail, the stream, the workflow history."""
    lines = [f"--- {driver.workflow_id}", *driver.trail[-12:]]
    try:
        events = await store.read_stream(driver.workflow_id)
        lines.append("stream: " + ", ".join(f"{e.version}:{e.event_type}" for e in events))
        history = await client.get_workflow_handle(driver.workflow_id).fetch_history()
    except (RPCError, *STORE_DOWN) as err:
        return "\n".join([*lines, f"(unavailable: {err})"])
    for e in history.events[-40:]:
        detail = ""
        if e.HasField("workflow_execution_update_accepted_event_attributes"):
            request = e.workflow_execution_update_accepted_event_attributes.accepted_request
            detail = f"{request.meta.update_id} {request.input.name}"
        elif e.HasField("workflow_execution_update_completed_event_attributes"):
            done = e.workflow_execution_update_completed_event_attributes
            detail = done.meta.update_id + (" FAILED" if done.outcome.HasField("failure") else "")
        time_of = e.event_time.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
        lines.append(f"  {e.event_id:4d} {time_of} {EventType.Name(e.event_type)[11:]} {detail}")
    return "\n".join(lines)


async def _connect_client(cluster: Cluster) -> Client:
    # The cluster's `accord worker` requires actor tokens (the session's ring, inherited
    # through ACCORD_ACTOR_KEYS): mint one per command as the CLI does.
    return await Client.connect(
        cluster.temporal.address,
        data_converter=pydantic_data_converter,
        interceptors=[ActorBinding(keys=TEST_ACTOR_KEYS)],
    )


# -- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


async def test_resent_command_with_same_update_id_is_recorded_once(cluster: Cluster) -> None:
    """The mechanism the fault test relies on, shown deterministically: the server answers a
    re-sent update id with the first outcome; a fresh id would record the meeting twice."""
    client = await _connect_client(cluster)
    async with await EventStore.connect(cluster.database_url) as store:
        story = plan_story()
        process_id = "dedup-check"
        driver = StoryClient(client, store, cluster.task_queue, process_id, Tally())
        await driver.open(story)
        for step in story.steps[:3]:  # log_contact, submit_opinion, assign_representative
            await driver.apply(step)
        handle = client.get_workflow_handle(driver.workflow_id)
        meeting = next(s for s in story.steps if s.command == "record_meeting").payload
        first = await handle.execute_update(
            "record_meeting", meeting, id="meeting-1", result_type=CommandResult
        )
        again = await handle.execute_update(
            "record_meeting", meeting, id="meeting-1", result_type=CommandResult
        )
        assert again == first
        types = [e.event_type for e in await store.read_stream(driver.workflow_id)]
        assert types.count("MeetingRecorded") == 1
        # Same command, new id: the domain rightly records a second meeting. This is why a
        # caller retrying after an unknown outcome must reuse the id.
        await handle.execute_update(
            "record_meeting", meeting, id="meeting-2", result_type=CommandResult
        )
        types = [e.event_type for e in await store.read_stream(driver.workflow_id)]
        assert types.count("MeetingRecorded") == 2


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_story_survives_worker_kills_and_restarts(cluster: Cluster) -> None:
    story = plan_story()
    total_steps = PROCESSES * len(story.steps)
    assert cluster.worker is not None
    client = await _connect_client(cluster)
    async with await EventStore.connect(cluster.database_url, max_size=20) as store:
        tally = Tally()
        drivers = [
            StoryClient(client, store, cluster.task_queue, f"az-fault-{i:02d}", tally)
            for i in range(PROCESSES)
        ]
        started = time.monotonic()
        fault_log: list[str] = []
        stop = asyncio.Event()
        supervisor = asyncio.create_task(_supervise(cluster, stop))
        faults = asyncio.create_task(
            _inject_faults(cluster, tally, total_steps, fault_log, started)
        )
        runs = [asyncio.create_task(d.run(story)) for d in drivers]
        done, pending = await asyncio.wait(runs, timeout=DRIVE_BUDGET)
        drive_seconds = time.monotonic() - started
        for task in pending:
            task.cancel()
        await asyncio.wait(runs)
        stop.set()
        await supervisor
        print(f"\nfault timeline (drive {drive_seconds:.1f}s):\n  " + "\n  ".join(fault_log))
        print(f"client: {tally.summary()}")
        failures = [str(t.exception()) for t in done if t.exception() is not None]
        if pending or failures:
            stuck = [d for d in drivers if d.current]
            for d in stuck:
                print(await _explain(client, store, d))
            pytest.fail(
                f"{len(pending)} processes unfinished after {DRIVE_BUDGET}s, failures: {failures}"
                f" (stuck: {[d.workflow_id for d in stuck]})\n"
                f"worker log:\n{cluster.worker.log_tail()}"
            )
        assert faults.done(), f"not every fault was injected: {fault_log}"
        faults.result()

        # -- the record, checked from the store ------------------------------------------
        expected = story.event_types
        lost = duplicated = gaps = mismatched = presented = 0
        projections = Projections(store)
        for d in drivers:
            events = await store.read_stream(d.workflow_id)
            types = [e.event_type for e in events]
            lost += sum((Counter(expected) - Counter(types)).values())
            duplicated += sum((Counter(types) - Counter(expected)).values())
            gaps += [e.version for e in events] != list(range(1, len(events) + 1))
            mismatched += types != expected
            view = await projections.view(d.workflow_id)
            status = await client.get_workflow_handle(d.workflow_id).query("status")
            presented += (
                view is not None
                and view["stage"] == status["stage"] == "presented"
                and status["version"] == len(events)
            )
        all_events = []
        after = 0
        while batch := await store.read_all(after_position=after, limit=1000):
            all_events.extend(batch)
            after = batch[-1].position
        ids = [e.event_id for e in all_events]
        repeated_ids = len(ids) - len(set(ids))  # across the whole store
        ours = {d.workflow_id for d in drivers}
        our_events = [e for e in all_events if e.stream_id in ours]
        # Other tests of this module may have left streams in this store: count them too.
        streams = {e.stream_id for e in all_events}
        report = await store.verify()

        # Replays after each kill must be deterministic: a non-determinism error shows up
        # as a failed workflow task (a killed worker's task times out instead).
        failed_tasks = 0
        for d in drivers:
            history = await client.get_workflow_handle(d.workflow_id).fetch_history()
            failed_tasks += sum(
                e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events
            )

        worker = cluster.worker
        print(
            f"faults: processes={PROCESSES} presented={presented} steps={total_steps}"
            f" events={len(our_events)}"
            f" worker_kills={worker.kills} worker_starts={worker.starts}"
            f" worker_crash_restarts={worker.crashes}"
            f" postgres_restarts={cluster.postgres_restarts}"
            f" temporal_restarts={cluster.temporal_restarts}"
            f" lost={lost} duplicated={duplicated} gaps={gaps} repeated_ids={repeated_ids}"
            f" chains_verified={report.streams_checked} of {len(streams)}"
            f" ({report.events_checked} events, {len(report.breaks)} breaks)"
            f" failed_workflow_tasks={failed_tasks}"
            f" drive_seconds={drive_seconds:.1f}"
        )

        assert worker.kills >= WORKER_KILLS
        assert cluster.postgres_restarts == 1 and cluster.temporal_restarts == 1
        assert presented == PROCESSES
        assert len(our_events) == PROCESSES * len(expected)
        assert (lost, duplicated, gaps, repeated_ids, mismatched) == (0, 0, 0, 0, 0)
        assert report.ok and report.streams_checked == len(streams) >= PROCESSES
        assert report.events_checked == len(all_events)
        assert failed_tasks == 0
        # The faults really cut clients off (otherwise this test proves little).
        assert sum(tally.unknown.values()) > 0
