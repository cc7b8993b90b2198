"""Accord's PostgreSQL event store of record. See store/README.md."""

from store.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    RejectedByDatabase,
    StoreError,
    UnknownCheckpoint,
)
from store.eventstore import EventStore
from store.migrate import migrate
from store.model import (
    AppendResult,
    ChainBreak,
    EventMetadata,
    NewEvent,
    RecordedEvent,
    StreamHead,
    VerificationReport,
)

__all__ = [
    "AppendResult",
    "ChainBreak",
    "ConcurrencyConflict",
    "EventMetadata",
    "EventStore",
    "IdempotencyConflict",
    "NewEvent",
    "RecordedEvent",
    "RejectedByDatabase",
    "StoreError",
    "StreamHead",
    "UnknownCheckpoint",
    "VerificationReport",
    "migrate",
]
