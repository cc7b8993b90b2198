"""What the event store benchmark writes: the ~300-byte payload every side records, the
writers that append to their own streams, and the realistic domain log the rebuild
reads back."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from store import EventMetadata, EventStore, NewEvent

CONCURRENCY = 16
BATCH = 100
EVENTS_PER_STREAM = 50

PAYLOAD: dict[str, Any] = {
    "venue": "Ministry of Foreign Affairs, Baku",
    "participants": ["Andreas Kleiser", "Kathryne Bomberger", "Elnur Mammadov"],
    "modalities": ["membership"],
    "summary": (
        "First contact about cooperation on missing persons; the ministry asked for "
        "a written proposal and a draft protocol of intent to circulate to agencies."
    ),
    "occurred_on": "2018-05-17",
}
METADATA = EventMetadata(
    occurred_on=date(2018, 5, 17),
    actor={"party": "mfa", "role": "representative"},
    correlation_id="bench",
    workflow_id="process-bench",
    run_id="run-1",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def new_event(data: dict[str, Any] = PAYLOAD, event_type: str = "ContactLogged") -> NewEvent:
    return NewEvent(uuid.uuid4(), event_type, 2, data, METADATA)


class Writer:
    """Appends to its own streams, starting a new one every EVENTS_PER_STREAM events."""

    def __init__(self, store: EventStore, name: str) -> None:
        self.store = store
        self.name = name
        self.streams = 0
        self.version = EVENTS_PER_STREAM

    async def append(self, events: list[NewEvent]) -> None:
        if self.version + len(events) > EVENTS_PER_STREAM:
            self.streams += 1
            self.version = 0
        stream_id = f"{self.name}-{self.streams}"
        result = await self.store.append(stream_id, self.version, events)
        self.version = result.last_version


def domain_batches(total: int) -> Iterator[tuple[str, int, list[NewEvent]]]:
    """Realistic process streams for the rebuild: opened, then contacts and meetings."""
    import domain

    config = domain.ProcessConfig.model_validate(
        {
            "process_id": "bench-process",
            "country": "Azerbaijan",
            "partner": {"name": "International Commission on Missing Persons"},
            "national_body": {"name": "State Commission on Prisoners of War"},
            "agencies": [
                {"key": "mfa", "name": "Ministry of Foreign Affairs", "channel": True},
                {"key": "pa", "name": "Presidential Administration", "escalation_target": True},
            ],
            "durations": {
                "consent_deadline": "P90D",
                "review_reminder_every": "P30D",
                "review_deadline": "P180D",
                "dormancy_after": "P730D",
            },
        },
        strict=False,
    )
    day = date(2018, 5, 17)
    stream_length = 1000
    for start in range(0, total, stream_length):
        stream_id = f"process-{start // stream_length}"
        events: list[domain.Event] = [
            domain.ProcessOpened(occurred_on=domain.BusinessDate.of(day), process=config)
        ]
        for i in range(1, min(stream_length, total - start)):
            on = day + timedelta(days=i)
            if i % 2:
                events.append(
                    domain.ContactLogged(
                        occurred_on=domain.BusinessDate.of(on),
                        venue="Ministry of Foreign Affairs, Baku",
                        participants=("Andreas Kleiser", "Elnur Mammadov"),
                        modalities=("membership",),
                        summary="Discussed the draft protocol of intent and next steps.",
                    )
                )
            else:
                events.append(
                    domain.MeetingRecorded(
                        occurred_on=domain.BusinessDate.of(on),
                        format="online",
                        agencies_present=("mfa",),
                        initiator="partner",
                        summary="Working group meeting on the exchange of case files.",
                    )
                )
        for offset in range(0, len(events), BATCH):
            chunk = events[offset : offset + BATCH]
            yield (
                stream_id,
                offset,
                [NewEvent(uuid.uuid4(), *domain.encode_event(e), METADATA) for e in chunk],
            )
