"""Values going into and coming out of the event store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Who did it, when it happened in the world, and which conversation it belongs to."""

    occurred_on: date
    actor: Mapping[str, Any] | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. `data` must be JSON: str keys; str, int, bool, None, finite float."""

    event_id: UUID
    event_type: str
    schema_version: int
    data: Mapping[str, Any]
    metadata: EventMetadata


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A row of the log, as recorded."""

    position: int
    tx_id: int
    event_id: UUID
    stream_id: str
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime
    content_digest: bytes
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class AppendResult:
    stream_id: str
    first_version: int
    last_version: int
    positions: list[int]
    already_recorded: bool


@dataclass(frozen=True, slots=True)
class StreamHead:
    """A stream's latest version and hash: publish these elsewhere to anchor the log."""

    stream_id: str
    version: int
    head_hash: str  # hex


BreakReason = Literal[
    "digest mismatch",
    "chain mismatch",
    "version gap",
    "head mismatch",
    # The row's tx_id is not the transaction that wrote it (or lies in the future).
    "tx mismatch",
    # A later version recorded at an earlier place in the feed than the one before it.
    "feed order",
    # Against heads anchored earlier (`verify(anchor=...)`).
    "anchored stream missing",
    "anchored stream shorter",
    "anchored head differs",
    "not in anchor",
]


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first link of a stream that does not check out."""

    stream_id: str
    version: int
    position: int | None  # None when the event the head names is missing
    reason: BreakReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AnchoredHeads:
    """Heads exported earlier and kept outside the database (`accord verify --heads`).

    `horizon` is the exporting snapshot's xmin (an xid8): every transaction below it had
    finished, so every event with a smaller tx_id was in the export's view of the log.
    """

    horizon: int
    heads: Mapping[str, tuple[int, bytes]]  # stream_id -> (version, head hash)


@dataclass(frozen=True, slots=True)
class HeadsSnapshot:
    """Every stream's head and the snapshot's horizon, read in one snapshot."""

    horizon: int
    heads: list[StreamHead]


@dataclass(frozen=True, slots=True)
class VerificationReport:
    streams_checked: int = 0
    events_checked: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)
    # With an anchor: how many heads it held, and the streams begun after it (in order).
    anchored_streams: int | None = None
    new_streams: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks
