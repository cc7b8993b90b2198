"""Builders shared by the store tests."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from store import EventMetadata, EventStore, NewEvent, RecordedEvent


def metadata(**overrides: Any) -> EventMetadata:
    fields: dict[str, Any] = {"occurred_on": date(2021, 11, 15)} | overrides
    return EventMetadata(**fields)


def event(event_type: str = "ContactLogged", **data: Any) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        data=data or {"venue": "Embassy in The Hague", "n": 1},
        metadata=metadata(),
    )


async def drain(store: EventStore, checkpoint: int) -> tuple[list[RecordedEvent], int]:
    """Everything the feed delivers now after `checkpoint`, and the new checkpoint."""
    seen: list[RecordedEvent] = []
    while batch := await store.read_all(after_position=checkpoint, limit=100):
        seen.extend(batch)
        checkpoint = batch[-1].position
    return seen, checkpoint
