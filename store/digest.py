"""Content digests and the per-stream hash chain.

content_digest = SHA-256 of canonical JSON (sorted keys, no spaces, UTF-8, not ASCII-escaped)
of the event's identity, content and metadata. Verification recomputes it from the row as
PostgreSQL returns it, so the JSON must survive a jsonb round trip unchanged: jsonb keeps
numbers as decimals, which turns Python's `1e+16` into `10000000000000000` and `-0.0` into
`0.0`. Such floats are refused at append time instead of failing verification later.

hash_i = SHA-256(prev_hash || content_digest_i || int8(position_i) || int8(recorded_at µs)),
with 32 zero bytes before version 1. PostgreSQL computes it (it draws position and time);
`chain_hash` is the same formula for verification.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from store.model import EventMetadata

GENESIS_HASH = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# Cheap pre-filter on the canonical text (no spaces, so a number token sits between one of
# `:[,` and one of `,]}`): only payloads that seem to hold an exponent float or a negative
# zero get the exact (slower) walk.
_SUSPECT_NUMBER = re.compile(rb"[:\[,]-?\d+(?:\.\d+)?e[+-]\d+[,\]}]|[:\[,]-0\.0[,\]}]")


def canonical_json(value: Any) -> bytes:
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
    if _SUSPECT_NUMBER.search(text):
        _refuse_unstable_floats(value)
    return text


def _refuse_unstable_floats(value: Any) -> None:
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or (value == 0.0 and text.startswith("-")):
            raise ValueError(
                f"float {text} would not survive storage unchanged (jsonb keeps decimals): "
                "store it as a string or an integer of a smaller unit"
            )
    elif isinstance(value, Mapping):
        for item in value.values():
            _refuse_unstable_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_unstable_floats(item)


def content_digest(
    *,
    event_id: UUID,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: Mapping[str, Any],
    metadata: EventMetadata,
) -> bytes:
    document = {
        "event_id": str(event_id),
        "stream_id": stream_id,
        "version": version,
        "event_type": event_type,
        "schema_version": schema_version,
        "data": _plain(data),
        "metadata": {
            "actor": None if metadata.actor is None else _plain(metadata.actor),
            "occurred_on": metadata.occurred_on.isoformat(),
            "correlation_id": metadata.correlation_id,
            "causation_id": metadata.causation_id,
            "workflow_id": metadata.workflow_id,
            "run_id": metadata.run_id,
        },
    }
    return hashlib.sha256(canonical_json(document)).digest()


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """json.dumps only takes real dicts at the top of a payload."""
    return mapping if isinstance(mapping, dict) else dict(mapping)


def epoch_microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def chain_hash(prev_hash: bytes, digest: bytes, position: int, recorded_at: datetime) -> bytes:
    return hashlib.sha256(
        prev_hash
        + digest
        + position.to_bytes(8, "big", signed=True)
        + epoch_microseconds(recorded_at).to_bytes(8, "big", signed=True)
    ).digest()
