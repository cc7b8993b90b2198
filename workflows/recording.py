"""The process's two activities, `record_events` and `load_process`, with their retry
policies: the only way the workflow reaches the event store.

Appends are idempotent (event ids are uuid5(stream, version): the same decision retried
yields the same ids), so they may retry for as long as the database is away; only a
conflict (another writer on the stream, or an id reused with other content) is final, and
it means the store is ahead of this run (`store_ahead`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from activities.contracts import (
    EventToRecord,
    LoadedProcess,
    LoadRequest,
    RecordRequest,
    RecordResult,
)
from domain import Command, Event, encode_event
from workflows.contracts import RecordedEventRef
from workflows.intake import refusal

EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4d7e-9a43-0c2f7f3b8e11")

RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ConcurrencyConflict", "IdempotencyConflict"],
)
RECORD_TIMEOUT = timedelta(seconds=30)
LOAD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["continuation_refused"],
)
LOAD_TIMEOUT = timedelta(seconds=60)


async def record(
    base: int, command: Command, events: list[Event], update: workflow.UpdateInfo | None
) -> RecordResult:
    """Append `events`, decided on version `base`, to the process's stream."""
    info = workflow.info()
    stream_id = info.workflow_id
    request = RecordRequest(
        stream_id=stream_id,
        expected_version=base,
        events=[
            _to_record(stream_id, version, event)
            for version, event in enumerate(events, start=base + 1)
        ],
        actor=command.actor.model_dump(mode="json", exclude_none=True),
        source=command.source.model_dump(mode="json", exclude_none=True)
        if command.source
        else None,
        correlation_id=update.id if update else None,
        causation_id=command.name,
        workflow_id=stream_id,
        run_id=info.run_id,
    )
    names = ", ".join(e.event_type for e in events)
    recorded: RecordResult = await workflow.execute_activity(
        "record_events",
        request,
        result_type=RecordResult,
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
        summary=f"record {names}"[:200],
    )
    return recorded


def _to_record(stream_id: str, version: int, event: Event) -> EventToRecord:
    event_type, schema_version, data = encode_event(event)
    return EventToRecord(
        event_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"{stream_id}/{version}"),
        occurred_on=event.occurred_on.text,
        event_type=event_type,
        schema_version=schema_version,
        data=data,
    )


def store_ahead(err: ActivityError) -> bool:
    """The append was refused because the stream already has that version."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type in (
        "ConcurrencyConflict",
        "IdempotencyConflict",
    )


def recorded_refs(events: list[Event], result: RecordResult) -> list[RecordedEventRef]:
    """Each recorded event with the stream version and store position it got."""
    return [
        RecordedEventRef(event_type=event.event_type, version=version, position=position)
        for event, position, version in zip(
            events,
            result.positions,
            range(result.first_version, result.last_version + 1),
            strict=True,
        )
    ]


async def load(request: LoadRequest) -> LoadedProcess:
    """The process's stream read, checked and folded by the store; a continuation the store
    refuses is refused here in the process's own shape."""
    try:
        loaded: LoadedProcess = await workflow.execute_activity(
            "load_process",
            request,
            result_type=LoadedProcess,
            start_to_close_timeout=LOAD_TIMEOUT,
            retry_policy=LOAD_RETRY,
            summary="load the process from the store",
        )
    except ActivityError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == "continuation_refused":
            raise refusal("continuation_refused", cause.message) from None
        raise
    return loaded
