"""Recompute the hash chain of streams read in (stream_id, version) order."""

from __future__ import annotations

from store.digest import GENESIS_HASH, chain_hash, content_digest
from store.model import BreakReason, ChainBreak, RecordedEvent, VerificationReport


class ChainVerifier:
    """Feed it events grouped by stream in version order; it keeps one stream in memory."""

    def __init__(self) -> None:
        self._streams = 0
        self._events = 0
        self._breaks: list[ChainBreak] = []
        self._stream: str | None = None
        self._last: RecordedEvent | None = None
        self._prev_hash = GENESIS_HASH
        self._broken = False
        self._head: tuple[int | None, bytes | None] = (None, None)

    def check(
        self, event: RecordedEvent, head_version: int | None, head_hash: bytes | None
    ) -> None:
        if event.stream_id != self._stream:
            self._end_stream()
            self._stream = event.stream_id
            self._streams += 1
            self._last = None
            self._prev_hash = GENESIS_HASH
            self._broken = False
            self._head = (head_version, head_hash)
        self._events += 1
        if self._broken:
            return  # one finding per stream: the first broken link
        expected_version = 1 if self._last is None else self._last.version + 1
        if event.version != expected_version:
            self._break(event, "version gap", f"expected version {expected_version}")
        elif _digest(event) != event.content_digest:
            self._break(event, "digest mismatch", "content differs from what was recorded")
        elif event.prev_hash != self._prev_hash:
            self._break(event, "chain mismatch", "prev_hash is not the previous event's hash")
        elif (
            chain_hash(event.prev_hash, event.content_digest, event.position, event.recorded_at)
            != event.hash
        ):
            self._break(event, "chain mismatch", "hash does not match its inputs")
        else:
            self._prev_hash = event.hash
        self._last = event

    def head_without_events(self, stream_id: str, version: int) -> None:
        self._streams += 1
        self._breaks.append(
            ChainBreak(stream_id, version, None, "head mismatch", "stream has no events")
        )

    def finish(self) -> None:
        self._end_stream()
        self._stream = None

    def report(self) -> VerificationReport:
        return VerificationReport(self._streams, self._events, list(self._breaks))

    def _end_stream(self) -> None:
        last = self._last
        if last is None or self._broken:
            return
        head_version, head_hash = self._head
        if head_version != last.version or head_hash != self._prev_hash:
            detail = (
                "no head row"
                if head_version is None
                else f"head says version {head_version}, log ends at {last.version}"
                if head_version != last.version
                else "head hash differs from the last event's hash"
            )
            self._breaks.append(
                ChainBreak(last.stream_id, last.version, last.position, "head mismatch", detail)
            )

    def _break(self, event: RecordedEvent, reason: BreakReason, detail: str) -> None:
        self._broken = True
        self._breaks.append(
            ChainBreak(event.stream_id, event.version, event.position, reason, detail)
        )


def _digest(event: RecordedEvent) -> bytes:
    return content_digest(
        event_id=event.event_id,
        stream_id=event.stream_id,
        version=event.version,
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.data,
        metadata=event.metadata,
    )
