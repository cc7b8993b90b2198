"""Encoding events for storage and decoding them back, upcasting older schema versions."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from domain.events import EVENTS, Event

EventData = dict[str, Any]
Upcaster = Callable[[EventData], EventData]


class EventDecodeError(ValueError):
    """Stored event data that this code cannot read (unknown type/version or bad shape)."""


def _contact_logged_v1_to_v2(data: EventData) -> EventData:
    # v1 recorded one optional `modality`; v2 records the set discussed as `modalities`.
    upgraded = {k: v for k, v in data.items() if k != "modality"}
    modality = data.get("modality")
    upgraded["modalities"] = [modality] if modality else []
    return upgraded


def _days_are_business_dates(data: EventData) -> EventData:
    # The step to the EDTF business dates (v2 for every type, ContactLogged v3): a v1 date
    # was a day, and a day is written the same in EDTF. Nothing to convert.
    return data


def _upcasters() -> dict[tuple[str, int], Upcaster]:
    steps: dict[tuple[str, int], Upcaster] = {("ContactLogged", 1): _contact_logged_v1_to_v2}
    for event_type, model in EVENTS.items():
        steps[(event_type, model.schema_version - 1)] = _days_are_business_dates
    return steps


# (event_type, from_version) -> function producing the data of version from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = _upcasters()

# (event_type, version) read straight from JSON text: the current versions, and the older
# ones whose every step up is the identity (a v1 day is a v2 date), so the log written
# before EDTF dates folds as fast as before.
_STRAIGHT_FROM_JSON = frozenset(
    (event_type, version)
    for event_type, model in EVENTS.items()
    for version in range(1, model.schema_version + 1)
    if all(
        UPCASTERS.get((event_type, v)) is _days_are_business_dates
        for v in range(version, model.schema_version)
    )
)


def encode_event(event: Event) -> tuple[str, int, EventData]:
    """(event_type, schema_version, JSON-mode data) as the event store writes them."""
    return event.event_type, event.schema_version, event.model_dump(mode="json")


def decode_event(
    event_type: str, schema_version: int, data: Mapping[str, Any] | str | bytes
) -> Event:
    """Rebuild an event from storage, upcasting step by step to the current schema.

    `data` is the stored JSON object, parsed or as text. Text at the current schema version
    is validated by pydantic straight from JSON (no intermediate dicts, about twice as fast);
    older versions are parsed and upcast first.
    """
    if isinstance(data, str | bytes):
        model = EVENTS.get(event_type)
        if model is not None and (event_type, schema_version) in _STRAIGHT_FROM_JSON:
            try:
                validated: Event = model.__pydantic_validator__.validate_json(data, strict=False)
                return validated
            except ValidationError as exc:
                raise EventDecodeError(f"{event_type} v{schema_version}: {exc}") from None
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise EventDecodeError(f"{event_type} v{schema_version}: {exc}") from None
        if not isinstance(parsed, dict):
            raise EventDecodeError(f"{event_type} v{schema_version}: data is not an object")
        data = parsed
    model = EVENTS.get(event_type)
    if model is None:
        raise EventDecodeError(f"unknown event type {event_type!r}")
    current = model.schema_version
    if not 1 <= schema_version <= current:
        raise EventDecodeError(
            f"{event_type}: schema_version {schema_version} not readable; current is {current}"
        )
    payload: Mapping[str, Any] = data
    for version in range(schema_version, current):
        upcast = UPCASTERS.get((event_type, version))
        if upcast is None:
            raise EventDecodeError(f"{event_type}: no upcaster from version {version}")
        payload = upcast(dict(payload))
    try:
        return model.model_validate(payload, strict=False)
    except ValidationError as exc:
        raise EventDecodeError(f"{event_type} v{schema_version}: {exc}") from None
