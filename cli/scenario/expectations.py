"""What a step expects besides the status view: a refusal (`expect_rejected`) and counts of
recorded events (`expect_events`). Both are checked when the file is read, so a misspelt
event type or data key fails the file (exit 2) instead of matching nothing."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    field_validator,
    model_validator,
)

from domain import EVENTS
from domain.dates import RULE, BusinessDate

# Every model of the file refuses keys it does not know (a typo would otherwise be
# ignored, and the check it meant silently skipped); `with`, `open` are Python keywords or
# builtins, so their fields carry an alias.
STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class Rejection(BaseModel):
    """`expect_rejected`: the code, and optionally the field it names and a part of its
    message. The short form `expect_rejected: not_allowed` is `{code: not_allowed}`."""

    model_config = STRICT

    code: str = Field(min_length=1)
    field: str | None = None
    message_contains: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"code": value} if isinstance(value, str) else value

    def describe(self) -> str:
        parts = [self.code]
        if self.field is not None:
            parts.append(f"field {self.field}")
        if self.message_contains is not None:
            parts.append(f"message containing {self.message_contains!r}")
        return ", ".join(parts)


def date_text(value: Any) -> Any:
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

    model_config = STRICT

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
    def _date_text(cls, value: Any) -> Any:
        return date_text(value)

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
