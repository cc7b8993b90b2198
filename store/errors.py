"""Typed failures of the event store."""

from __future__ import annotations

from uuid import UUID


class StoreError(Exception):
    """Base class for everything the event store raises on purpose."""


class RejectedByDatabase(StoreError):
    """PostgreSQL refused the data itself (SQLSTATE class 22 or 23): retrying cannot help."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class ConcurrencyConflict(StoreError):
    """The stream moved on: the caller decided on a stale version and must re-read."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class IdempotencyConflict(StoreError):
    """An event id is already recorded with different content (stream, version or digest)."""

    def __init__(self, stream_id: str, event_id: UUID | None) -> None:
        which = f"event {event_id}" if event_id else "an event id"
        super().__init__(
            f"{which} is already recorded with other content (append to {stream_id!r})"
        )
        self.stream_id = stream_id
        self.event_id = event_id


class UnknownCheckpoint(StoreError):
    """A feed checkpoint names no recorded event."""

    def __init__(self, position: int) -> None:
        super().__init__(f"no event at position {position}: not a checkpoint of this store")
        self.position = position
