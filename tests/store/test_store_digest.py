"""Canonical JSON and the hash formulas, against PostgreSQL's own computation."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from store import EventMetadata
from store.digest import GENESIS_HASH, canonical_json, chain_hash, content_digest


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["é", None, True, 0.5]}) == (
        '{"a":["é",null,true,0.5],"b":1}'.encode()
    )


@pytest.mark.parametrize("value", [1e16, 1e-7, -0.0, float("nan"), float("inf")])
def test_floats_jsonb_would_change_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": [value]})


def test_lookalike_strings_are_fine() -> None:
    assert canonical_json({"x": "1e+16", "y": "-0.0", "z": 12.5}) == (
        b'{"x":"1e+16","y":"-0.0","z":12.5}'
    )


def test_content_digest_covers_identity_and_metadata() -> None:
    base: dict[str, Any] = {
        "event_id": uuid.UUID(int=1),
        "stream_id": "process-1",
        "version": 1,
        "event_type": "ProcessOpened",
        "schema_version": 1,
        "data": {"a": 1},
        "metadata": EventMetadata(occurred_on=date(2020, 1, 1)),
    }
    digest = content_digest(**base)
    assert len(digest) == 32
    variants: list[dict[str, Any]] = [
        {"event_id": uuid.UUID(int=2)},
        {"stream_id": "process-2"},
        {"version": 2},
        {"schema_version": 2},
        {"data": {"a": 2}},
        {"metadata": EventMetadata(occurred_on=date(2020, 1, 1), run_id="r")},
    ]
    for change in variants:
        assert content_digest(**(base | change)) != digest, change


async def test_chain_hash_matches_postgres(pg: asyncpg.Connection) -> None:
    digest = hashlib.sha256(b"x").digest()
    at = datetime(2024, 2, 29, 12, 30, 1, 123456, tzinfo=UTC)
    in_db = await pg.fetchval(
        "SELECT sha256($1::bytea || $2::bytea || int8send($3::bigint)"
        " || int8send((extract(epoch FROM $4::timestamptz) * 1000000)::bigint))",
        GENESIS_HASH,
        digest,
        12345,
        at,
    )
    assert in_db == chain_hash(GENESIS_HASH, digest, 12345, at)
