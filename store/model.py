"""Values going into and coming out of the event store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

# The longest business date the store keeps (an EDTF range of two qualified days is 23).
MAX_OCCURRED_ON = 64


@dataclass(frozen=True, slots=True, init=False)
class EventMetadata:
    """Who did it, when it happened in the world, where that is written, and which
    conversation it belongs to.

    `occurred_on` is the business date as written (EDTF: `2022-04-04`, `2021-11`, `2021~`,
    `2023-06-16/2025-03-10`): opaque text to the store, 1 to 64 characters. A `date` given
    here becomes its ISO text (`date.isoformat()`), so its digest is what it always was.
    `source` is where the fact comes from, a JSON object the store keeps as given (like
    `actor`); an event without one digests exactly as before sources existed.
    """

    occurred_on: str
    actor: Mapping[str, Any] | None
    correlation_id: str | None
    causation_id: str | None
    workflow_id: str | None
    run_id: str | None
    source: Mapping[str, Any] | None

    def __init__(
        self,
        occurred_on: str | date,
        actor: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        workflow_id: str | None = None,
        run_id: str | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> None:
        if source is not None and not isinstance(source, Mapping):
            raise TypeError(f"source must be a JSON object or None, not {type(source).__name__}")
        setattr_ = object.__setattr__
        setattr_(self, "occurred_on", business_date_text(occurred_on))
        setattr_(self, "actor", actor)
        setattr_(self, "correlation_id", correlation_id)
        setattr_(self, "causation_id", causation_id)
        setattr_(self, "workflow_id", workflow_id)
        setattr_(self, "run_id", run_id)
        setattr_(self, "source", source)


def business_date_text(value: object) -> str:
    """The business date as the store keeps it: a str as it is (a subclass as a plain str),
    a `date` as its ISO text. Not parsed: the store does not interpret dates."""
    if type(value) is str:
        text = value
    elif isinstance(value, str):
        text = str.__str__(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        text = value.isoformat()
    else:
        raise TypeError(
            f"occurred_on must be the business date as text (or a date), not {type(value).__name__}"
        )
    if not 0 < len(text) <= MAX_OCCURRED_ON:
        raise ValueError(f"occurred_on must be 1 to {MAX_OCCURRED_ON} characters, not {len(text)}")
    return text


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
