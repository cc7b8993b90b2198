"""The activity that writes a process's events to the store of record.

Idempotent by construction: the workflow derives each event id from its stream and
version, so a retry after a timeout (the first attempt may have committed) returns the
positions already recorded instead of writing twice. Projections are refreshed after the
append; they are rebuildable, so a crash between the two is repaired by the retry.
"""

from __future__ import annotations

import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import RecordRequest, RecordResult
from readmodel.projections import Projections
from store import (
    ConcurrencyConflict,
    EventMetadata,
    EventStore,
    IdempotencyConflict,
    NewEvent,
)


class ProcessRecorder:
    def __init__(self, store: EventStore, projections: Projections) -> None:
        self._store = store
        self._projections = projections

    @activity.defn(name="record_events")
    async def record_events(self, request: RecordRequest) -> RecordResult:
        events = [
            NewEvent(
                event_id=e.event_id,
                event_type=e.event_type,
                schema_version=e.schema_version,
                data=e.data,
                metadata=EventMetadata(
                    actor=request.actor,
                    occurred_on=e.occurred_on,
                    source=request.source,
                    correlation_id=request.correlation_id,
                    causation_id=request.causation_id,
                    workflow_id=request.workflow_id,
                    run_id=request.run_id,
                ),
            )
            for e in request.events
        ]
        started, outcome = time.perf_counter(), "error"
        try:
            result = await self._store.append(request.stream_id, request.expected_version, events)
            outcome = "already_recorded" if result.already_recorded else "appended"
        except ConcurrencyConflict as err:
            outcome = "conflict"
            raise ApplicationError(
                str(err), type="ConcurrencyConflict", non_retryable=True
            ) from err
        except IdempotencyConflict as err:
            outcome = "conflict"
            raise ApplicationError(
                str(err), type="IdempotencyConflict", non_retryable=True
            ) from err
        finally:
            # workers/metrics.py: APPEND_LATENCY, its buckets set with the exporter.
            activity.metric_meter().create_histogram_float(
                "accord_event_append_latency_seconds", "the store's append, by outcome", "s"
            ).record(time.perf_counter() - started, {"outcome": outcome})
        await self._projections.refresh(request.stream_id)
        activity.logger.info(
            "events recorded",
            extra={
                "accord": {
                    "stream_id": request.stream_id,
                    "events": len(events),
                    "first_version": result.first_version,
                    "last_version": result.last_version,
                    "already_recorded": result.already_recorded,
                    "update_id": request.correlation_id,
                }
            },
        )
        return RecordResult(
            positions=list(result.positions),
            first_version=result.first_version,
            last_version=result.last_version,
            already_recorded=result.already_recorded,
        )
