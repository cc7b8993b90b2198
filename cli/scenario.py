"""`accord scenario run FILE`: play a scenario file against a real process.

A scenario names the process to open and a list of steps: DOMAIN.md commands with their
business date and actor (optionally expected to be rejected with a given code),
expectations on the `status` view, and waits for timers. Each run opens its own process
(the process id gets a run suffix), so the same file can be played any number of times.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from cli.operations import (
    CommandOutcome,
    read_status,
    send_command,
    start_process,
)
from cli.session import Session
from cli.verification import verification_json
from domain import decode_event, describe, fold
from workflows.process import workflow_id_for

_DURATION = TypeAdapter(timedelta)


class ScenarioError(Exception):
    """The scenario file itself is malformed (names the step and the field)."""


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    command: str | None = None
    on: date | None = None
    actor: dict[str, Any] | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    expect_rejected: str | None = None
    expect: dict[str, Any] | None = None
    wait: timedelta | None = None
    wait_for: dict[str, Any] | None = None
    timeout: timedelta = timedelta(seconds=60)
    note: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k in ("command", "wait", "wait_for") if getattr(self, k) is not None]
        if self.expect is not None and not kinds:
            kinds.append("expect")
        if len(kinds) != 1:
            raise ValueError(
                "each step has exactly one of: command, expect, wait, wait_for "
                f"(found {kinds or 'none'})"
            )
        if self.command is not None and (self.on is None or self.actor is None):
            raise ValueError("a command step needs `on` (business date) and `actor`")
        return self

    @property
    def kind(self) -> Literal["command", "expect", "wait", "wait_for"]:
        if self.command is not None:
            return "command"
        if self.wait is not None:
            return "wait"
        if self.wait_for is not None:
            return "wait_for"
        return "expect"


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    process: dict[str, Any]
    steps: list[Step]


class _ScenarioLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read the `on:` key as True."""


_ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ScenarioLoader)


def load(path: Path) -> Scenario:
    try:
        raw = read_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ScenarioError(f"{path}: cannot read scenario: {err}") from err
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(f"{path}: {where}: {first['msg']}") from err


@dataclass
class StepResult:
    index: int
    kind: str
    ok: bool
    command: str | None = None
    on: str | None = None
    outcome: str | None = None  # accepted / rejected / matched / mismatched / waited
    code: str | None = None
    message: str | None = None
    stage: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


@dataclass
class ScenarioRun:
    file: str
    process_id: str
    workflow_id: str
    run_suffix: str
    final_stage: str
    ok: bool
    steps: list[StepResult]
    events: list[dict[str, Any]]
    verify: dict[str, Any]
    ui_url: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "process_id": self.process_id,
            "workflow_id": self.workflow_id,
            "run_suffix": self.run_suffix,
            "final_stage": self.final_stage,
            "ok": self.ok,
            "steps": [s.to_json() for s in self.steps],
            "events": self.events,
            "verify": self.verify,
            "ui_url": self.ui_url,
        }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _mismatches(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Keys of `expected` whose value differs from the status view (lists compare as sets)."""
    problems = []
    for key, want in _jsonable(expected).items():
        if key not in actual:
            problems.append(f"{key}: not in the status view")
            continue
        got = actual[key]
        if isinstance(want, list) and isinstance(got, list):
            same = sorted(map(str, want)) == sorted(map(str, got))
        elif isinstance(want, dict) and isinstance(got, dict):
            same = not _mismatches(want, got)
        else:
            same = want == got
        if not same:
            problems.append(f"{key}: expected {want!r}, got {got!r}")
    return problems


def _progress(line: str, quiet: bool) -> None:
    if not quiet:
        import sys

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
    first_date = next((s.on for s in steps if s.on is not None), date.today())
    opened = await start_process(
        session, {**scenario.process, "process_id": process_id}, default_on=first_date
    )
    if not opened.accepted:
        raise ScenarioError(
            f"{path}: process: open_process rejected: {opened.code}: {opened.message}"
        )
    _progress(f"opened {process_id} (workflow {workflow_id}, run suffix {run_suffix})", quiet)

    results: list[StepResult] = []
    for index, step in enumerate(steps, start=1):
        result = await _play(session, workflow_id, index, step)
        results.append(result)
        mark = "ok " if result.ok else "FAIL"
        detail = result.command or result.kind
        if result.code:
            detail += f" -> {result.code}"
        _progress(f"  [{mark}] {index:>3} {detail} {result.message or ''}".rstrip(), quiet)

    status = await read_status(session, workflow_id)
    events = await session.store.read_stream(workflow_id)
    decoded = [decode_event(e.event_type, e.schema_version, e.data) for e in events]
    config = fold(decoded).config
    report = await session.store.verify(workflow_id)
    return ScenarioRun(
        file=str(path),
        process_id=process_id,
        workflow_id=workflow_id,
        run_suffix=run_suffix,
        final_stage=str(status.get("stage")),
        ok=all(r.ok for r in results),
        steps=results,
        events=[
            {
                "position": e.position,
                "version": e.version,
                "type": e.event_type,
                "schema_version": e.schema_version,
                "occurred_on": e.metadata.occurred_on.isoformat(),
                "actor": dict(e.metadata.actor) if e.metadata.actor else None,
                "data": e.data,
                "summary": describe(event, config),
            }
            for e, event in zip(events, decoded, strict=True)
        ],
        verify=verification_json(report),
        ui_url=session.ui_url,
    )


async def _play(session: Session, workflow_id: str, index: int, step: Step) -> StepResult:
    if step.kind == "command":
        assert step.command is not None and step.on is not None and step.actor is not None
        payload = _jsonable({**step.with_, "actor": step.actor, "occurred_on": step.on})
        outcome: CommandOutcome = await send_command(session, workflow_id, step.command, payload)
        expected = step.expect_rejected
        if expected is None:
            ok = outcome.accepted
        else:
            ok = not outcome.accepted and outcome.code == expected
        message = outcome.message
        if expected is not None and outcome.accepted:
            message = f"expected rejection {expected}, but it was accepted"
        result = StepResult(
            index=index,
            kind="command",
            ok=ok,
            command=step.command,
            on=step.on.isoformat(),
            outcome="accepted" if outcome.accepted else "rejected",
            code=outcome.code,
            message=message,
            stage=outcome.stage,
            events=outcome.events,
            note=step.note,
        )
        if ok and step.expect:
            status = await read_status(session, workflow_id)
            problems = _mismatches(step.expect, status)
            if problems:
                result.ok, result.message = False, "; ".join(problems)
        return result
    if step.kind == "wait":
        assert step.wait is not None
        await asyncio.sleep(step.wait.total_seconds())
        return StepResult(index=index, kind="wait", ok=True, outcome="waited", note=step.note)
    want = step.wait_for if step.kind == "wait_for" else step.expect
    assert want is not None
    deadline = asyncio.get_running_loop().time() + (
        step.timeout.total_seconds() if step.kind == "wait_for" else 0
    )
    while True:
        status = await read_status(session, workflow_id)
        problems = _mismatches(want, status)
        if not problems or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.25)
    return StepResult(
        index=index,
        kind=step.kind,
        ok=not problems,
        outcome="matched" if not problems else "mismatched",
        message="; ".join(problems) or None,
        stage=str(status.get("stage")),
        note=step.note,
    )


def render_story(run: ScenarioRun) -> str:
    """The timeline as a person reads it, then where to look further."""
    lines = [f"Process {run.process_id} (workflow {run.workflow_id})", ""]
    for e in run.events:
        lines.append(f"  {e['occurred_on']}  {e['summary']}")
    lines.append("")
    lines.append(f"Final stage: {run.final_stage}")
    verify = run.verify
    lines.append(
        "Hash chain: verified"
        if verify.get("ok")
        else f"Hash chain: BROKEN at {verify.get('breaks')}"
    )
    failed = [s for s in run.steps if not s.ok]
    lines.append(
        f"Steps: {len(run.steps)} played, {len(failed)} failed"
        + "".join(f"\n  step {s.index} ({s.command or s.kind}): {s.message}" for s in failed)
    )
    if run.ui_url:
        lines.append(f"Temporal UI: {run.ui_url}/namespaces/default/workflows/{run.workflow_id}")
    return "\n".join(lines)
