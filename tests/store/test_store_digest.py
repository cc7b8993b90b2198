"""Canonical JSON and the hash formulas, against PostgreSQL's own computation."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import EventMetadata
from store.digest import (
    GENESIS_HASH,
    _exact_canonical,
    _exact_encode_content,
    canonical_json,
    chain_hash,
    content_digest,
    encode_content,
)
from tests.hypothesis_budget import examples


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


# -- the orjson fast path is byte for byte the json.dumps definition ---------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e-5, 1.5e-5, 9.99e-5, 1e-4, 1e15, 1e16, 1.5e16, -0.0, 0.0, 0.1])
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _outcome(encode: Any, value: Any) -> bytes | str:
    try:
        return bytes(encode(value))
    except (ValueError, TypeError) as error:
        return type(error).__name__


@settings(max_examples=examples(600), deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_fast_canonical_json_equals_the_json_dumps_definition(value: dict[str, Any]) -> None:
    assert _outcome(canonical_json, value) == _outcome(_exact_canonical, value)


@settings(max_examples=examples(300), deadline=None)
@given(
    st.dictionaries(st.text(), json_values, max_size=5),
    st.none() | st.dictionaries(st.text(), json_values, max_size=3),
    st.none() | st.text(),
    st.text(min_size=1),
    st.none() | st.dictionaries(st.text(), json_values, max_size=3),
    st.sampled_from([date(2020, 2, 29), "2021", "2021-11~", "2023-06-16/2025-03-10", "é?"]),
)
def test_fast_content_digest_equals_the_reference(
    data: dict[str, Any],
    actor: dict[str, Any] | None,
    run_id: str | None,
    stream_id: str,
    source: dict[str, Any] | None,
    occurred_on: date | str,
) -> None:
    args: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "stream_id": stream_id,
        "version": 3,
        "event_type": "ContactLogged",
        "schema_version": 2,
        "data": data,
        "metadata": EventMetadata(
            occurred_on=occurred_on, actor=actor, run_id=run_id, source=source
        ),
    }
    reference = _outcome(lambda a: _exact_encode_content(**a)[0], args)
    assert _outcome(lambda a: encode_content(**a)[0], args) == reference
    if isinstance(reference, bytes):
        _, data_json, actor_json, source_json = encode_content(**args)
        assert data_json.encode() == _exact_canonical(data)
        assert actor_json == (None if actor is None else _exact_canonical(actor).decode())
        assert source_json == (None if source is None else _exact_canonical(source).decode())


# -- business dates as written and sources (issue 17) -------------------------------------

_FIXED: dict[str, Any] = {
    "event_id": uuid.UUID("6f1d7c1e-3b7a-4a53-9d2e-5b0f3c2a9e41"),
    "stream_id": "coop-az-icmp",
    "version": 3,
    "event_type": "MeetingHeld",
    "schema_version": 1,
    "data": {
        "venue": "Baku",
        "participants": ["Kathryne Bomberger", "Andreas Kleiser"],
        "summary": "Meeting on cooperation; ü ∑",
    },
}
_FIXED_ACTOR = {"party": "sc", "role": "secretary", "name": "Gazanfar Ahmadov"}


@pytest.mark.parametrize("occurred_on", [date(2022, 4, 4), "2022-04-04"], ids=["date", "text"])
@pytest.mark.parametrize("encode", [encode_content, _exact_encode_content], ids=["fast", "exact"])
def test_an_event_without_source_digests_as_before_sources_existed(
    occurred_on: date | str, encode: Any
) -> None:
    """Fixed vectors, computed with the code before business dates became text and sources
    existed (commit e417d2e): every digest recorded so far must come out the same, or
    `verify` would flag every event of the log."""
    full = EventMetadata(
        occurred_on=occurred_on,
        actor=_FIXED_ACTOR,
        correlation_id="corr-1",
        workflow_id="coop-az-icmp",
        run_id="run-1",
    )
    assert encode(**_FIXED, metadata=full)[0].hex() == (
        "204c0aafc81d74dde34c089571072f2b6948490d860b8bd259f9385a92d210a0"
    )
    bare = _FIXED | {"data": {"n": 1}, "metadata": EventMetadata(occurred_on=occurred_on)}
    assert encode(**bare)[0].hex() == (
        "774f9b7fb11c83eaebe5b94e3a607096b1398277fb1c5943a0716620798969ae"
    )


def test_the_source_and_the_date_as_written_are_in_the_digest() -> None:
    source = {"title": "Trend", "publisher": "Trend News Agency", "date": "2025-03-10"}
    meta = EventMetadata(occurred_on="2021-11", actor=_FIXED_ACTOR, source=source)
    digest = content_digest(**_FIXED, metadata=meta)
    assert _exact_encode_content(**_FIXED, metadata=meta)[0] == digest
    variants = [
        replace(meta, source=None),
        replace(meta, source={}),  # an empty source is a source
        replace(meta, source=source | {"locator": "p. 2"}),
        replace(meta, source=source | {"date": "2025-03-11"}),
        replace(meta, occurred_on="2021-11~"),
        replace(meta, occurred_on="2021"),
    ]
    for other in variants:
        assert content_digest(**_FIXED, metadata=other) != digest, other


def test_business_dates_are_kept_as_written() -> None:
    assert EventMetadata(occurred_on=date(2018, 5, 17)).occurred_on == "2018-05-17"
    assert EventMetadata(occurred_on=" 2021 ").occurred_on == " 2021 "  # opaque: not parsed

    class Edtf(str):
        pass

    kept = EventMetadata(occurred_on=Edtf("2023-06-16/2025-03-10")).occurred_on
    assert type(kept) is str and kept == "2023-06-16/2025-03-10"
    assert EventMetadata(occurred_on="x" * 64).occurred_on == "x" * 64
    for bad in ("", "x" * 65):
        with pytest.raises(ValueError, match="1 to 64"):
            EventMetadata(occurred_on=bad)
    for wrong in (datetime(2022, 4, 4, tzinfo=UTC), 20220404, None):
        with pytest.raises(TypeError, match="occurred_on"):
            EventMetadata(occurred_on=wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source"):
        EventMetadata(occurred_on="2021", source=["Trend"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [{"x": 1e-5}, {"x": [0.00002]}, {"n": float("nan")}, {"n": [None, float("inf")]}]
)
def test_what_orjson_would_write_differently_is_still_refused(value: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


def test_non_json_values_are_still_refused() -> None:
    with pytest.raises(TypeError):
        canonical_json({"when": date(2020, 1, 1)})
    assert canonical_json({"big": 2**70, "k": "page2", "neg": -0.05}) == (
        b'{"big":1180591620717411303424,"k":"page2","neg":-0.05}'
    )
