"""What the process lets in: a start's or an update's raw payload read and checked, and the
refusals it answers with.

Payloads are read raw (`RawValue`) so that the process, not the converter, decides what a
malformed one gets: `invalid_input` naming the field, before anything reaches history. A
domain rule's rejection and the process's own refusals share one shape, an
`ApplicationError` whose `type` is the stable error code and whose details are
`{code, message, field}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from domain import Command, DomainError, ProcessState, decide, fold, initial_state, parse_command
from domain.parsing import refuse_duplicate_keys
from domain.snapshot import SnapshotError, load_state
from security.refused import why_refused
from workflows.contracts import ProcessStart


def rejection(err: DomainError) -> ApplicationError:
    """A domain rejection as a Temporal failure: `type` is the stable error code."""
    return ApplicationError(err.message, err.to_dict(), type=err.code, non_retryable=True)


def refusal(code: str, message: str, field: str | None = None) -> ApplicationError:
    """A refusal by the process itself (not a domain rule), in the same shape."""
    details = {"code": code, "message": message, "field": field}
    return ApplicationError(message, details, type=code, non_retryable=True)


def busy(name: str) -> ApplicationError:
    """The answer while the process cannot take a command now; sending it again will do."""
    return refusal(
        "busy",
        f"{name}: the process is busy (moving to a new run or at its queue limit); "
        "nothing was recorded: send it again with the same update id",
    )


def parse_update(name: str, args: Sequence[RawValue]) -> Command:
    """The command an update carries: one JSON object, named as the update."""
    try:
        if name == "open_process":
            raise DomainError("wrong_stage", "open_process: the process is already open", "command")
        if len(args) != 1:
            raise DomainError(
                "invalid_input", f"{name[:64]}: expected one JSON object as input", "input"
            )
        if (refused := why_refused(args[0].payload)) is not None:
            raise DomainError("invalid_input", refused, "input")
        return parse_command(name, args[0].payload.data)
    except DomainError as err:
        raise rejection(err) from None


def sent_command(name: str, args: Sequence[RawValue]) -> Command | None:
    """The command a refused update carried, if it reads as one (to log its actor)."""
    try:
        return parse_command(name, args[0].payload.data)
    except (DomainError, IndexError):
        return None  # malformed: no actor to report


@dataclass(frozen=True)
class Start:
    """A start the process accepted to run.

    `provisional` is the state the run will have once the store confirmed it: the
    opening's, or the previous run's. Commands that arrive before then are validated
    against it.
    """

    start: ProcessStart
    opening: Command | None
    provisional: ProcessState


def read_start(start: RawValue, *, continued_by_temporal: bool, today: date) -> Start:
    """The start's input checked: an opening decided by the domain, or a continuation that
    only a run Temporal itself continued may take. Raises the refusal otherwise."""
    if (refused := why_refused(start.payload)) is not None:
        raise refusal("invalid_input", refused, "input")
    try:
        read = ProcessStart.model_validate_json(start.payload.data)
        # A repeated key would show one value in the history and record another.
        refuse_duplicate_keys("start", start.payload.data)
    except DomainError as err:
        raise rejection(err) from None
    except (ValidationError, ValueError):
        raise refusal(
            "invalid_input",
            "start: the input must be {open_process: <the open_process command>}",
            "input",
        ) from None
    if read.continued is not None:
        if not continued_by_temporal:
            raise refusal(
                "not_allowed",
                "start: `continued` is set only by the process itself when it continues as new",
                "continued",
            )
        try:
            return Start(read, None, load_state(read.continued.snapshot))
        except SnapshotError:
            raise refusal(
                "continuation_refused", "start: the carried state is not a process state"
            ) from None
    try:
        if read.open_process is None:
            raise DomainError("invalid_input", "start: open_process is required", "input")
        opening = parse_command("open_process", read.open_process)
        return Start(read, opening, fold(decide(initial_state(), opening, today=today)))
    except DomainError as err:
        raise rejection(err) from None
