"""What the CLI does against Temporal, shared by single commands and scenario runs."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from cli.session import Session
from domain import DomainError, decide, initial_state, parse_command
from domain.vocabulary import PROCESS_STREAM_PREFIX
from workflows import search
from workflows.contracts import CommandResult, ProcessStart
from workflows.process import command_digest, workflow_id_for

DEFAULT_OPENER = {"party": "national_body", "role": "chair"}


@dataclass
class CommandOutcome:
    accepted: bool
    code: str | None = None
    message: str | None = None
    field: str | None = None
    stage: str | None = None
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    update_id: str | None = None  # the Temporal update the command went as; re-send with it

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def open_payload(process: dict[str, Any], default_on: object) -> dict[str, Any]:
    """The `open_process` command from a scenario's `process:` block.

    `on` (business date, as its source gives it), `actor` and `source` may be given in the
    block; the first two default to the first step's date and the national body's chair.
    """
    body = dict(process)
    occurred_on = body.pop("on", None) or default_on
    actor = body.pop("actor", None) or DEFAULT_OPENER
    source = body.pop("source", None)
    payload = {"actor": actor, "occurred_on": str(occurred_on), "process": body}
    return payload | {"source": source} if source is not None else payload


async def start_process(
    session: Session, process: dict[str, Any], *, default_on: object
) -> CommandOutcome:
    """Decide `open_process` with the domain, then start the workflow (nothing on error).

    The opening is parsed, authorized and checked exactly as the workflow will check it,
    so a refused opening starts nothing; a process id that exists (running or finished,
    in Temporal or in the store) is refused `already_exists`.
    """
    payload = open_payload(process, default_on)
    try:
        command = parse_command("open_process", payload)
        decide(initial_state(), command, today=datetime.now(UTC).date())
    except DomainError as err:
        return CommandOutcome(False, err.code, err.message, err.field)
    config = command.process  # type: ignore[attr-defined]
    workflow_id = workflow_id_for(config.process_id)
    if await session.store.stream_version(workflow_id):
        return _already_exists(config.process_id)
    partner = config.partner.short_name or config.partner.name
    try:
        await session.client.start_workflow(
            "CooperationProcess",
            ProcessStart(open_process=command.model_dump(mode="json")),
            id=workflow_id,
            task_queue=session.task_queue,
            # Never a second run for a process id, whatever the first one became: the
            # workflow checks the store as well, for starts that come from elsewhere.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search.PROCESS_ID, config.process_id),
                    SearchAttributePair(search.PARTNER, partner),
                    SearchAttributePair(search.COUNTRY, config.country),
                    SearchAttributePair(search.STAGE, "contact"),
                ]
            ),
            static_summary=f"{partner} / "
            f"{config.national_body.short_name or config.national_body.name}"
            f" ({config.country}): cooperation process {config.process_id}",
            static_details=_static_details(config),
        )
    except WorkflowAlreadyStartedError:
        return _already_exists(config.process_id)
    return CommandOutcome(True, stage="contact")


def _already_exists(process_id: str) -> CommandOutcome:
    return CommandOutcome(
        False,
        "already_exists",
        f"open_process: process {process_id} already exists; a process is opened once",
        "process.process_id",
    )


_AGENCY_PARTS = {
    "channel": "official channel",
    "consent_required": "consents to missions",
    "reviewer": "reviews reports",
    "escalation_target": "receives escalations",
}


def _static_details(config: Any) -> str:
    # A blank line before the list: the UI's Markdown does not let a list interrupt a
    # paragraph, and would run the agencies together on one line.
    agencies = "\n".join(
        f"- {a.name or a.key} (`{a.key}`): "
        + (", ".join(label for flag, label in _AGENCY_PARTS.items() if getattr(a, flag)) or "-")
        for a in config.agencies
    )
    d = config.durations
    return (
        f"**Partner:** {config.partner.name}\n\n"
        f"**National body:** {config.national_body.name}\n\n"
        f"**Country:** {config.country}\n\n"
        f"**Agencies:**\n\n{agencies}\n\n"
        f"**Durations:** consent deadline {_span(d.consent_deadline)}, review reminders every "
        f"{_span(d.review_reminder_every)}, review deadline {_span(d.review_deadline)}, "
        f"dormancy after {_span(d.dormancy_after)}; at most {config.max_revisions} revision "
        "rounds"
    )


def _span(duration: timedelta) -> str:
    """`90 days` rather than timedelta's `90 days, 0:00:00`; seconds for test timers."""
    if duration and duration % timedelta(days=1) == timedelta(0):
        return f"{duration.days} day{'s' if duration.days != 1 else ''}"
    return f"{duration.total_seconds():g} s"


# Update ids become the events' correlation ids (text columns) and Temporal keys.
UPDATE_ID_MAX = 200
_UPDATE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]+")


def update_id_error(update_id: str) -> str | None:
    """Why `update_id` cannot be used, or None."""
    if not 0 < len(update_id) <= UPDATE_ID_MAX:
        return f"update_id: must be 1 to {UPDATE_ID_MAX} characters, got {len(update_id)}"
    if not _UPDATE_ID.fullmatch(update_id):
        return "update_id: only letters, digits and . _ : @ / + = - are allowed"
    return None


async def send_command(
    session: Session,
    workflow_id: str,
    name: str,
    payload: dict[str, Any],
    *,
    update_id: str | None = None,
) -> CommandOutcome:
    """Send one command as a Temporal update. With the `update_id` of an earlier send, the
    server answers with that update's outcome instead of running the command again (within
    the run): the way to retry after a lost reply. Without one, a new id is drawn and
    reported in the outcome."""
    if update_id is None:
        update_id = str(uuid.uuid4())
    if (problem := update_id_error(update_id)) is not None:
        return CommandOutcome(False, "invalid_input", problem, "update_id")
    outcome = await _send(session, workflow_id, name, payload, update_id)
    outcome.update_id = update_id
    return outcome


# How long `send` keeps re-sending a command the process answered `busy` (it is moving to
# a new run, or at its queue limit) or the server pushed back: nothing was recorded, and
# the update id is kept.
BUSY_RETRY_FOR = timedelta(seconds=60)


async def _send(
    session: Session, workflow_id: str, name: str, payload: dict[str, Any], update_id: str
) -> CommandOutcome:
    handle = session.client.get_workflow_handle(workflow_id)
    delay = 0.05
    waited = 0.0
    while True:
        try:
            result = await handle.execute_update(
                name, payload, id=update_id, result_type=CommandResult
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                if cause.type == "busy" and waited < BUSY_RETRY_FOR.total_seconds():
                    await asyncio.sleep(delay)
                    waited += delay
                    delay = min(delay * 2, 2.0)
                    continue
                details = cause.details[0] if cause.details else {}
                field_name = details.get("field") if isinstance(details, dict) else None
                return CommandOutcome(False, cause.type, cause.message, field_name)
            return CommandOutcome(False, "rejected", str(cause or err))
        except RPCError as err:
            # Back-pressure (too many updates in flight on this workflow, an update aborted
            # while the server reloaded it): nothing was accepted, the same id is safe.
            transient = err.status in (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE)
            if transient and waited < BUSY_RETRY_FOR.total_seconds():
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)
                continue
            return await _closed_process_outcome(session, workflow_id, err)
        break
    if result.command_digest is not None and result.command_digest != _digest(name, payload):
        # Temporal answered an update id it had seen with that update's outcome: the
        # command sent now is another one, and it was NOT recorded.
        return CommandOutcome(
            False,
            "idempotency_conflict",
            f"{name}: update id {update_id} was already used for another command, which is "
            "what was recorded; nothing was recorded for this one (use a new update id)",
            "update_id",
        )
    return CommandOutcome(
        True,
        stage=result.stage,
        events=[e.model_dump() for e in result.events],
    )


def _digest(name: str, payload: dict[str, Any]) -> str | None:
    try:
        return command_digest(parse_command(name, payload))
    except DomainError:
        return None


async def _closed_process_outcome(
    session: Session, workflow_id: str, err: RPCError
) -> CommandOutcome:
    """An update to a finished workflow: the process is terminal (or gone)."""
    try:
        description = await session.client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return CommandOutcome(False, "not_found", f"no process with workflow id {workflow_id}")
    if description.status != WorkflowExecutionStatus.RUNNING:
        stage = await read_status(session, workflow_id)
        return CommandOutcome(
            False,
            "terminal",
            f"process {workflow_id} is {stage.get('stage')} (terminal): it accepts no command",
        )
    # The command may or may not have been recorded: say so, and how to find out safely.
    return CommandOutcome(
        False,
        "outcome_unknown",
        f"the server did not confirm the command ({err.status.name if err.status else 'error'}"
        "); it may have been recorded: check `accord timeline` or `accord status`, or send it"
        " again with the same --update-id (recorded at most once)",
    )


class ProcessNotFound(Exception):
    """No process under that id: no open run answers for it and the store has no stream."""


async def read_status(session: Session, workflow_id: str) -> dict[str, Any]:
    """The `status` query; if no run answers (none, or one that never opened), the state
    folded from the event store; `ProcessNotFound` when there is neither."""
    handle = session.client.get_workflow_handle(workflow_id)
    try:
        view = await handle.query("status")
        return dict(view)
    except (RPCError, WorkflowQueryFailedError):
        from domain import decode_event, fold, process_view

        events = await session.store.read_stream(workflow_id)
        if not events:
            raise ProcessNotFound(f"no process with workflow id {workflow_id}") from None
        state = fold(decode_event(e.event_type, e.schema_version, e.data) for e in events)
        return process_view(state).model_dump(mode="json")


async def list_processes(
    session: Session, *, stage: str | None, partner: str | None, pending: str | None
) -> list[dict[str, Any]]:
    clauses = ["WorkflowType = 'CooperationProcess'"]
    if stage:
        clauses.append(f"AccordStage = '{_quote(stage)}'")
    if partner:
        clauses.append(f"AccordPartner = '{_quote(partner)}'")
    if pending:
        clauses.append(f"AccordPendingAgencies = '{_quote(pending)}'")
    rows = []
    async for wf in session.client.list_workflows(" AND ".join(clauses)):
        attrs = wf.typed_search_attributes
        rows.append(
            {
                "process_id": attrs.get(search.PROCESS_ID),
                "workflow_id": wf.id,
                "status": wf.status.name if wf.status else None,
                "stage": attrs.get(search.STAGE),
                "partner": attrs.get(search.PARTNER),
                "country": attrs.get(search.COUNTRY),
                "pending_agencies": list(attrs.get(search.PENDING_AGENCIES) or []),
                "awaiting": list(attrs.get(search.AWAITING) or []),
                "started": wf.start_time.isoformat() if wf.start_time else None,
            }
        )
    return rows


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def as_workflow_id(process_or_workflow_id: str) -> str:
    """Accept either a process id (`az-icmp`) or its workflow id (`coop-az-icmp`)."""
    if process_or_workflow_id.startswith(PROCESS_STREAM_PREFIX):
        return process_or_workflow_id
    return workflow_id_for(process_or_workflow_id)
