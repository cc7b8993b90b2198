"""`CooperationProcessWorkflow`: one durable workflow per cooperation process.

One gate for every change. Every DOMAIN.md command arrives as a Temporal update named after
it (`log_contact`, `grant_consent`, ...); its validator runs the domain's `decide` against
the current state, so a rejected command is refused before it reaches history and nothing
is written anywhere. An accepted command's events are appended to the event store by an
activity (event ids derived from stream and version, so a retried activity never
duplicates), then folded into the state with `evolve`. Nothing else changes the process:

- **No signals.** The process has no signal handler; a signal sent anyway is logged and
  dropped. Its timers are its own (`workflows/clocks.py`): armed, stopped, resumed and
  dated from its state and `workflow.now()`, and run through `decide` like any command.
- **State only from the store or a fresh opening.** A start carries the `open_process`
  command, which must be the stream's first event (a start for a process whose stream
  exists fails its run `already_exists`). Continue-as-new carries a reference (version and
  head hash); the next run has the store read, check and fold the stream, and refuses to
  continue when it differs. Only a run Temporal itself continued may take that input.
- **Bounded runs.** Continue-as-new is due past `continue_as_new_after` history events;
  from then on, and whenever `MAX_QUEUED` commands already wait, new commands are answered
  `busy` (send again with the same update id) so the run can finish its handlers and go.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        EventToRecord,
        LoadedProcess,
        LoadRequest,
        RecordRequest,
        RecordResult,
    )
    from domain import (
        COMMANDS,
        Command,
        DomainError,
        Event,
        ProcessState,
        ProcessView,
        decide,
        describe,
        encode_event,
        evolve,
        fold,
        initial_state,
        parse_command,
        process_view,
    )
    from domain.commands import refuse_duplicate_keys
    from domain.snapshot import SnapshotError, dump_state, load_state
    from domain.stages import TERMINAL
    from domain.vocabulary import PROCESS_STREAM_PREFIX
    from security.refused import why_refused
    from workflows import clocks, search
    from workflows.clocks import Clock
    from workflows.contracts import (
        CommandResult,
        Continuation,
        ProcessOutcome,
        ProcessStart,
        RecentCommand,
        RecordedEventRef,
    )

# Event ids are uuid5(stream, version): the same decision retried yields the same ids.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4d7e-9a43-0c2f7f3b8e11")

# Appends are idempotent, so they may retry for as long as the database is away; only
# a conflict (another writer on the stream, or an id reused with other content) is final.
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ConcurrencyConflict", "IdempotencyConflict"],
)
RECORD_TIMEOUT = timedelta(seconds=30)
LOAD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["continuation_refused"],
)
LOAD_TIMEOUT = timedelta(seconds=60)

# Commands accepted and waiting for the lock at most; more are answered `busy`. Bounds how
# far past `continue_as_new_after` a run can grow (README: "Continue-as-new").
MAX_QUEUED = 32
# Update ids remembered (with their digest and outcome) across continue-as-new, so that a
# retry that reaches the next run is answered and not recorded twice.
RECENT_UPDATES = 200
SYSTEM_ACTOR = {"party": "system", "role": "timer"}


def workflow_id_for(process_id: str) -> str:
    """Workflow id and event stream id of a process: readable, with business meaning."""
    return f"{PROCESS_STREAM_PREFIX}{process_id}"


def command_digest(command: Command) -> str:
    """SHA-256 of a command as the process understands it (canonical JSON)."""
    canonical = json.dumps(
        command.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def rejection(err: DomainError) -> ApplicationError:
    """A domain rejection as a Temporal failure: `type` is the stable error code."""
    return ApplicationError(err.message, err.to_dict(), type=err.code, non_retryable=True)


def refusal(code: str, message: str, field: str | None = None) -> ApplicationError:
    """A refusal by the process itself (not a domain rule), in the same shape."""
    details = {"code": code, "message": message, "field": field}
    return ApplicationError(message, details, type=code, non_retryable=True)


@workflow.defn(name="CooperationProcess")
class CooperationProcessWorkflow:
    @workflow.init
    def __init__(self, start: RawValue) -> None:
        self._state: ProcessState = initial_state()
        self._clocks: dict[str, Clock] = {}
        self._recent: OrderedDict[str, RecentCommand] = OrderedDict()
        self._lock = asyncio.Lock()
        self._stage_since_at = workflow.time()  # when the current stage began (real time)
        self._ready = False  # the state is the store's (opening recorded, or stream loaded)
        self._queued = 0  # accepted commands waiting for the lock
        self._draining = False  # continue-as-new is due: no new command is accepted
        self._signals = 0  # signals received (and ignored): they too grow the history
        self._start: ProcessStart | None = None
        self._refused: ApplicationError | None = None
        self._opening: Command | None = None
        # Until `run` has the state from the store, commands that arrive are validated
        # against the state the run will have: the opening's, or the previous run's.
        self._provisional = self._state
        if (refused := why_refused(start.payload)) is not None:
            self._refused = refusal("invalid_input", refused, "input")
            return
        try:
            self._start = ProcessStart.model_validate_json(start.payload.data)
            # A repeated key would show one value in the history and record another.
            refuse_duplicate_keys("start", start.payload.data)
        except DomainError as err:
            self._refused = rejection(err)
            return
        except (ValidationError, ValueError):
            self._refused = refusal(
                "invalid_input",
                "start: the input must be {open_process: <the open_process command>}",
                "input",
            )
            return
        if self._start.continued is not None:
            if workflow.info().continued_run_id is None:
                self._refused = refusal(
                    "not_allowed",
                    "start: `continued` is set only by the process itself when it continues as new",
                    "continued",
                )
                return
            try:
                self._provisional = load_state(self._start.continued.snapshot)
            except SnapshotError:
                self._refused = refusal(
                    "continuation_refused", "start: the carried state is not a process state"
                )
                return
            self._clocks = {c.key: c for c in self._start.continued.clocks}
            self._stage_since_at = self._start.continued.stage_since_at or workflow.time()
            self._recent = OrderedDict((r.update_id, r) for r in self._start.continued.recent)
            return
        try:
            if self._start.open_process is None:
                raise DomainError("invalid_input", "start: open_process is required", "input")
            self._opening = parse_command("open_process", self._start.open_process)
            self._provisional = fold(decide(self._state, self._opening, today=self._today()))
        except DomainError as err:
            self._refused = rejection(err)

    # -- queries -----------------------------------------------------------------------

    @workflow.query
    def status(self) -> ProcessView:
        """The `process_view` read model of this run's state."""
        return process_view(self._state if self._ready else self._provisional)

    # -- commands ----------------------------------------------------------------------

    @workflow.update(dynamic=True, description="A DOMAIN.md command, named as the update")
    async def command(self, name: str, args: Sequence[RawValue]) -> CommandResult:
        parsed = self._parse(name, args)
        update = workflow.current_update_info()
        if update is not None and update.id in self._recent:
            return self._recent[update.id].result  # a retry that reached the next run
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
                    self._log("command refused", parsed.name, update, parsed, code=err.code)
                    raise rejection(err) from None
        finally:
            if waiting:
                self._queued -= 1
        if update is not None:
            self._remember(update.id, result)
        self._log(
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
            try:
                command: Command | None = parse_command(name, args[0].payload.data)
            except (DomainError, IndexError):
                command = None  # malformed: no actor to report
            self._log(
                "command refused",
                name,
                workflow.current_update_info(),
                command,
                code=err.type,
                field=(err.details[0] or {}).get("field") if err.details else None,
            )
            raise

    def _validate(self, name: str, args: Sequence[RawValue]) -> None:
        parsed = self._parse(name, args)
        update = workflow.current_update_info()
        recent = self._recent.get(update.id) if update is not None else None
        if recent is not None:
            if recent.command_digest != command_digest(parsed):
                raise refusal(
                    "idempotency_conflict",
                    f"{name}: this update id was already used for another command; "
                    "use a new update id for a new command",
                    "update_id",
                )
            return  # the same command again: answered with its recorded outcome
        # Only state set by persisted workflow tasks: a rejected update's task is discarded
        # by the server, so what it sees (its own history length, say) must change nothing.
        info = workflow.info()
        reset_opening = self._opening is not None and info.first_execution_run_id != info.run_id
        if self._draining or self._queued >= MAX_QUEUED or (reset_opening and not self._ready):
            # (A reset run that re-opens takes the store's state first: until then it has
            # no state to decide on.)
            raise refusal(
                "busy",
                f"{name}: the process is busy (moving to a new run or at its queue limit); "
                "nothing was recorded: send it again with the same update id",
            )
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

    def _parse(self, name: str, args: Sequence[RawValue]) -> Command:
        try:
            if name == "open_process":
                raise DomainError(
                    "wrong_stage", "open_process: the process is already open", "command"
                )
            if len(args) != 1:
                raise DomainError(
                    "invalid_input", f"{name[:64]}: expected one JSON object as input", "input"
                )
            if (refused := why_refused(args[0].payload)) is not None:
                raise DomainError("invalid_input", refused, "input")
            return parse_command(name, args[0].payload.data)
        except DomainError as err:
            raise rejection(err) from None

    def _log(
        self,
        message: str,
        name: str,
        update: workflow.UpdateInfo | None,
        command: Command | None,
        **fields: Any,
    ) -> None:
        """One line per command, its facts as fields (`workers/logs.py` lifts them)."""
        actor = command.actor if command is not None else None
        # What the caller sent may be anything: a short, known-safe form.
        known = name if name in COMMANDS else "(unknown)"
        # Counted too (workers/metrics.py); the workflow's meter records nothing on replay.
        if "code" in fields:
            workflow.metric_meter().create_counter(
                "accord_commands_refused", "commands refused, by command and code"
            ).add(1, {"command": known, "code": str(fields["code"])})
        else:
            workflow.metric_meter().create_counter(
                "accord_commands_accepted", "commands accepted, by command"
            ).add(1, {"command": known})
        workflow.logger.info(
            message,
            extra={
                "accord": {
                    "process": workflow.info().workflow_id,
                    "command": known,
                    "update_id": update.id[:200] if update is not None else None,
                    "actor_party": actor.party if actor is not None else None,
                    "actor_role": actor.role if actor is not None else None,
                    **fields,
                }
            },
        )

    def _current(self) -> ProcessState:
        return self._state if self._ready else self._provisional

    def _remember(self, update_id: str, result: CommandResult) -> None:
        self._recent[update_id] = RecentCommand(
            update_id=update_id, command_digest=result.command_digest or "", result=result
        )
        while len(self._recent) > RECENT_UPDATES:
            self._recent.popitem(last=False)

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
            await self._continue(self._start.continued)
        else:
            await self._open()
        self._ready = True
        self._publish()

        while self._state.stage not in TERMINAL:
            if self._continue_as_new_due(self._start):
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
        if self._opening is None:
            raise refusal("invalid_input", "start: open_process is required", "input")
        stream_id = workflow.info().workflow_id
        process_id = self._opening.process.process_id  # type: ignore[attr-defined]
        if stream_id != workflow_id_for(process_id):
            raise refusal(
                "invalid_input",
                f"start: the workflow id must be {PROCESS_STREAM_PREFIX}<process_id>",
                "workflow_id",
            )
        existing = await self._load(LoadRequest(stream_id=stream_id))
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
            await self._execute(self._opening, None)

    async def _continue(self, continued: Continuation) -> None:
        if continued.stream_id != workflow.info().workflow_id:
            raise refusal("not_allowed", "start: `continued` names another stream", "continued")
        loaded = await self._load(
            LoadRequest(
                stream_id=continued.stream_id,
                version=continued.version,
                head_hash=continued.head_hash,
            )
        )
        if loaded.snapshot != continued.snapshot:
            raise refusal(
                "continuation_refused",
                "the store's stream does not fold to the state the previous run had",
            )
        self._state = load_state(loaded.snapshot)

    async def _load(self, request: LoadRequest) -> LoadedProcess:
        try:
            loaded: LoadedProcess = await workflow.execute_activity(
                "load_process",
                request,
                result_type=LoadedProcess,
                start_to_close_timeout=LOAD_TIMEOUT,
                retry_policy=LOAD_RETRY,
                summary="load the process from the store",
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == "continuation_refused":
                raise refusal("continuation_refused", cause.message) from None
            raise
        return loaded

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
        if not clocks.due(self._clocks, workflow.time()):
            return  # never queue for the lock for nothing: commands hold it back to back
        async with self._lock:
            for clock in clocks.due(self._clocks, workflow.time()):
                if self._state.stage in TERMINAL:
                    return
                if self._clocks.get(clock.key) != clock:
                    continue  # dropped or moved by an earlier firing
                self._clocks[clock.key] = clocks.after_firing(clock)
                body = {
                    "actor": SYSTEM_ACTOR,
                    "occurred_on": clock.fire_date(
                        self._state.last_occurred_on, self._today()
                    ).isoformat(),
                    **clock.fields,
                }
                try:
                    command = parse_command(clock.command, body, include_system=True)
                    await self._execute(command, None)
                except DomainError as err:
                    workflow.logger.info("timer %s not applicable: %s", clock.key, err.code)
                self._clocks = clocks.reconcile(self._clocks, self._state, [], workflow.time())

    # -- continue-as-new ---------------------------------------------------------------

    def _continue_as_new_due(self, start: ProcessStart) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > start.continue_as_new_after
        )

    async def _continue_as_new(self, start: ProcessStart) -> NoReturn:
        # New commands are answered `busy` from here on; the accepted ones finish here.
        self._draining = True
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._lock.locked()
        )
        stream_id = workflow.info().workflow_id
        head = await self._load(LoadRequest(stream_id=stream_id))
        snapshot = dump_state(self._state)
        if head.version != self._state.version or head.snapshot != snapshot:
            raise refusal(
                "continuation_refused",
                f"{stream_id}: the store holds version {head.version}, this run "
                f"{self._state.version}; not continuing",
            )
        assert head.head_hash is not None
        workflow.continue_as_new(
            ProcessStart(
                continued=Continuation(
                    stream_id=stream_id,
                    version=head.version,
                    head_hash=head.head_hash,
                    snapshot=snapshot,
                    clocks=list(self._clocks.values()),
                    recent=list(self._recent.values()),
                    stage_since_at=self._stage_since_at,
                ),
                continue_as_new_after=start.continue_as_new_after,
            )
        )

    # -- recording ---------------------------------------------------------------------

    async def _execute(self, command: Command, update: workflow.UpdateInfo | None) -> CommandResult:
        digest = command_digest(command)
        events = decide(self._state, command, today=self._today())
        if not events:
            return CommandResult(
                command=command.name, stage=str(self._state.stage), events=[], command_digest=digest
            )
        try:
            result = await self._record(command, events, update)
        except ActivityError as err:
            if not _store_ahead(err):
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
            result = await self._record(command, events, update)
        stage = self._state.stage
        for event in events:
            # With the issuing party, as the store's fold has it (correct_record's rule).
            self._state = evolve(self._state, event, command.actor.party)
        if self._state.stage != stage:
            self._stage_since_at = workflow.time()
        self._clocks = clocks.reconcile(self._clocks, self._state, events, workflow.time())
        self._publish(events[-1])
        refs = [
            RecordedEventRef(event_type=event.event_type, version=version, position=position)
            for event, position, version in zip(
                events,
                result.positions,
                range(result.first_version, result.last_version + 1),
                strict=True,
            )
        ]
        return CommandResult(
            command=command.name, stage=str(self._state.stage), events=refs, command_digest=digest
        )

    async def _catch_up(self) -> None:
        loaded = await self._load(LoadRequest(stream_id=workflow.info().workflow_id))
        if loaded.snapshot is None:
            raise refusal("continuation_refused", "the process's stream is missing from the store")
        workflow.logger.warning(
            "store ahead of this run: state taken from the store",
            extra={"accord": {"from_version": self._state.version, "to_version": loaded.version}},
        )
        self._state = load_state(loaded.snapshot)
        self._clocks = clocks.reconcile(self._clocks, self._state, [], workflow.time())

    async def _record(
        self, command: Command, events: list[Event], update: workflow.UpdateInfo | None
    ) -> RecordResult:
        info = workflow.info()
        stream_id = info.workflow_id
        base = self._state.version
        request = RecordRequest(
            stream_id=stream_id,
            expected_version=base,
            events=[
                EventToRecord(
                    event_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"{stream_id}/{base + i}"),
                    occurred_on=event.occurred_on.text,
                    **_encoded(event),
                )
                for i, event in enumerate(events, start=1)
            ],
            actor=command.actor.model_dump(mode="json", exclude_none=True),
            source=command.source.model_dump(mode="json", exclude_none=True)
            if command.source
            else None,
            correlation_id=update.id if update else None,
            causation_id=command.name,
            workflow_id=stream_id,
            run_id=info.run_id,
        )
        names = ", ".join(e.event_type for e in events)
        recorded: RecordResult = await workflow.execute_activity(
            "record_events",
            request,
            result_type=RecordResult,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"record {names}"[:200],
        )
        return recorded

    # -- what operators see ------------------------------------------------------------

    def _publish(self, last: Event | None = None) -> None:
        view = process_view(self._state)
        upcoming = clocks.next_due(self._clocks)
        due = (
            datetime.fromtimestamp(upcoming.due_at, UTC)
            if upcoming is not None and upcoming.due_at is not None
            else None
        )
        updates: list[SearchAttributeUpdate[Any]] = [
            search.STAGE.value_set(str(view.stage)),
            search.PENDING_AGENCIES.value_set(list(view.pending_agencies)),
            search.AWAITING.value_set([f"{a.party}:{a.command}" for a in view.awaiting]),
            search.STAGE_SINCE.value_set(datetime.fromtimestamp(self._stage_since_at, UTC)),
            search.NEXT_DEADLINE.value_set(due) if due else search.NEXT_DEADLINE.value_unset(),
        ]
        if last is None:
            # At the start of every run: whoever started the workflow, the process is
            # findable by its partner, country and id.
            partner = view.partner.short_name or view.partner.name
            updates += [
                search.PARTNER.value_set(partner),
                search.COUNTRY.value_set(view.country),
                search.PROCESS_ID.value_set(view.process_id),
            ]
        workflow.upsert_search_attributes(updates)
        # Parties by name, with the key and command an operator filters on (AccordAwaiting).
        names = {a.key: a.name or a.key for a in view.agencies}
        names["partner"] = view.partner.short_name or view.partner.name
        names["national_body"] = view.national_body.short_name or view.national_body.name
        waiting = "; ".join(
            f"{names.get(a.party, a.party)} (`{a.party}`): {a.command}" for a in view.awaiting
        )
        # The UI shows current details in a box three lines high: two short paragraphs,
        # the last event cut short (its full sentence is in the timeline and the report).
        since = str(view.stage_since) if view.stage_since else "-"
        lines = [f"**Stage:** {view.stage} since {since} · **Waiting on:** {waiting or 'nobody'}"]
        on = str(view.last_occurred_on) if view.last_occurred_on else "-"
        if last is not None:
            sentence = describe(last, self._state.config)
            if len(sentence) > 120:
                sentence = sentence[:119].rstrip(" ,;") + "…"
            lines.append(f"**Last event** ({on}, no. {view.version}): {sentence}")
        else:
            lines.append(f"**Events recorded:** {view.version}, the last on {on}")
        if upcoming is not None and due is not None:
            lines[-1] += f" · **Next timer:** {clocks.label(upcoming)}, {due:%Y-%m-%d %H:%M} UTC"
        workflow.set_current_details("\n\n".join(lines))


def _store_ahead(err: ActivityError) -> bool:
    """The append was refused because the stream already has that version."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type in (
        "ConcurrencyConflict",
        "IdempotencyConflict",
    )


def _encoded(event: Event) -> dict[str, Any]:
    event_type, schema_version, data = encode_event(event)
    return {"event_type": event_type, "schema_version": schema_version, "data": data}
