"""`accord scenario run FILE`: play a scenario file against a real process.

A scenario names the process to open (and, optionally, that the opening must be refused)
and a list of steps: DOMAIN.md commands with their business date and actor (optionally
expected to be rejected with a given code, field and message; optionally sent exactly as
written with `raw: true`), expectations on the `status` view and on the events recorded,
and waits for timers. Each run opens its own process (the process id gets a run suffix),
so the same file can be played any number of times. README "Scenario files" is the
reference.

The matching (`status_mismatches`, `event_check_problem`, `rejection_problem`) is pure, so
it is unit-tested without Temporal (tests/workflows/test_scenario_language.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from cli.operations import (
    CommandOutcome,
    read_status,
    send_command,
    start_process,
)
from cli.session import Session
from cli.verification import verification_json
from domain import EVENTS, decode_event, describe, fold
from domain.dates import RULE, BusinessDate
from domain.text import echo
from workflows.process import workflow_id_for


class ScenarioError(Exception):
    """The scenario file itself is malformed (names the step and the key): exit 2."""


# --- the file's model ----------------------------------------------------------------------

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class Rejection(BaseModel):
    """`expect_rejected`: the code, and optionally the field it names and a part of its
    message. The short form `expect_rejected: not_allowed` is `{code: not_allowed}`."""

    model_config = _STRICT

    code: str = Field(min_length=1)
    field: str | None = None
    message_contains: str | None = Field(default=None, min_length=1)

    def describe(self) -> str:
        parts = [self.code]
        if self.field is not None:
            parts.append(f"field {self.field}")
        if self.message_contains is not None:
            parts.append(f"message containing {self.message_contains!r}")
        return ", ".join(parts)


def _rejection(value: Any) -> Any:
    return {"code": value} if isinstance(value, str) else value


def _date_text(value: Any) -> Any:
    """A business date as the file writes it. YAML reads `on: 2021` as a number: that is
    the year 2021 (EDTF), not a timestamp; any other number or type is refused."""
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return str(value)
    if value is not None and not isinstance(value, str | date | BusinessDate):
        raise ValueError(RULE)
    return value


class EventCheck(BaseModel):
    """One `expect_events` entry: how many events of `type` whose data (and optionally
    business date and actor) match, recorded during the step (`scope: step`, the default)
    or since the opening (`scope: all`)."""

    model_config = _STRICT

    type: str
    data: dict[str, Any] = Field(default_factory=dict)
    on: BusinessDate | None = None
    actor: dict[str, Any] | None = None
    count: NonNegativeInt | None = None
    min: NonNegativeInt | None = None
    max: NonNegativeInt | None = None
    scope: Literal["step", "all"] = "step"

    @field_validator("on", mode="before")
    @classmethod
    def date_text(cls, value: Any) -> Any:
        return _date_text(value)

    @model_validator(mode="after")
    def _known_and_consistent(self) -> EventCheck:
        event = EVENTS.get(self.type)
        if event is None:
            # The type is the author's own text: naming the key is enough to find it.
            raise ValueError("type: not an event type of DOMAIN.md (e.g. Escalated)")
        fields = set(event.model_fields)
        for key in self.data:
            if key not in fields:
                # A misspelt key would match nothing, and `count: 0` would then pass.
                raise ValueError(f"data: {key} is not a field of {self.type}")
        if self.count is not None and (self.min is not None or self.max is not None):
            raise ValueError("count: give either count or min/max, not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min: must not be greater than max")
        return self

    @property
    def bounds(self) -> tuple[int, int | None]:
        """(at least, at most): `count` is both; nothing given is "at least one"."""
        if self.count is not None:
            return self.count, self.count
        if self.min is None and self.max is None:
            return 1, None
        return self.min or 0, self.max

    def describe(self) -> str:
        low, high = self.bounds
        if low == high:
            return f"exactly {low}"
        if high is None:
            return f"at least {low}"
        if low == 0:
            return f"at most {high}"
        return f"{low} to {high}"


# Keys only a command step takes, and what each step kind is made of.
_COMMAND_KEYS = ("on", "actor", "source", "with_", "raw", "expect_rejected")
_KINDS = ("command", "wait", "wait_for")


class Step(BaseModel):
    """One step: a command, a pause (`wait`), a poll (`wait_for`), or only checks
    (`expect`, `expect_events`). Every kind may carry `expect` and `expect_events`,
    checked once its action is done; `note` is free text for the reader."""

    model_config = _STRICT

    command: str | None = None
    on: BusinessDate | None = None
    actor: dict[str, Any] | None = None
    # The source the command cites: a key of the scenario's `sources:`, that key with a
    # locator ({cite: key, locator: "paragraph 4"}), or a whole {title, publisher?, date,
    # locator?}; sent as the command's `source` (resolved by `Scenario`).
    source: str | dict[str, Any] | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    raw: bool = False
    # `raw: true`: `on` and `actor` as written (absent, or any value), sent as
    # `occurred_on` and `actor` without the player's checks; filled in by `_as_written`.
    as_written: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)
    expect_rejected: Rejection | None = None
    expect: dict[str, Any] | None = None
    expect_events: list[EventCheck] | None = None
    wait: timedelta | None = None
    wait_for: dict[str, Any] | None = None
    timeout: timedelta | None = None
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _as_written(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "as_written" in data:
            raise ValueError("as_written: not a scenario key (use raw: true with on and actor)")
        if data.get("raw") is not True:
            return data
        data = dict(data)
        sent = {}
        if "actor" in data:
            sent["actor"] = data.pop("actor")
        if "on" in data:
            sent["occurred_on"] = data.pop("on")
        data["as_written"] = sent
        return data

    @field_validator("expect_rejected", mode="before")
    @classmethod
    def short_rejection(cls, value: Any) -> Any:
        return _rejection(value)

    @field_validator("on", mode="before")
    @classmethod
    def date_text(cls, value: Any) -> Any:
        return _date_text(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k in _KINDS if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise ValueError(f"{kinds[1]}: a step has only one of command, wait, wait_for")
        if not kinds and self.expect is None and self.expect_events is None:
            raise ValueError(
                "command: each step has one of command, expect, expect_events, wait, wait_for"
            )
        if self.command is None:
            for key in _COMMAND_KEYS:
                if key in self.model_fields_set:
                    shown = "with" if key == "with_" else key
                    raise ValueError(f"{shown}: only a command step takes it")
        else:
            clash = {"actor", "occurred_on", "source"} & set(self.with_)
            if clash:
                given = min(clash)
                raise ValueError(
                    f"with: {given} is given as the step's "
                    f"{'on' if given == 'occurred_on' else given}, not in with"
                )
            if not self.raw and self.on is None:
                raise ValueError("on: a command step needs its business date")
            if not self.raw and self.actor is None:
                raise ValueError("actor: a command step needs its actor {party, role}")
        if self.timeout is not None and self.wait_for is None:
            raise ValueError("timeout: only a wait_for step takes it")
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

    @property
    def business_date(self) -> BusinessDate | None:
        """`on`, or a raw step's `on` when it is a valid date (for the opening's default)."""
        if not self.raw:
            return self.on
        try:
            return BusinessDate.parse(str(self.as_written.get("occurred_on")))
        except ValueError:
            return None

    def payload(self) -> dict[str, Any]:
        """The command's JSON: `with`, plus `actor` and `occurred_on` (as written when raw)."""
        if self.raw:
            body = {**self.with_, **self.as_written}
        else:
            body = {**self.with_, "actor": self.actor, "occurred_on": self.on}
        if self.source is not None and not self.raw:
            body["source"] = self.source
        payload: dict[str, Any] = _jsonable(body)
        return payload


WAIT_FOR_TIMEOUT = timedelta(seconds=60)


class Opening(BaseModel):
    """`open:`: what the opening must do. Absent, it must be accepted."""

    model_config = _STRICT

    expect_rejected: Rejection | None = None
    note: str | None = None

    @field_validator("expect_rejected", mode="before")
    @classmethod
    def short_rejection(cls, value: Any) -> Any:
        return _rejection(value)


class Scenario(BaseModel):
    model_config = _STRICT

    name: str | None = None
    description: str | None = None
    # Sources the steps cite by key: {key: {title, publisher?, date, locator?}}.
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    process: dict[str, Any]
    opening: Opening = Field(default_factory=Opening, alias="open")
    steps: list[Step] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cited_sources(self) -> Scenario:
        """Each `source:` by key becomes the source itself (with the step's locator)."""
        if "source" in self.process:
            self.process = {**self.process, "source": self._source(self.process["source"])}
        for step in self.steps:
            if step.source is not None:
                step.source = self._source(step.source)
        return self

    def _source(self, cited: Any) -> dict[str, Any]:
        if isinstance(cited, str):
            cited = {"cite": cited}
        if not isinstance(cited, dict):
            raise ValueError("source: a key of sources, {cite: key, locator}, or a source")
        if "cite" not in cited:
            return cited
        key = cited["cite"]
        known = self.sources.get(key) if isinstance(key, str) else None
        if known is None:
            raise ValueError(f"source: {echo(str(key))} is not a key of sources")
        return {**known, **{k: v for k, v in cited.items() if k != "cite"}}

    @model_validator(mode="after")
    def _nothing_after_a_refused_opening(self) -> Scenario:
        if self.opening.expect_rejected is not None and self.steps:
            raise ValueError("steps: a scenario whose opening is refused has no steps")
        return self


class _ScenarioLoader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false: YAML 1.1 would read the `on:` key as True), and
    no timestamps: dates stay text, so that `on: 2023-13-45` reaches a raw step as written
    (YAML 1.1 would fail to build a date from it); typed keys parse their dates."""


_ScenarioLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
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
    """The scenario in `path`, or `ScenarioError` with one line naming the step and key."""
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        reason = err.strerror if isinstance(err, OSError) else _first_line(str(err))
        raise ScenarioError(f"{path}: cannot read scenario: {reason}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with process and steps")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        errors = err.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ScenarioError(f"{path}: {_explain(errors[0])}{more}") from None


def _explain(error: ErrorDetails) -> str:
    """`step 3: expect_events[1].count: ...` from a pydantic error (never the value)."""
    loc = list(error["loc"])
    where: list[str] = []
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        where.append(f"step {loc[1] + 1}")
        loc = loc[2:]
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part + 1}]"  # entries count from 1, as steps do
        else:
            path += ("." if path else "") + ("with" if part == "with_" else str(part))
    if path:
        where.append(path)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required"
    return ": ".join([*where, _first_line(message)])


def _first_line(text: str) -> str:
    return " ".join(text.split())


# --- matching (pure) -----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _awaiting_label(item: Any) -> str:
    """`partner: start_mission`, from a view entry {party, command, ...} or as written."""
    if isinstance(item, Mapping):
        return f"{item.get('party')}: {item.get('command')}"
    party, sep, command = str(item).partition(":")
    return f"{party.strip()}: {command.strip()}" if sep else str(item).strip()


def status_mismatches(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Keys of `expected` whose value differs from the status view. Lists compare as
    multisets (order-insensitive); dicts as subsets; `awaiting` as `party: command`
    labels."""
    problems = []
    for key, want in _jsonable(dict(expected)).items():
        if key not in actual:
            problems.append(f"{key}: not in the status view")
            continue
        got = actual[key]
        if key == "awaiting" and isinstance(want, list) and isinstance(got, list | tuple):
            want = sorted(_awaiting_label(w) for w in want)
            got = sorted(_awaiting_label(g) for g in got)
            same = want == got
        elif isinstance(want, list) and isinstance(got, list | tuple):
            same = sorted(map(str, want)) == sorted(map(str, got))
        elif isinstance(want, dict) and isinstance(got, Mapping):
            same = not status_mismatches(want, got)
        else:
            same = want == got
        if not same:
            problems.append(f"{key}: expected {want!r}, got {got!r}")
    return problems


# The name older code and tests use.
_mismatches = status_mismatches


def data_matches(want: Any, got: Any) -> bool:
    """`want` within `got`: dicts as subsets (recursively), lists item by item in order and
    of the same length, anything else equal (after JSON: dates as text)."""
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(
            k in got and data_matches(v, got[k]) for k, v in want.items()
        )
    if isinstance(want, list | tuple):
        return (
            isinstance(got, list | tuple)
            and len(want) == len(got)
            and all(data_matches(w, g) for w, g in zip(want, got, strict=True))
        )
    return bool(want == got)


def _event_matches(check: EventCheck, event: Mapping[str, Any]) -> bool:
    if event.get("type") != check.type:
        return False
    if not data_matches(_jsonable(check.data), event.get("data") or {}):
        return False
    if check.on is not None and event.get("occurred_on") != str(check.on):
        return False
    return check.actor is None or data_matches(_jsonable(check.actor), event.get("actor") or {})


def event_check_problem(
    check: EventCheck, step_events: Sequence[Mapping[str, Any]], all_events: Sequence[Any]
) -> str | None:
    """Why `check` fails on the events (each {type, data, occurred_on, actor}), or None."""
    events = all_events if check.scope == "all" else step_events
    found = sum(1 for e in events if _event_matches(check, e))
    low, high = check.bounds
    if found >= low and (high is None or found <= high):
        return None
    what = check.type
    if check.data or check.on or check.actor:
        shown = {**check.data}
        if check.on is not None:
            shown["on"] = str(check.on)
        if check.actor is not None:
            shown["actor"] = check.actor
        what += " " + json.dumps(_jsonable(shown), ensure_ascii=False)
    where = "so far" if check.scope == "all" else "during the step"
    same_type = sum(1 for e in events if e.get("type") == check.type)
    other = f" ({same_type - found} {check.type} with other data)" if same_type > found else ""
    return f"expect_events: {what}: expected {check.describe()} {where}, found {found}{other}"


def rejection_problem(expected: Rejection | None, outcome: CommandOutcome) -> str | None:
    """Why the outcome does not answer the expectation (accepted, or refused with `expected`)."""
    if expected is None:
        if outcome.accepted:
            return None
        return f"rejected {outcome.code}: {outcome.message}"
    if outcome.accepted:
        return f"expected rejection {expected.describe()}, but it was accepted"
    wrong = []
    if outcome.code != expected.code:
        wrong.append(f"code {outcome.code}")
    if expected.field is not None and outcome.field != expected.field:
        wrong.append(f"field {outcome.field}")
    if expected.message_contains is not None and expected.message_contains not in (
        outcome.message or ""
    ):
        wrong.append("a message without it")
    if not wrong:
        return None
    return f"expected rejection {expected.describe()}, got {', '.join(wrong)}: {outcome.message}"


# --- results ------------------------------------------------------------------------------


@dataclass
class StepResult:
    index: int
    kind: str
    ok: bool
    command: str | None = None
    on: str | None = None
    outcome: str | None = None  # accepted / rejected / matched / mismatched / waited
    code: str | None = None
    field: str | None = None
    message: str | None = None
    stage: str | None = None
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}

    def fail(self, problems: list[str]) -> None:
        if problems:
            self.ok = False
            self.message = _first_line("; ".join(problems))


@dataclass
class ScenarioRun:
    file: str
    process_id: str
    workflow_id: str
    run_suffix: str
    final_stage: str | None  # None: the process was never opened
    ok: bool
    steps: list[StepResult]
    events: list[dict[str, Any]]
    verify: dict[str, Any]
    ui_url: str | None
    opening: StepResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "process_id": self.process_id,
            "workflow_id": self.workflow_id,
            "run_suffix": self.run_suffix,
            "final_stage": self.final_stage,
            "ok": self.ok,
            "opening": self.opening.to_json() if self.opening else None,
            "steps": [s.to_json() for s in self.steps],
            "events": self.events,
            "verify": self.verify,
            "ui_url": self.ui_url,
        }


def failure_line(run: ScenarioRun) -> str | None:
    """One line saying why the run failed (the first failed step), or None."""
    failed = [s for s in ([run.opening] if run.opening else []) + run.steps if not s.ok]
    if failed:
        first = failed[0]
        what = "open" if first.kind == "open" else f"step {first.index}"
        more = f" (and {len(failed) - 1} more failed)" if len(failed) > 1 else ""
        return f"{run.file}: {what} ({first.command or first.kind}): {first.message}{more}"
    if not run.verify.get("ok"):
        return f"{run.file}: hash chain broken: {run.verify.get('breaks')}"
    return None


def _progress(line: str, quiet: bool) -> None:
    if not quiet:
        print(line, file=sys.stderr, flush=True)


# --- playing --------------------------------------------------------------------------------


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
    return f"the workflow ended without recording ProcessOpened ({_first_line(str(why))})"


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
    session: Session, workflow_id: str, index: int, step: Step, seen: int
) -> StepResult:
    result = StepResult(index=index, kind=step.kind, ok=True, note=step.note)
    if step.kind == "command":
        assert step.command is not None
        outcome: CommandOutcome = await send_command(
            session, workflow_id, step.command, step.payload()
        )
        sent_on = step.payload().get("occurred_on")
        result.command = step.command
        result.on = sent_on if isinstance(sent_on, str) else None
        result.outcome = "accepted" if outcome.accepted else "rejected"
        result.code, result.field, result.message = outcome.code, outcome.field, outcome.message
        result.stage, result.events = outcome.stage, outcome.events
        problem = rejection_problem(step.expect_rejected, outcome)
        if problem is not None:
            result.fail([problem])
            return result  # the checks after it would only repeat the failure
    elif step.kind == "wait":
        assert step.wait is not None
        await asyncio.sleep(step.wait.total_seconds())
        result.outcome = "waited"
    elif step.kind == "wait_for":
        assert step.wait_for is not None
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
            return result
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
    return result


def _event_json(e: Any) -> dict[str, Any]:
    return {
        "version": e.version,
        "type": e.event_type,
        "occurred_on": e.metadata.occurred_on,
        "actor": dict(e.metadata.actor) if e.metadata.actor else None,
        "data": e.data,
    }


def render_story(run: ScenarioRun) -> str:
    """The timeline as a person reads it, then where to look further."""
    if run.final_stage is None and run.opening is not None:
        o = run.opening
        verdict = "as expected" if o.ok else f"FAILED: {o.message}"
        return (
            f"Process {run.process_id} was not opened: open_process refused {o.code} "
            f"({verdict}); no workflow started, nothing recorded"
            if o.ok
            else f"Process {run.process_id} was not opened: {verdict}"
        )
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
    if run.opening is not None and not run.opening.ok:
        failed.insert(0, run.opening)
    lines.append(
        f"Steps: {len(run.steps)} played, {len(failed)} failed"
        + "".join(f"\n  step {s.index} ({s.command or s.kind}): {s.message}" for s in failed)
    )
    if run.ui_url:
        lines.append(f"Temporal UI: {run.ui_url}/namespaces/default/workflows/{run.workflow_id}")
    return "\n".join(lines)
