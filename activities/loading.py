"""The activity that gives a process run its state from the store of record, never from its input.

A run that continues as new, or a start for a process id, does not fold events handed to
it by whoever started it: it asks this activity, which reads the stream, checks its hash
chain and folds it with the domain's `evolve`. With a reference (the version and head hash
the previous run reached), anything else than exactly that chain is refused: a failed run
with the reason, nothing written.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import LoadedProcess, LoadRequest
from domain import decode_event, fold
from domain.entries import party_of
from domain.snapshot import dump_state
from store import EventStore


class ProcessLoader:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    @activity.defn(name="load_process")
    async def load_process(self, request: LoadRequest) -> LoadedProcess:
        stream_id = request.stream_id
        events = await self._store.read_stream(stream_id)
        if not events:
            if request.version:
                raise _refused(f"{stream_id}: the stream the previous run recorded is missing")
            return LoadedProcess(version=0, head_hash=None, snapshot=None)
        report = await self._store.verify(stream_id)
        if not report.ok:
            first = report.breaks[0]
            raise _refused(
                f"{stream_id}: the hash chain is broken at version {first.version} ({first.reason})"
            )
        head = events[-1]
        if request.version is not None:
            if head.version != request.version:
                raise _refused(
                    f"{stream_id}: the store holds version {head.version}, the previous run "
                    f"reached {request.version}"
                )
            if head.hash.hex() != request.head_hash:
                raise _refused(f"{stream_id}: the head hash differs from the previous run's")
        state = fold(
            (decode_event(e.event_type, e.schema_version, e.data) for e in events),
            by=[party_of(e.metadata.actor) for e in events],
        )
        activity.logger.info("loaded %s at version %d", stream_id, head.version)
        return LoadedProcess(
            version=head.version, head_hash=head.hash.hex(), snapshot=dump_state(state)
        )


def _refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type="continuation_refused", non_retryable=True)
