"""Typed inputs and outputs of Accord's activities (serialised by the pydantic converter)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventToRecord(_Contract):
    """One domain event, encoded, with the id the workflow chose for it deterministically."""

    event_id: UUID
    event_type: str
    schema_version: int
    data: dict[str, Any]
    occurred_on: str  # the business date as written (EDTF), as the event's data has it


class RecordRequest(_Contract):
    """Append the events of one decision to a process stream, then refresh its projections."""

    stream_id: str
    expected_version: int
    events: list[EventToRecord]
    actor: dict[str, Any] | None = None
    source: dict[str, Any] | None = None  # the command's cited source, kept as metadata
    correlation_id: str | None = None
    causation_id: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None


class RecordResult(_Contract):
    positions: list[int]
    first_version: int
    last_version: int
    already_recorded: bool


class LoadRequest(_Contract):
    """Read a process stream; `version`/`head_hash` set: it must end exactly there."""

    stream_id: str
    version: int | None = None
    head_hash: str | None = None


class LoadedProcess(_Contract):
    """A stream's head and its folded state (`domain.snapshot`); version 0: no stream."""

    version: int
    head_hash: str | None
    snapshot: dict[str, Any] | None
