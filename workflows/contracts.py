"""Typed inputs, outputs and messages of Accord's workflows.

These are the contracts other services see: the pydantic converter puts them on the wire
as plain JSON, so any SDK or the `temporal` CLI can start, query and update processes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflows.clocks import Clock


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordedEventRef(_Contract):
    event_type: str
    version: int
    position: int


class CommandResult(_Contract):
    """What an accepted command did: its events with their stream versions and positions.

    `command_digest` is the SHA-256 of the command as the process understood it (canonical
    JSON): a caller that retries with an update id compares it with its own body's digest,
    since Temporal answers a repeated update id with the first outcome without asking the
    process (`idempotency_conflict` when they differ).
    """

    command: str
    stage: str
    events: list[RecordedEventRef]
    command_digest: str | None = None


class ProcessOutcome(_Contract):
    process_id: str
    stage: str
    version: int


class Continuation(_Contract):
    """What a run hands the next one when it continues as new: a reference, not events.

    The next run reads the stream from the store (activity `load_process`), which must end
    exactly at `version` with `head_hash`, and must fold to `snapshot`; otherwise the run
    refuses to continue. The snapshot lets the new run validate commands that arrive while
    it loads; nothing is executed before the store has confirmed it. Only a run that
    Temporal itself continued (`continued_run_id` set) may take this input.
    """

    stream_id: str
    version: int = Field(ge=1)
    head_hash: str
    snapshot: dict[str, Any]
    clocks: list[Clock] = Field(default_factory=list)
    recent: list[RecentCommand] = Field(default_factory=list)
    stage_since_at: float | None = None  # when the current stage began (seconds, UTC)


class RecentCommand(_Contract):
    """An accepted update, kept so that a retry with its id is answered, not recorded again."""

    update_id: str
    command_digest: str
    result: CommandResult


class ProcessStart(_Contract):
    """Input of `CooperationProcessWorkflow`: an opening, or (only from the process itself)
    the continuation of a run.

    `open_process` is the `open_process` command's JSON, decided by the domain before the
    first event is written.
    """

    open_process: dict[str, Any] | None = None
    continued: Continuation | None = None
    # History length (Temporal events) after which the run continues as new.
    continue_as_new_after: int = Field(default=4000, ge=50)
