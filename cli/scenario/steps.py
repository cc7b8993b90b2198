"""A scenario's steps: one kind each, told apart by the key it carries.

A step is a command (`command`), a pause (`wait`), a poll of the status view (`wait_for`),
or checks alone (`expect`, `expect_events`). `AnyStep` is the discriminated union the file
is read with: each kind takes only its own keys, so a key of another kind is refused by
the kind itself (the message naming whose key it is comes from `load`).

Code that walks a scenario (the player, the report's story, the benchmarks) asks every
step what it sends; the kinds that send no command answer "nothing" (`SendsNoCommand`)
rather than making each caller ask the kind first.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from cli.scenario.expectations import STRICT, EventCheck, Rejection, date_text
from domain.dates import BusinessDate

StepKind = Literal["command", "wait", "wait_for", "expect"]

# The keys that make a step's kind, in the order a clash names them.
ACTIONS = ("command", "wait", "wait_for")

# Given to a step of another kind, these keys are named as whose they are.
COMMAND_KEYS = ("on", "actor", "source", "with", "raw", "expect_rejected")
AS_WRITTEN = "not a scenario key (use raw: true with on and actor)"

WAIT_FOR_TIMEOUT = timedelta(seconds=60)


class Step(BaseModel):
    """What every step may carry: checks run once its action is done, and a note."""

    model_config = STRICT

    kind: ClassVar[StepKind]

    expect: dict[str, Any] | None = None
    expect_events: list[EventCheck] | None = None
    note: str | None = None

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> AnyStep:
        """`Step.model_validate(data)` reads a step of any kind, as a scenario file does;
        on a kind (`WaitStep.model_validate`) it reads only that kind."""
        if cls is not Step:
            # A kind reads itself: the result is that kind, a member of the union.
            kind: AnyStep = super().model_validate(obj, **options)  # type: ignore[assignment]
            return kind
        step: AnyStep = STEP.validate_python(obj, **options)
        return step


class CommandStep(Step):
    """A DOMAIN.md command with its business date and actor (both required unless the
    step is `raw`), the source it cites and its other fields (`with`), optionally expected
    to be refused."""

    kind: ClassVar[StepKind] = "command"

    command: str
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

    @model_validator(mode="before")
    @classmethod
    def _as_written(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "as_written" in data:
            raise ValueError(f"as_written: {AS_WRITTEN}")
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

    @field_validator("on", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        return date_text(value)

    @model_validator(mode="after")
    def _complete(self) -> CommandStep:
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
        return self

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
        payload: dict[str, Any] = json.loads(json.dumps(body, default=str))
        return payload


class SendsNoCommand(Step):
    """A step that sends nothing: it answers a command step's questions with "none"."""

    command: ClassVar[None] = None
    on: ClassVar[None] = None
    actor: ClassVar[None] = None
    source: ClassVar[None] = None
    raw: ClassVar[Literal[False]] = False
    expect_rejected: ClassVar[None] = None
    business_date: ClassVar[None] = None

    @property
    def with_(self) -> dict[str, Any]:
        return {}

    @property
    def as_written(self) -> dict[str, Any]:
        return {}

    def payload(self) -> dict[str, Any]:
        raise TypeError(f"a {self.kind} step sends no command")


class WaitStep(SendsNoCommand):
    """Real time passes (an ISO 8601 duration), so that timers fire."""

    kind: ClassVar[StepKind] = "wait"

    wait: timedelta


class WaitForStep(SendsNoCommand):
    """Poll the status view until it matches `wait_for`, for at most `timeout`."""

    kind: ClassVar[StepKind] = "wait_for"

    wait_for: dict[str, Any]
    timeout: timedelta | None = None  # absent or null: WAIT_FOR_TIMEOUT


class ExpectStep(SendsNoCommand):
    """Only checks: `expect`, `expect_events` (at least one of them: the kind is told by
    them)."""

    kind: ClassVar[StepKind] = "expect"


def _kind_of(data: Any) -> str | None:
    """The step's kind, from the key it carries (None: `_one_kind` has said why)."""
    if isinstance(data, Step):
        return data.kind
    if not isinstance(data, dict):
        return None
    for action in ACTIONS:
        if data.get(action) is not None:
            return action
    return "expect"


def _one_kind(data: Any) -> Any:
    """Exactly one action, or none and checks: the kind's own validation can then name a
    stray key as another kind's."""
    if isinstance(data, Step):
        return data
    if not isinstance(data, dict):
        raise ValueError("Input should be a valid dictionary or instance of Step")
    actions = [a for a in ACTIONS if data.get(a) is not None]
    if len(actions) > 1:
        raise ValueError(f"{actions[1]}: a step has only one of command, wait, wait_for")
    if not actions and data.get("expect") is None and data.get("expect_events") is None:
        raise ValueError(
            "command: each step has one of command, expect, expect_events, wait, wait_for"
        )
    # `wait: null` is no wait (as a missing key): the kind chosen does not take it.
    return {k: v for k, v in data.items() if k not in ACTIONS or v is not None}


AnyStep = Annotated[
    Annotated[CommandStep, Tag("command")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[ExpectStep, Tag("expect")],
    Discriminator(_kind_of),
    BeforeValidator(_one_kind),
]
KINDS = ("command", "wait", "wait_for", "expect")

STEP: TypeAdapter[AnyStep] = TypeAdapter(AnyStep)
