"""The shapes of the CLI's `--json` outputs, published as JSON Schemas in `contracts/cli/`.

Scripts read these; `tests/contracts/test_contracts_outputs.py` validates what the real
commands print against the exported schemas (format checking on).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.dates import BusinessDate
from domain.sources import Source
from domain.view import ProcessView


class CliError(BaseModel):
    """What any command prints under `--json` when it exits 2 (bad usage, not found, a
    service that cannot be reached)."""

    model_config = ConfigDict(extra="forbid")

    ok: Literal[False]
    code: Literal["usage", "not_found", "unavailable"]
    message: str = Field(max_length=2000)


class CommandOutcomeJson(BaseModel):
    """`accord send --json` and `accord start --json`: accepted, or the refusal's code."""

    model_config = ConfigDict(extra="forbid")

    accepted: bool
    code: str | None = None  # a domain code (contracts/index.json error_codes) or the CLI's
    message: str | None = None
    field: str | None = None
    stage: str | None = None
    events: list[dict[str, Any]] = Field(default_factory=list)
    update_id: str | None = None
    process_id: str | None = None  # start only
    workflow_id: str | None = None  # start only, when accepted


class StatusJson(ProcessView):
    """`accord status --json`: the process view, and the next timer's due time (UTC)."""

    next_deadline: datetime | None = None


class ListRow(BaseModel):
    """One element of `accord list --json`."""

    model_config = ConfigDict(extra="forbid")

    process_id: str | None
    workflow_id: str
    status: str | None
    stage: str | None
    partner: str | None
    country: str | None
    pending_agencies: list[str]
    awaiting: list[str]  # `party:command`
    started: datetime | None


class TimelineRow(BaseModel):
    """One element of `accord timeline --json`: one event as a person reads it."""

    version: int
    position: int
    occurred_on: BusinessDate  # as written, with its source's precision
    type: str
    actor: dict[str, Any] | None
    summary: str
    source: Source | None = None  # present only when the event cites one


OUTPUTS: dict[str, type[BaseModel]] = {
    "cli/error.json": CliError,
    "cli/command_outcome.json": CommandOutcomeJson,
    "cli/status.json": StatusJson,
    "cli/list_row.json": ListRow,
    "cli/timeline_row.json": TimelineRow,
}
