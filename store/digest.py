"""Content digests and the per-stream hash chain.

content_digest = SHA-256 of canonical JSON (sorted keys, no spaces, UTF-8, not ASCII-escaped:
exactly the bytes of Python's `json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`) of the event's identity, content and metadata. Verification recomputes it
from the row as PostgreSQL returns it, so the JSON must survive a jsonb round trip unchanged:
jsonb keeps numbers as decimals, which turns Python's `1e+16` into `10000000000000000` and
`-0.0` into `0.0`. Such floats are refused at append time instead of failing verification
later.

The bytes are produced by orjson (OPT_SORT_KEYS), about ten times faster than `json.dumps`.
Wherever the two could differ, the exact `json.dumps` path decides instead: orjson refuses
something (non-str keys, integers beyond 64 bits, subclasses, dates), the value holds NaN
or an infinity (orjson writes them as null; checked only when the text holds a `null`), or a
number that `json.dumps` would write
in exponent form (orjson writes `1e16` and `0.00001` where Python writes `1e+16` and
`1e-05`; both kinds are refused anyway). Everywhere else the two are byte for byte equal
(tests/store/test_store_digest.py checks that on random documents).

hash_i = SHA-256(prev_hash || content_digest_i || int8(position_i) || int8(recorded_at µs)),
with 32 zero bytes before version 1. PostgreSQL computes it (it draws position and time);
`chain_hash` is the same formula for verification.

The metadata object holds `source` only when the event has one, so an event without a
source digests byte for byte as it did before sources existed (tests/store/test_store_digest.py
keeps a fixed vector). `occurred_on` is the business date as written (EDTF text); a `date`
given to `EventMetadata` is its ISO text, as it always was.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from store.model import EventMetadata

GENESIS_HASH = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# Cheap pre-filter on the canonical text (no spaces, so a number token sits between one of
# `:[,` and one of `,]}`): only payloads that seem to hold an exponent float or a negative
# zero get the exact (slower) walk.
_SUSPECT_NUMBER = re.compile(rb"[:\[,]-?\d+(?:\.\d+)?e[+-]\d+[,\]}]|[:\[,]-0\.0[,\]}]")

# The same on orjson's text, which writes exponents without a sign (`1e16`, `1e-7`) and
# numbers below 1e-4 without an exponent (`0.00001`, where json.dumps writes `1e-05`). Kept
# to the cheapest scans (a regex that starts with a literal, substring tests): a string that
# merely looks suspect ("page2", "-0.05") only costs the exact path.
_FAST_EXPONENT = re.compile(rb"e[+-]?\d")

# Types orjson would render but json.dumps refuses or renders otherwise go to the exact path.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class _Inexact(Exception):
    """orjson's bytes might differ from json.dumps': use the exact path."""


def canonical_json(value: Any) -> bytes:
    try:
        return _fast_canonical(value)
    except _Inexact:
        return _exact_canonical(value)


def _fast_canonical(value: Any) -> bytes:
    try:
        text = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        raise _Inexact from None
    if (
        _FAST_EXPONENT.search(text)
        or b"0.0000" in text
        or b"-0.0" in text
        or (b"null" in text and _has_non_finite(value))
    ):
        raise _Inexact
    return text


def _exact_canonical(value: Any) -> bytes:
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
    return encode_content(
        event_id=event_id,
        stream_id=stream_id,
        version=version,
        event_type=event_type,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
    )[0]


def encode_content(
    *,
    event_id: UUID,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: Mapping[str, Any],
    metadata: EventMetadata,
) -> tuple[bytes, str, str | None, str | None]:
    """(content digest, canonical JSON text of `data`, of `metadata.actor` or None, of
    `metadata.source` or None).

    The append sends those texts as the jsonb values, so each payload is serialised once.
    """
    actor = metadata.actor
    source = metadata.source
    try:
        data_json = _fast_canonical(_plain(data))
        actor_json = None if actor is None else _fast_canonical(_plain(actor))
        meta: dict[str, Any] = {
            "actor": None if actor_json is None else orjson.Fragment(actor_json),
            "causation_id": metadata.causation_id,
            "correlation_id": metadata.correlation_id,
            "occurred_on": metadata.occurred_on,
            "run_id": metadata.run_id,
            "workflow_id": metadata.workflow_id,
        }
        source_json = None
        if source is not None:  # absent, not null: digests without a source are unchanged
            source_json = _fast_canonical(_plain(source))
            meta["source"] = orjson.Fragment(source_json)
        document = orjson.dumps(
            {
                "data": orjson.Fragment(data_json),
                "event_id": event_id,  # orjson writes a UUID as str() does
                "event_type": event_type,
                "metadata": meta,
                "schema_version": schema_version,
                "stream_id": stream_id,
                "version": version,
            },
            option=_ORJSON_OPTIONS,
        )
    except (_Inexact, orjson.JSONEncodeError):
        return _exact_encode_content(
            event_id, stream_id, version, event_type, schema_version, data, metadata
        )
    return (
        hashlib.sha256(document).digest(),
        data_json.decode(),
        None if actor_json is None else actor_json.decode(),
        None if source_json is None else source_json.decode(),
    )


def _exact_encode_content(
    event_id: UUID,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: Mapping[str, Any],
    metadata: EventMetadata,
) -> tuple[bytes, str, str | None, str | None]:
    """The reference definition, with json.dumps."""
    actor = None if metadata.actor is None else _plain(metadata.actor)
    source = None if metadata.source is None else _plain(metadata.source)
    meta: dict[str, Any] = {
        "actor": actor,
        "occurred_on": metadata.occurred_on,
        "correlation_id": metadata.correlation_id,
        "causation_id": metadata.causation_id,
        "workflow_id": metadata.workflow_id,
        "run_id": metadata.run_id,
    }
    if source is not None:  # only when there is one: see the module's docstring
        meta["source"] = source
    document = {
        "event_id": str(event_id),
        "stream_id": stream_id,
        "version": version,
        "event_type": event_type,
        "schema_version": schema_version,
        "data": _plain(data),
        "metadata": meta,
    }
    digest = hashlib.sha256(_exact_canonical(document)).digest()
    data_json = _exact_canonical(_plain(data)).decode()
    return (
        digest,
        data_json,
        None if actor is None else _exact_canonical(actor).decode(),
        None if source is None else _exact_canonical(source).decode(),
    )


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """json.dumps only takes real dicts at the top of a payload."""
    return mapping if isinstance(mapping, dict) else dict(mapping)


def _has_non_finite(value: Any) -> bool:
    """NaN or an infinity anywhere (orjson writes them as null; json.dumps refuses them)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(v) for v in value)
    return False


def epoch_microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def chain_hash(prev_hash: bytes, digest: bytes, position: int, recorded_at: datetime) -> bytes:
    return hashlib.sha256(
        prev_hash
        + digest
        + position.to_bytes(8, "big", signed=True)
        + epoch_microseconds(recorded_at).to_bytes(8, "big", signed=True)
    ).digest()
