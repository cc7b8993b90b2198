"""`CooperationProcessWorkflow`: one durable workflow per cooperation process.

One gate for every change. Every DOMAIN.md command arrives as a Temporal update named after
it (`log_contact`, `grant_consent`, ...); its validator runs the domain's `decide` against
the current state, so a rejected command is refused before it reaches history and nothing
is written anywhere. An accepted command is decided again under the lock, its events are
recorded in the event store by an activity, then folded into the state with `evolve`:
update -> decide -> record -> evolve. Nothing else changes the process:

- **No signals.** The process takes no signal: one sent anyway is logged and
  dropped. Its timers are its own (`workflows/clocks.py`): armed, stopped, resumed and
  dated from its state and `workflow.now()`, and run through `decide` like any command.
- **State only from the store or a fresh opening.** A start carries the `open_process`
  command, which must be the stream's first event (a start for a process whose stream
  exists fails its run `already_exists`). Continue-as-new carries a reference
  (`workflows/continuation.py`); the next run has the store read, check and fold the
  stream, and refuses to continue when it differs.
- **Bounded runs.** Continue-as-new is due past `continue_as_new_after` history events;
  from then on, and whenever `MAX_QUEUED` commands already wait, new commands are answered
  `busy` (send again with the same update id) so the run can finish its handlers and go.

The other jobs have a module each: reading and refusing input (`intake`), the update ids
remembered across runs (`recent`), the activities (`recording`), what operators see
(`publish`), the log line and counters per command (`telemetry`); the clocks' own rules
are in `clocks`. When each of them runs is decided here, in this class, so the order of the
workflow's commands (activities, timers, search attributes, continue-as-new) is read in one
place; it must not change, or recorded histories stop replaying (`tests/histories/`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, date, timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import LoadRequest
    from domain import (
        Command,
        DomainError,
        OpenProcess,
        ProcessState,
        ProcessView,
        decide,
        evolve,
        initial_state,
        process_view,
    )
    from domain.snapshot import load_state
    from domain.stages import TERMINAL
    from domain.vocabulary import PROCESS_STREAM_PREFIX
    from workflows import clocks, continuation, intake, recording
    from workflows.clocks import Clock
    from workflows.contracts import CommandResult, ProcessOutcome, ProcessStart
    from workflows.intake import refusal, rejection
    from workflows.publish import publish
    from workflows.recent import RecentUpdates, command_digest
    from workflows.telemetry import command_logged

__all__ = ["MAX_QUEUED", "CooperationProcessWorkflow", "command_digest", "workflow_id_for"]

# Commands accepted and waiting for the lock at most; more are answered `busy`. Bounds how
# far past `continue_as_new_after` a run can grow (README: "Continue-as-new").
MAX_QUEUED = 32


def workflow_id_for(process_id: str) -> str:
    """Workflow id and event stream id of a process: readable, with business meaning."""
    return f"{PROCESS_STREAM_PREFIX}{process_id}"


@workflow.defn(name="CooperationProcess")
class CooperationProcessWorkflow:
    @workflow.init
    def __init__(self, start: RawValue) -> None:
        # The process, in one place: its state (the store's), its clocks, the update ids
        # it answered and when its stage began (real time). A continued run takes the
        # last three from the previous run; the state it has the store confirm.
        self._state: ProcessState = initial_state()
        self._clocks: dict[str, Clock] = {}
        self._recent = RecentUpdates()
        self._stage_since_at = workflow.time()
        # Handlers run one at a time: each decides, records and evolves under the lock.
        self._lock = asyncio.Lock()
        self._ready = False  # the state is the store's (opening recorded, or stream loaded)
        self._queued = 0  # accepted commands waiting for the lock
        self._draining = False  # continue-as-new is due: no new command is accepted
        self._signals = 0  # signals received (and ignored): they too grow the history
        self._start: ProcessStart | None = None
        self._opening: Command | None = None
        self._refused: ApplicationError | None = None
        # Until `run` has the state from the store, commands that arrive are validated
        # against the state the run will have: the opening's, or the previous run's.
        self._provisional = self._state
        try:
            admitted = intake.read_start(
                start,
                continued_by_temporal=workflow.info().continued_run_id is not None,
                today=self._today(),
            )
        except ApplicationError as err:
            self._refused = err  # raised by `run`, so the run fails with it
            return
        self._start, self._opening = admitted.start, admitted.opening
        self._provisional = admitted.provisional
        if (continued := admitted.start.continued) is not None:
            self._clocks = {c.key: c for c in continued.clocks}
            self._stage_since_at = continued.stage_since_at or workflow.time()
            self._recent = RecentUpdates(continued.recent)

    # -- queries -----------------------------------------------------------------------

    @workflow.query
    def status(self) -> ProcessView:
        """The `process_view` read model of this run's state."""
        return process_view(self._current())

    # -- commands ----------------------------------------------------------------------

    @workflow.update(dynamic=True, description="A DOMAIN.md command, named as the update")
    async def command(self, name: str, args: Sequence[RawValue]) -> CommandResult:
        parsed = intake.parse_update(name, args)
        update = workflow.current_update_info()
        if update is not None and (answered := self._recent.answer(update.id)) is not None:
            return answered  # a retry that reached the next run
        started = workflow.time()
        self._queued += 1
        waiting = True
        try:
            await workflow.wait_condition(lambda: self._ready)
            async with self._lock:
                self._queued -= 1
                waiting = False
                # Decided again under the lock: an earlier command may have changed the
                # state since this one was validated.
                try:
                    result = await self._execute(parsed, update)
                except DomainError as err:
                    command_logged("command refused", parsed.name, update, parsed, code=err.code)
                    raise rejection(err) from None
        finally:
            if waiting:
                self._queued -= 1
        if update is not None:
            self._recent.remember(update.id, result)
        command_logged(
            "command accepted",
            parsed.name,
            update,
            parsed,
            events=len(result.events),
            stage=result.stage,
            duration_ms=round((workflow.time() - started) * 1000),
        )
        return result

    @command.validator
    def validate_command(self, name: str, args: Sequence[RawValue]) -> None:
        try:
            self._validate(name, args)
        except ApplicationError as err:
            command_logged(
                "command refused",
                name,
                workflow.current_update_info(),
                intake.sent_command(name, args),
                code=err.type,
                field=(err.details[0] or {}).get("field") if err.details else None,
            )
            raise

    def _validate(self, name: str, args: Sequence[RawValue]) -> None:
        parsed = intake.parse_update(name, args)
        update = workflow.current_update_info()
        if update is not None and self._recent.check(update.id, name, parsed):
            return  # the same command again: answered with its recorded outcome
        # Only state set by persisted workflow tasks: a rejected update's task is discarded
        # by the server, so what it sees (its own history length, say) must change nothing.
        info = workflow.info()
        reset_opening = self._opening is not None and info.first_execution_run_id != info.run_id
        if self._draining or self._queued >= MAX_QUEUED or (reset_opening and not self._ready):
            # (A reset run that re-opens takes the store's state first: until then it has
            # no state to decide on.)
            raise intake.busy(name)
        try:
            decide(self._current(), parsed, today=self._today())
        except DomainError as err:
            raise rejection(err) from None

    @workflow.signal(dynamic=True)
    def unexpected_signal(self, name: str, args: Sequence[RawValue]) -> None:
        # The process takes no signal: its timers are its own and commands are updates.
        # Without this handler the SDK would buffer the signal for ever.
        workflow.logger.warning("signal %r ignored: the process accepts no signals", name[:64])
        # Each one still lengthens the history: wake the loop so that continue-as-new stays
        # due on time however many arrive (signals are in history: this replays the same).
        self._signals += 1

    def _current(self) -> ProcessState:
        return self._state if self._ready else self._provisional

    @staticmethod
    def _today() -> date:
        return workflow.now().astimezone(UTC).date()

    # -- main loop ---------------------------------------------------------------------

    @workflow.run
    async def run(self, start: RawValue) -> ProcessOutcome:
        if self._refused is not None:
            raise self._refused
        assert self._start is not None
        if self._start.continued is not None:
            loaded = await recording.load(continuation.load_request(self._start.continued))
            self._state = continuation.confirmed(self._start.continued, loaded)
        else:
            await self._open()
        self._ready = True
        publish(self._state, self._clocks, self._stage_since_at, None)

        while self._state.stage not in TERMINAL:
            if continuation.due(self._start):
                await self._continue_as_new(self._start)
            await self._wait_for_work()
            await self._fire_due_clocks()

        await workflow.wait_condition(workflow.all_handlers_finished)
        return ProcessOutcome(
            process_id=self._state.config.process_id if self._state.config else "",
            stage=str(self._state.stage),
            version=self._state.version,
        )

    async def _open(self) -> None:
        match self._opening:
            case OpenProcess() as opening:
                process_id = opening.process.process_id
            case _:
                raise refusal("invalid_input", "start: open_process is required", "input")
        stream_id = workflow.info().workflow_id
        if stream_id != workflow_id_for(process_id):
            raise refusal(
                "invalid_input",
                f"start: the workflow id must be {PROCESS_STREAM_PREFIX}<process_id>",
                "workflow_id",
            )
        existing = await recording.load(LoadRequest(stream_id=stream_id))
        info = workflow.info()
        if existing.version and info.first_execution_run_id != info.run_id:
            # A reset of this very process (the server keeps the execution chain): the
            # store is the record, so the run takes its state, checked, and goes on.
            assert existing.snapshot is not None
            self._state = load_state(existing.snapshot)
            self._clocks = clocks.reconcile({}, self._state, [], workflow.time())
            return
        if existing.version:
            # Show the store's truth to whoever queries this run, then refuse it.
            assert existing.snapshot is not None
            self._state = load_state(existing.snapshot)
            self._ready = True
            raise refusal(
                "already_exists",
                f"start: process {process_id[:64]} already exists (stage {self._state.stage}); "
                "a process is opened once",
                "process.process_id",
            )
        async with self._lock:
            await self._execute(opening, None)

    async def _wait_for_work(self) -> None:
        """Until a command changed the state, or the next clock is due.

        Nothing else wakes the loop: in particular not the history length, which a
        rejected update's (discarded) workflow task also sees grow.
        """
        upcoming = clocks.next_due(self._clocks)
        seen = (self._state.version, self._signals)
        timeout: float | None = None
        if upcoming is not None and upcoming.due_at is not None:
            timeout = upcoming.due_at - workflow.time()
            if timeout <= 0:
                return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (
                    (self._state.version, self._signals) != seen or self._state.stage in TERMINAL
                ),
                timeout=timedelta(seconds=timeout) if timeout is not None else None,
                timeout_summary=clocks.label(upcoming) if upcoming is not None else None,
            )

    async def _fire_due_clocks(self) -> None:
        """Each due clock's system command, run like any command (under the lock)."""
        if not clocks.due(self._clocks, workflow.time()):
            return  # never queue for the lock for nothing: commands hold it back to back
        async with self._lock:
            for clock in clocks.due(self._clocks, workflow.time()):
                if self._state.stage in TERMINAL:
                    return
                if self._clocks.get(clock.key) != clock:
                    continue  # dropped or moved by an earlier firing
                self._clocks[clock.key] = clocks.after_firing(clock)
                try:
                    await self._execute(clocks.fired(clock, self._state, self._today()), None)
                except DomainError as err:
                    workflow.logger.info("timer %s not applicable: %s", clock.key, err.code)
                self._clocks = clocks.reconcile(self._clocks, self._state, [], workflow.time())

    async def _continue_as_new(self, start: ProcessStart) -> NoReturn:
        # New commands are answered `busy` from here on; the accepted ones finish here.
        self._draining = True
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._lock.locked()
        )
        head = await recording.load(LoadRequest(stream_id=workflow.info().workflow_id))
        workflow.continue_as_new(
            continuation.next_start(
                start, head, self._state, self._clocks, self._recent, self._stage_since_at
            )
        )

    # -- decide, record, evolve --------------------------------------------------------

    async def _execute(self, command: Command, update: workflow.UpdateInfo | None) -> CommandResult:
        """One command, under the lock: decided on the state, recorded, then folded in."""
        digest = command_digest(command)
        events = decide(self._state, command, today=self._today())
        if not events:
            return CommandResult(
                command=command.name, stage=str(self._state.stage), events=[], command_digest=digest
            )
        try:
            result = await recording.record(self._state.version, command, events, update)
        except ActivityError as err:
            if not recording.store_ahead(err):
                raise
            # The store holds events this run does not (a reset to an earlier point, or an
            # append whose answer was lost with its worker): the store is the record, so
            # take its state, checked, and decide the command again against it.
            await self._catch_up()
            events = decide(self._state, command, today=self._today())
            if not events:
                return CommandResult(
                    command=command.name,
                    stage=str(self._state.stage),
                    events=[],
                    command_digest=digest,
                )
            result = await recording.record(self._state.version, command, events, update)
        stage = self._state.stage
        for event in events:
            # With the issuing party, as the store's fold has it (correct_record's rule).
            self._state = evolve(self._state, event, command.actor.party)
        if self._state.stage != stage:
            self._stage_since_at = workflow.time()
        self._clocks = clocks.reconcile(self._clocks, self._state, events, workflow.time())
        publish(self._state, self._clocks, self._stage_since_at, events[-1])
        return CommandResult(
            command=command.name,
            stage=str(self._state.stage),
            events=recording.recorded_refs(events, result),
            command_digest=digest,
        )

    async def _catch_up(self) -> None:
        loaded = await recording.load(LoadRequest(stream_id=workflow.info().workflow_id))
        if loaded.snapshot is None:
            raise refusal("continuation_refused", "the process's stream is missing from the store")
        workflow.logger.warning(
            "store ahead of this run: state taken from the store",
            extra={"accord": {"from_version": self._state.version, "to_version": loaded.version}},
        )
        self._state = load_state(loaded.snapshot)
        self._clocks = clocks.reconcile(self._clocks, self._state, [], workflow.time())
