"""The anchored-heads file (`store/anchor.py`): what it commits to and what it refuses."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from store import HeadsSnapshot, StreamHead
from store.anchor import AnchorFileError, heads_document, read_heads_document

SNAPSHOT = HeadsSnapshot(
    horizon=4711,
    heads=[StreamHead("coop-b", 2, "ab" * 32), StreamHead("coop-a", 5, "cd" * 32)],
)
KEY = ("k1", os.urandom(32))


def test_round_trip_sorted_with_the_horizon() -> None:
    text = json.dumps(heads_document(SNAPSHOT))
    anchor, signed = read_heads_document(text)
    assert not signed
    assert anchor.horizon == 4711
    assert anchor.heads == {
        "coop-a": (5, bytes.fromhex("cd" * 32)),
        "coop-b": (2, bytes.fromhex("ab" * 32)),
    }
    assert [s["stream_id"] for s in json.loads(text)["streams"]] == ["coop-a", "coop-b"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["streams"].pop(), "digest does not match"),  # a stream dropped
        (lambda d: d["streams"][0].update(version=4), "digest does not match"),
        (lambda d: d.update(horizon=1), "digest does not match"),  # ghosts hidden below it
        (lambda d: d.update(horizon=-1), "horizon must be a non-negative integer"),
        (lambda d: d["streams"][0].update(version=True), "streams[0].version must be"),
        (lambda d: d["streams"][1].update(head_hash="AB" * 32), "streams[1].head_hash must"),
        (lambda d: d["streams"].append(dict(d["streams"][0])), "streams[2].stream_id appears"),
        (lambda d: d.update(format="accord-heads/0"), "format must be"),
    ],
)
def test_an_edited_or_malformed_file_is_refused(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    document = heads_document(SNAPSHOT)
    change(document)
    with pytest.raises(AnchorFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_heads_document(json.dumps(document))


def test_duplicate_keys_and_non_json_are_refused_without_echoing_them() -> None:
    document = json.dumps(heads_document(SNAPSHOT))
    twice = document.replace('"horizon": 4711', '"horizon": 4711, "horizon": 1')
    with pytest.raises(AnchorFileError, match="a key appears twice") as caught:
        read_heads_document(twice)
    assert "4711" not in str(caught.value)
    with pytest.raises(AnchorFileError, match="not JSON"):
        read_heads_document("\x1b[2J{")


def test_signed_files_need_a_valid_signature_once_keys_are_configured() -> None:
    signed = heads_document(SNAPSHOT, key=KEY)
    assert read_heads_document(json.dumps(signed), keys=dict([KEY]))[1]
    assert not read_heads_document(json.dumps(signed))[1]  # no keys: digest only

    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    with pytest.raises(AnchorFileError, match="not signed"):
        read_heads_document(json.dumps(unsigned), keys=dict([KEY]))
    with pytest.raises(AnchorFileError, match="key id not in the heads key ring"):
        read_heads_document(json.dumps(signed), keys={"k2": KEY[1]})
    with pytest.raises(AnchorFileError, match="signature does not verify"):
        read_heads_document(json.dumps(signed), keys={"k1": os.urandom(32)})
