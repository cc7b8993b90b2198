"""`CooperationProcessWorkflow`: one durable workflow per cooperation process.

Every DOMAIN.md command arrives as a Temporal update named after it (`log_contact`,
`grant_consent`, ...). The update's validator runs the domain's `decide` against the
current state, so a rejected command is refused before it reaches history and nothing is
written anywhere. An accepted command's events are appended to the event store by an
activity (event ids derived from stream and version, so a retried activity never
duplicates), then folded into the state with `evolve`.

Timers live where the process fans out: an `EvaluationMission` child per ToR version
(consent deadline) and a `ReportReview` child per report version (one branch per
reviewer: reminders, deadline). Children only report due timers back; the process turns
them into events through `decide`, which also drops stale ones. Dormancy is the process's
own timer. Children are started with ABANDON so they survive continue-as-new; the process
closes or cancels them itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import EventToRecord, RecordRequest, RecordResult
    from domain import (
        Command,
        DomainError,
        Event,
        ProcessConfig,
        ProcessState,
        ProcessView,
        Stage,
        decide,
        decode_event,
        describe,
        encode_event,
        evolve,
        fold,
        initial_state,
        parse_command,
        process_view,
    )
    from domain.vocabulary import PROCESS_STREAM_PREFIX
    from workflows import search
    from workflows.contracts import (
        ChildRef,
        CommandResult,
        EncodedEvent,
        MissionWatch,
        ProcessOutcome,
        ProcessStart,
        RecordedEventRef,
        ReviewWatch,
        TimerFired,
    )

# Event ids are uuid5(stream, version): the same decision retried yields the same ids.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4d7e-9a43-0c2f7f3b8e11")

TERMINAL_STAGES = frozenset({Stage.WITHDRAWN, Stage.CLOSED})
DORMANCY_STAGES = frozenset({Stage.OPTIONS_REVIEW, Stage.NEGOTIATING})

# Appends are idempotent, so they may retry for as long as the database is away; only
# a conflict (another writer on the stream, or an id reused with other content) is final.
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ConcurrencyConflict", "IdempotencyConflict"],
)
RECORD_TIMEOUT = timedelta(seconds=30)

# Child workflow type names, by the kind of subject they watch.
CHILD_WORKFLOWS = {"mission": "EvaluationMission", "review": "ReportReview"}


def workflow_id_for(process_id: str) -> str:
    """Workflow id and event stream id of a process: readable, with business meaning."""
    return f"{PROCESS_STREAM_PREFIX}{process_id}"


def rejection(err: DomainError) -> ApplicationError:
    """A domain rejection as a Temporal failure: `type` is the stable error code."""
    return ApplicationError(err.message, err.to_dict(), type=err.code, non_retryable=True)


@workflow.defn(name="CooperationProcess")
class CooperationProcessWorkflow:
    @workflow.init
    def __init__(self, start: ProcessStart) -> None:
        self._state: ProcessState = initial_state()
        self._history: list[EncodedEvent] = list(start.history)
        for encoded in start.history:
            self._state = evolve(
                self._state,
                decode_event(encoded.event_type, encoded.schema_version, encoded.data),
            )
        self._children: dict[str, ChildRef] = {c.kind: c for c in start.children}
        self._timers: list[TimerFired] = []
        self._lock = asyncio.Lock()
        self._idle_since = 0
        self._opened = self._state.stage is not None
        # Updates can arrive in the very first workflow task, before `run` has recorded
        # `ProcessOpened`: they are validated against the state the opening will produce
        # (decide is pure, so it is the same) and wait for the opening to be recorded.
        self._opening: Command | None = None
        self._opening_error: DomainError | None = None
        self._provisional = self._state
        if not self._opened:
            try:
                self._opening = parse_command("open_process", start.open_process)
                self._provisional = fold(decide(self._state, self._opening))
            except DomainError as err:
                self._opening_error = err

    # -- queries -----------------------------------------------------------------------

    @workflow.query
    def status(self) -> ProcessView:
        """The `process_view` read model, folded from this run's state."""
        return process_view(self._state if self._opened else self._provisional)

    # -- commands ----------------------------------------------------------------------

    @workflow.update(dynamic=True, description="A DOMAIN.md command, named as the update")
    async def command(self, name: str, args: Sequence[RawValue]) -> CommandResult:
        parsed = self._parse(name, args)
        await workflow.wait_condition(lambda: self._opened)
        async with self._lock:
            # Re-decided under the lock: an earlier update may have changed the state
            # since this one was validated.
            try:
                return await self._execute(parsed, workflow.current_update_info())
            except DomainError as err:
                raise rejection(err) from None

    @command.validator
    def validate_command(self, name: str, args: Sequence[RawValue]) -> None:
        parsed = self._parse(name, args)
        try:
            decide(self._state if self._opened else self._provisional, parsed)
        except DomainError as err:
            raise rejection(err) from None

    def _parse(self, name: str, args: Sequence[RawValue]) -> Command:
        try:
            if name == "open_process":
                raise DomainError(
                    "wrong_stage", "open_process: the process is already open", "command"
                )
            if len(args) != 1:
                raise DomainError(
                    "invalid_input", f"{name}: expected one JSON object as input", "input"
                )
            return parse_command(name, args[0].payload.data)
        except DomainError as err:
            raise rejection(err) from None

    @workflow.signal
    def timer_fired(self, fired: TimerFired) -> None:
        self._timers.append(fired)

    # -- main loop ---------------------------------------------------------------------

    @workflow.run
    async def run(self, start: ProcessStart) -> ProcessOutcome:
        if not self._opened:
            if self._opening is None:
                assert self._opening_error is not None
                raise rejection(self._opening_error)
            async with self._lock:
                await self._execute(self._opening, None)
            self._opened = True
        self._publish()

        while self._state.stage not in TERMINAL_STAGES:
            if self._should_continue_as_new(start):
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._timers:
                    workflow.continue_as_new(self._carry_over(start))
            self._idle_since = self._state.version
            dormancy = self._dormancy_timeout()
            try:
                await workflow.wait_condition(
                    self._something_happened,
                    timeout=dormancy,
                    timeout_summary="dormancy: no activity" if dormancy else None,
                )
            except TimeoutError:
                self._timers.append(
                    TimerFired(
                        command="dormancy_due",
                        data={
                            "actor": {"party": "system", "role": "timer"},
                            "occurred_on": self._state.last_occurred_on.isoformat()
                            if self._state.last_occurred_on
                            else workflow.now().date().isoformat(),
                        },
                    )
                )
            await self._run_due_timers()

        await workflow.wait_condition(workflow.all_handlers_finished)
        return ProcessOutcome(
            process_id=self._state.config.process_id if self._state.config else "",
            stage=str(self._state.stage),
            version=self._state.version,
        )

    def _something_happened(self) -> bool:
        """A timer report, a new event, or the end: the loop has work (or the idle ends)."""
        return (
            bool(self._timers)
            or self._state.version != self._idle_since
            or self._state.stage in TERMINAL_STAGES
        )

    def _dormancy_timeout(self) -> timedelta | None:
        if self._state.stage in DORMANCY_STAGES and self._state.config is not None:
            return self._state.config.durations.dormancy_after
        return None

    async def _run_due_timers(self) -> None:
        while self._timers:
            fired = self._timers.pop(0)
            async with self._lock:
                if self._state.stage in TERMINAL_STAGES:
                    return
                try:
                    await self._execute(parse_system(fired.command, fired.data), None)
                except DomainError as err:
                    # A timer that no longer applies (the stage moved on): nothing to record.
                    workflow.logger.info("timer %s not applicable: %s", fired.command, err)

    def _should_continue_as_new(self, start: ProcessStart) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > start.continue_as_new_after
        )

    def _carry_over(self, start: ProcessStart) -> ProcessStart:
        return ProcessStart(
            open_process=start.open_process,
            history=self._history,
            children=list(self._children.values()),
            continue_as_new_after=start.continue_as_new_after,
        )

    # -- recording ---------------------------------------------------------------------

    async def _execute(self, command: Command, update: workflow.UpdateInfo | None) -> CommandResult:
        events = decide(self._state, command)
        if not events:
            return CommandResult(command=command.name, stage=str(self._state.stage), events=[])
        result = await self._record(command, events, update)
        for event in events:
            self._state = evolve(self._state, event)
            self._history.append(EncodedEvent(**_encoded(event)))
        # Children are told after the whole decision is folded (a delivered report's
        # reviewers are only known once its ReviewRequested events are in the state).
        for event in events:
            await self._follow(event)
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
        return CommandResult(command=command.name, stage=str(self._state.stage), events=refs)

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
                    occurred_on=event.occurred_on,
                    **_encoded(event),
                )
                for i, event in enumerate(events, start=1)
            ],
            actor=command.actor.model_dump(mode="json", exclude_none=True),
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

    # -- children ----------------------------------------------------------------------

    async def _follow(self, event: Event) -> None:
        """Start, inform or close the child workflows an event concerns."""
        kind = event.event_type
        data = _encoded(event)["data"]
        if kind == "MissionProposed":
            await self._close_child("mission")
            await self._start_mission(int(data["tor_version"]), event)
        elif kind in ("ConsentGranted", "ConsentRefused"):
            await self._signal_child("mission", "consent_recorded", str(data["agency"]))
        elif kind in ("ReportDelivered", "ReportRevised"):
            await self._close_child("review")
            await self._start_review(int(data["version"]), event)
        elif kind == "ReviewSubmitted":
            await self._signal_child("review", "review_recorded", str(data["agency"]))
        elif kind == "ProcessResumed":
            # A suspension stops the clocks; resuming starts them afresh from its date.
            if self._state.stage == Stage.MISSION_PLANNING:
                await self._start_mission(self._state.mission.tor_version, event, rearmed=True)
            elif self._state.stage == Stage.UNDER_REVIEW:
                await self._start_review(self._state.report.version, event, rearmed=True)
        if self._state.stage in TERMINAL_STAGES:
            await self._cancel_children()
            return
        if "mission" in self._children and self._state.stage != Stage.MISSION_PLANNING:
            await self._close_child("mission")
        if "review" in self._children and self._state.stage != Stage.UNDER_REVIEW:
            await self._close_child("review")

    async def _start_mission(self, tor_version: int, event: Event, rearmed: bool = False) -> None:
        config = self._require_config()
        pending = process_view(self._state).pending_consents
        if not pending:
            return
        watch = MissionWatch(
            process_workflow_id=workflow.info().workflow_id,
            tor_version=tor_version,
            agencies=list(pending),
            consent_deadline_seconds=config.durations.consent_deadline.total_seconds(),
            proposed_on=event.occurred_on,
        )
        summary = f"Consents for ToR v{tor_version} of {config.process_id}"
        await self._start_child(
            "mission", f"mission-tor{tor_version}", tor_version, watch, summary, rearmed
        )

    async def _start_review(self, report_version: int, event: Event, rearmed: bool = False) -> None:
        config = self._require_config()
        pending = process_view(self._state).pending_reviews
        if not pending:
            return
        watch = ReviewWatch(
            process_workflow_id=workflow.info().workflow_id,
            report_version=report_version,
            reviewers=list(pending),
            reminder_every_seconds=config.durations.review_reminder_every.total_seconds(),
            deadline_seconds=config.durations.review_deadline.total_seconds(),
            delivered_on=event.occurred_on,
        )
        summary = f"Review of report v{report_version} of {config.process_id}"
        await self._start_child(
            "review", f"review-v{report_version}", report_version, watch, summary, rearmed
        )

    async def _start_child(
        self,
        kind: str,
        subject: str,
        subject_version: int,
        watch: MissionWatch | ReviewWatch,
        summary: str,
        rearmed: bool,
    ) -> None:
        # A re-armed child gets the stream version in its id: its predecessor may still
        # be closing under the plain id.
        suffix = f"-r{self._state.version}" if rearmed else ""
        child_id = f"{workflow.info().workflow_id}-{subject}{suffix}"
        await workflow.start_child_workflow(
            CHILD_WORKFLOWS[kind],
            watch,
            id=child_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=summary,
        )
        self._children[kind] = ChildRef(
            kind=kind, workflow_id=child_id, subject_version=subject_version
        )

    async def _signal_child(self, kind: str, signal: str, arg: str) -> None:
        child = self._children.get(kind)
        if child is None:
            return
        try:
            await workflow.get_external_workflow_handle(child.workflow_id).signal(signal, arg)
        except Exception as err:  # the child already finished (e.g. its deadline passed)
            workflow.logger.info("child %s not signalled: %s", child.workflow_id, err)

    async def _close_child(self, kind: str) -> None:
        if kind in self._children:
            await self._signal_child(kind, "close", "")
            del self._children[kind]

    async def _cancel_children(self) -> None:
        for child in list(self._children.values()):
            try:
                await workflow.get_external_workflow_handle(child.workflow_id).cancel()
            except Exception as err:
                workflow.logger.info("child %s not cancelled: %s", child.workflow_id, err)
        self._children.clear()

    def _require_config(self) -> ProcessConfig:
        if self._state.config is None:
            raise ApplicationError("process is not open", non_retryable=True)
        return self._state.config

    # -- what operators see ------------------------------------------------------------

    def _publish(self, last: Event | None = None) -> None:
        view = process_view(self._state)
        updates: list[SearchAttributeUpdate[Any]] = [
            search.STAGE.value_set(str(view.stage)),
            search.PENDING_AGENCIES.value_set(list(view.pending_agencies)),
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
        # Agencies by name, with the key an operator filters on (AccordPendingAgencies).
        names = {a.key: a.name or a.key for a in view.agencies}
        waiting = ", ".join(f"{names[k]} (`{k}`)" for k in view.pending_agencies)
        # The UI shows current details in a box three lines high: two short paragraphs,
        # the last event cut short (its full sentence is in the timeline and the report).
        lines = [f"**Stage:** {view.stage} · **Waiting on:** {waiting or 'nobody'}"]
        on = view.last_occurred_on.isoformat() if view.last_occurred_on else "-"
        if last is not None:
            sentence = describe(last, self._state.config)
            if len(sentence) > 120:
                sentence = sentence[:119].rstrip(" ,;") + "…"
            lines.append(f"**Last event** ({on}, no. {view.version}): {sentence}")
        else:
            lines.append(f"**Events recorded:** {view.version}, the last on {on}")
        workflow.set_current_details("\n\n".join(lines))


def _encoded(event: Event) -> dict[str, Any]:
    event_type, schema_version, data = encode_event(event)
    return {"event_type": event_type, "schema_version": schema_version, "data": data}


def parse_system(name: str, data: dict[str, Any]) -> Command:
    """A child's timer report as a domain system command (never accepted from outside)."""
    return parse_command(name, data, include_system=True)
