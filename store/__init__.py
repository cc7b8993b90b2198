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
    AnchoredHeads,
    AppendResult,
    ChainBreak,
    EventMetadata,
    HeadsSnapshot,
    NewEvent,
    RecordedEvent,
    StreamHead,
    VerificationReport,
)

__all__ = [
    "AnchoredHeads",
    "AppendResult",
    "ChainBreak",
    "ConcurrencyConflict",
    "EventMetadata",
    "EventStore",
    "HeadsSnapshot",
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
