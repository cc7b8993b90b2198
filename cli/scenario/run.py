"""Playing a scenario against a real process: open it (each run under its own id), play
the steps in order (commands, waits, polls, checks), and gather the results and the
events recorded."""

from __future__ import annotations

import asyncio
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from cli.operations import CommandOutcome, read_status, send_command, start_process
from cli.scenario.load import load, one_line
from cli.scenario.matching import event_check_problem, rejection_problem, status_mismatches
from cli.scenario.results import ScenarioRun, StepResult
from cli.scenario.steps import (
    WAIT_FOR_TIMEOUT,
    AnyStep,
    CommandStep,
    ExpectStep,
    WaitForStep,
    WaitStep,
)
from cli.session import Session
from cli.verification import verification_json
from domain import decode_event, describe, fold
from workflows.process import workflow_id_for


def _progress(line: str, quiet: bool) -> None:
    if not quiet:
        print(line, file=sys.stderr, flush=True)


async def run_scenario(
    session: Session, path: Path, *, quiet: bool = False, suffix: str | None = None
) -> ScenarioRun:
    scenario = load(path)
    run_suffix = suffix or secrets.token_hex(3)
    base_id = str(scenario.process.get("process_id", path.stem))
    process_id = f"{base_id}-{run_suffix}"
    workflow_id = workflow_id_for(process_id)
    steps = scenario.steps
    first_date = next(
        (d for s in steps if (d := s.business_date) is not None), datetime.now(UTC).date()
    )
    opened = await start_process(
        session, {**scenario.process, "process_id": process_id}, default_on=first_date
    )
    expected = scenario.opening.expect_rejected
    opening = StepResult(
        index=0,
        kind="open",
        ok=True,
        command="open_process",
        outcome="accepted" if opened.accepted else "rejected",
        code=opened.code,
        field=opened.field,
        message=opened.message,
        stage=opened.stage,
        note=scenario.opening.note,
    )
    opening.fail([p for p in [rejection_problem(expected, opened)] if p])
    if not opened.accepted:
        if expected is not None:
            # A refused opening leaves nothing behind: no workflow, no event.
            opening.fail(await _left_behind(session, workflow_id))
        mark = "ok " if opening.ok else "FAIL"
        _progress(f"  [{mark}] open_process -> {opened.code} {opening.message or ''}", quiet)
        return await _finish(session, path, process_id, workflow_id, run_suffix, opening, [])
    if (unrecorded := await _recorded_opening(session, workflow_id)) is not None:
        opening.fail([unrecorded])
        return await _finish(session, path, process_id, workflow_id, run_suffix, opening, [])
    _progress(f"opened {process_id} (workflow {workflow_id}, run suffix {run_suffix})", quiet)

    results: list[StepResult] = []
    # Each step's `expect_events` window starts where the previous step's ended (step 1's
    # at the opening, so it holds ProcessOpened).
    seen = 0
    for index, step in enumerate(steps, start=1):
        result = await _play(session, workflow_id, index, step, seen)
        seen = await session.store.stream_version(workflow_id)
        results.append(result)
        mark = "ok " if result.ok else "FAIL"
        detail = result.command or result.kind
        if result.code:
            detail += f" -> {result.code}"
        _progress(f"  [{mark}] {index:>3} {detail} {result.message or ''}".rstrip(), quiet)
    return await _finish(session, path, process_id, workflow_id, run_suffix, opening, results)


# How long the player waits for the started workflow to record ProcessOpened.
OPENING_WITHIN = timedelta(seconds=60)


async def _recorded_opening(session: Session, workflow_id: str) -> str | None:
    """Wait for ProcessOpened in the store; None once it is there, else why not.

    The run answers `status` and refuses commands before it has recorded its opening (the
    `status` query shows the opening it is recording), so without this wait step 1 could
    find the store still empty. A run that ended without recording it is reported at once,
    with its failure, rather than after the whole wait.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OPENING_WITHIN.total_seconds()
    polls = 0
    while not await session.store.stream_version(workflow_id):
        polls += 1
        if polls % 20 == 0 and (ended := await _ended_unopened(session, workflow_id)):
            return ended
        if loop.time() >= deadline:
            return f"ProcessOpened not recorded within {OPENING_WITHIN.total_seconds():g} s"
        await asyncio.sleep(0.05)
    return None


async def _ended_unopened(session: Session, workflow_id: str) -> str | None:
    handle = session.client.get_workflow_handle(workflow_id)
    try:
        status = (await handle.describe()).status
    except RPCError:
        return None  # not visible yet: keep waiting
    if status in (None, WorkflowExecutionStatus.RUNNING):
        return None
    if await session.store.stream_version(workflow_id):
        return None  # recorded after all, just before it ended
    cause: BaseException | None = None
    try:
        await handle.result()
    except WorkflowFailureError as err:
        cause = err.cause
    except Exception as err:  # cancelled, terminated, timed out: the status says enough
        cause = err
    code = cause.type if isinstance(cause, ApplicationError) else None
    why = f"{code}: {cause.message}" if isinstance(cause, ApplicationError) else status.name
    return f"the workflow ended without recording ProcessOpened ({one_line(str(why))})"


async def _left_behind(session: Session, workflow_id: str) -> list[str]:
    """What a refused opening left: a workflow, events. Empty when nothing."""
    problems = []
    try:
        await session.client.get_workflow_handle(workflow_id).describe()
        problems.append(f"a workflow {workflow_id} was started")
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            problems.append(f"cannot check that no workflow started: {err.message}")
    if await session.store.stream_version(workflow_id):
        problems.append(f"events were recorded in {workflow_id}")
    return problems


async def _finish(
    session: Session,
    path: Path,
    process_id: str,
    workflow_id: str,
    run_suffix: str,
    opening: StepResult,
    results: list[StepResult],
) -> ScenarioRun:
    events = await session.store.read_stream(workflow_id)
    final_stage = None
    if events:  # a run that never recorded its opening has no stage to show
        final_stage = str((await read_status(session, workflow_id)).get("stage"))
    decoded = [decode_event(e.event_type, e.schema_version, e.data) for e in events]
    config = fold(decoded).config if decoded else None
    report = await session.store.verify(workflow_id)
    return ScenarioRun(
        file=str(path),
        process_id=process_id,
        workflow_id=workflow_id,
        run_suffix=run_suffix,
        final_stage=final_stage,
        ok=opening.ok and all(r.ok for r in results),
        steps=results,
        events=[
            {
                "position": e.position,
                "version": e.version,
                "type": e.event_type,
                "schema_version": e.schema_version,
                "occurred_on": e.metadata.occurred_on,
                "actor": dict(e.metadata.actor) if e.metadata.actor else None,
                "data": e.data,
                "summary": describe(event, config),
            }
            for e, event in zip(events, decoded, strict=True)
        ],
        verify=verification_json(report),
        ui_url=session.ui_url,
        opening=opening,
    )


async def _play(
    session: Session, workflow_id: str, index: int, step: AnyStep, seen: int
) -> StepResult:
    """The step's action, then its checks (skipped when the action already failed: they
    would only repeat the failure)."""
    result = StepResult(index=index, kind=step.kind, ok=True, note=step.note)
    match step:
        case CommandStep():
            await _send(session, workflow_id, step, result)
        case WaitStep():
            await asyncio.sleep(step.wait.total_seconds())
            result.outcome = "waited"
        case WaitForStep():
            await _wait_for(session, workflow_id, step, result)
        case ExpectStep():
            pass
    if result.ok:
        await _check(session, workflow_id, step, seen, result)
    return result


async def _send(session: Session, workflow_id: str, step: CommandStep, result: StepResult) -> None:
    payload = step.payload()
    outcome: CommandOutcome = await send_command(session, workflow_id, step.command, payload)
    sent_on = payload.get("occurred_on")
    result.command = step.command
    result.on = sent_on if isinstance(sent_on, str) else None
    result.outcome = "accepted" if outcome.accepted else "rejected"
    result.code, result.field, result.message = outcome.code, outcome.field, outcome.message
    result.stage, result.events = outcome.stage, outcome.events
    problem = rejection_problem(step.expect_rejected, outcome)
    if problem is not None:
        result.fail([problem])


async def _wait_for(
    session: Session, workflow_id: str, step: WaitForStep, result: StepResult
) -> None:
    timeout = step.timeout or WAIT_FOR_TIMEOUT
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout.total_seconds()
    while True:
        status = await read_status(session, workflow_id)
        problems = status_mismatches(step.wait_for, status)
        if not problems or loop.time() >= deadline:
            break
        await asyncio.sleep(0.25)
    result.outcome = "matched" if not problems else "mismatched"
    result.stage = str(status.get("stage"))
    if problems:
        result.fail([f"not within {timeout.total_seconds():g} s: {'; '.join(problems)}"])


async def _check(
    session: Session, workflow_id: str, step: AnyStep, seen: int, result: StepResult
) -> None:
    """`expect`, then `expect_events` (the events recorded since version `seen`, or all)."""
    problems = []
    if step.expect is not None:
        status = await read_status(session, workflow_id)
        result.stage = str(status.get("stage"))
        problems += status_mismatches(step.expect, status)
        if step.kind == "expect":
            result.outcome = "mismatched" if problems else "matched"
    if step.expect_events:
        recorded = [_event_json(e) for e in await session.store.read_stream(workflow_id)]
        during = [e for e in recorded if e["version"] > seen]
        problems += [
            p for c in step.expect_events if (p := event_check_problem(c, during, recorded))
        ]
        if step.kind == "expect" and step.expect is None:
            result.outcome = "mismatched" if problems else "matched"
    result.fail(problems)


def _event_json(e: Any) -> dict[str, Any]:
    return {
        "version": e.version,
        "type": e.event_type,
        "occurred_on": e.metadata.occurred_on,
        "actor": dict(e.metadata.actor) if e.metadata.actor else None,
        "data": e.data,
    }
