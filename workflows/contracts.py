"""Typed inputs, outputs and messages of Accord's workflows.

These are the contracts other services see: the pydantic converter puts them on the wire
as plain JSON, so any SDK or the `temporal` CLI can start, query and update processes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EncodedEvent(_Contract):
    """A domain event as stored (type, schema version, JSON data), carried across runs."""

    event_type: str
    schema_version: int
    data: dict[str, Any]


class ChildRef(_Contract):
    """A running child workflow the process must keep talking to across continue-as-new."""

    kind: str  # "mission" or "review"
    workflow_id: str
    subject_version: int  # ToR version of a mission, report version of a review


class ProcessStart(_Contract):
    """Input of `CooperationProcessWorkflow`.

    `open_process` is the `open_process` command's JSON (validated by the domain before the
    first event is written). `history` and `children` are only set by continue-as-new.
    """

    open_process: dict[str, Any]
    history: list[EncodedEvent] = Field(default_factory=list)
    children: list[ChildRef] = Field(default_factory=list)
    # History length (Temporal events) after which the run continues as new.
    continue_as_new_after: int = Field(default=4000, ge=50)


class RecordedEventRef(_Contract):
    event_type: str
    version: int
    position: int


class CommandResult(_Contract):
    """What an accepted command did: its events with their stream versions and positions."""

    command: str
    stage: str
    events: list[RecordedEventRef]


class ProcessOutcome(_Contract):
    process_id: str
    stage: str
    version: int


class TimerFired(_Contract):
    """A child workflow's timer reached its due time; the process decides what it means."""

    command: str  # a domain system command name, e.g. "consent_deadline_reached"
    data: dict[str, Any]


class MissionWatch(_Contract):
    """Input of `EvaluationMissionWorkflow`: consents awaited for one ToR version."""

    process_workflow_id: str
    tor_version: int
    agencies: list[str]
    consent_deadline_seconds: float
    proposed_on: date


class ReviewWatch(_Contract):
    """Input of `ReportReviewWorkflow`: reviews awaited for one report version."""

    process_workflow_id: str
    report_version: int
    reviewers: list[str]
    reminder_every_seconds: float
    deadline_seconds: float
    delivered_on: date


class WatchOutcome(_Contract):
    """Which agencies were still awaited when a child finished."""

    still_pending: list[str]
    closed_by: str  # "complete", "deadline", "closed" or "cancelled"
