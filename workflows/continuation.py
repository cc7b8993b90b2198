"""When a run continues as new, what it hands the next run, and how the next run checks it.

A run continues as new once Temporal suggests it or its history passed
`continue_as_new_after` events. It hands over a reference, not events: the stream's
version and head hash, the state's snapshot, its clocks, the update ids it remembers and
when the current stage began. The next run has the store read, check and fold the stream
(`load_process`) and refuses to go on when the store's stream is not exactly that.
"""

from __future__ import annotations

from temporalio import workflow

from activities.contracts import LoadedProcess, LoadRequest
from domain import ProcessState
from domain.snapshot import dump_state, load_state
from workflows.clocks import Clock
from workflows.contracts import Continuation, ProcessStart
from workflows.intake import refusal
from workflows.recent import RecentUpdates


def due(start: ProcessStart) -> bool:
    """Whether this run should hand over to a new one now."""
    info = workflow.info()
    return (
        info.is_continue_as_new_suggested()
        or info.get_current_history_length() > start.continue_as_new_after
    )


def next_start(
    start: ProcessStart,
    head: LoadedProcess,
    state: ProcessState,
    clocks: dict[str, Clock],
    recent: RecentUpdates,
    stage_since_at: float,
) -> ProcessStart:
    """The next run's input, once the store's head (`head`) is this run's state."""
    stream_id = workflow.info().workflow_id
    snapshot = dump_state(state)
    if head.version != state.version or head.snapshot != snapshot:
        raise refusal(
            "continuation_refused",
            f"{stream_id}: the store holds version {head.version}, this run "
            f"{state.version}; not continuing",
        )
    assert head.head_hash is not None
    return ProcessStart(
        continued=Continuation(
            stream_id=stream_id,
            version=head.version,
            head_hash=head.head_hash,
            snapshot=snapshot,
            clocks=list(clocks.values()),
            recent=recent.carried(),
            stage_since_at=stage_since_at,
        ),
        continue_as_new_after=start.continue_as_new_after,
    )


def load_request(continued: Continuation) -> LoadRequest:
    """What the next run asks the store for: exactly the stream the previous run had."""
    if continued.stream_id != workflow.info().workflow_id:
        raise refusal("not_allowed", "start: `continued` names another stream", "continued")
    return LoadRequest(
        stream_id=continued.stream_id, version=continued.version, head_hash=continued.head_hash
    )


def confirmed(continued: Continuation, loaded: LoadedProcess) -> ProcessState:
    """The state the store folded, when it is the state the previous run handed over."""
    if loaded.snapshot != continued.snapshot:
        raise refusal(
            "continuation_refused",
            "the store's stream does not fold to the state the previous run had",
        )
    return load_state(loaded.snapshot)
