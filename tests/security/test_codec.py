"""The AES-256-GCM payload codec on its own: confidentiality, integrity, rotation."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from security.codec import (
    ENCODING,
    KEY_ID,
    AesGcmCodec,
    CodecError,
    codec_keys_from_env,
    data_converter,
)
from security.keys import KeyConfigError, KeyRing
from tests.security.conftest import ring, ring_text

SECRET = {"summary": "ZEBRA-7731", "venue": "OKAPI-5150"}


async def test_encrypts_whole_payload_and_round_trips() -> None:
    converter = data_converter(ring("k1"))
    [encoded] = await converter.encode([SECRET])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID] == b"k1"
    raw = encoded.SerializeToString()
    assert b"ZEBRA" not in raw and b"json/plain" not in raw  # the inner metadata too
    assert await converter.decode([encoded], [dict]) == [SECRET]


async def test_same_value_encrypts_differently_each_time() -> None:
    codec = AesGcmCodec(ring("k1"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    first, second = await codec.encode([plain, plain])
    assert first.data != second.data


async def test_tampering_and_wrong_keys_are_refused() -> None:
    keys = ring("k1")
    codec = AesGcmCodec(keys)
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\x00")
    with pytest.raises(CodecError, match="failed authentication"):
        await codec.decode([flipped])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k0"}, data=sealed.data)
    with pytest.raises(CodecError, match="unknown key id 'k0'"):
        await codec.decode([relabelled])
    with pytest.raises(CodecError, match="failed authentication"):
        await AesGcmCodec(ring("k1")).decode([sealed])  # same id, other secret


async def test_rotation_newest_encrypts_older_still_decrypt() -> None:
    old = ring("k1")
    rotated = KeyRing((("k2", b"\x02" * 32), *old.entries))
    before = await data_converter(old).encode([SECRET])
    after = await data_converter(rotated).encode([SECRET])
    assert before[0].metadata[KEY_ID] == b"k1" and after[0].metadata[KEY_ID] == b"k2"
    assert await data_converter(rotated).decode(before, [dict]) == [SECRET]
    retired = KeyRing((rotated.entries[0],))
    with pytest.raises(CodecError, match="unknown key id 'k1'"):
        await data_converter(retired).decode(before, [dict])


async def test_plaintext_payloads_from_before_encryption_still_decode() -> None:
    plain = await data_converter(None).encode([SECRET])
    assert await data_converter(ring("k1")).decode(plain, [dict]) == [SECRET]


async def test_failure_messages_are_encoded() -> None:
    converter = data_converter(ring("k1"))
    failure = Failure()
    err = ApplicationError("grant_consent: ZEBRA-7731", type="not_allowed")
    await converter.encode_failure(err, failure)
    assert failure.message == "Encoded failure"
    assert b"ZEBRA" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError) and decoded.message.endswith("ZEBRA-7731")


def test_codec_keys_from_env() -> None:
    keys = ring("k2", "k1")
    loaded = codec_keys_from_env({"ACCORD_CODEC_KEYS": ring_text(keys)})
    assert loaded is not None and loaded.ids == ("k2", "k1")
    assert codec_keys_from_env({}) is None
    with pytest.raises(KeyConfigError, match="32 bytes"):
        codec_keys_from_env({"ACCORD_CODEC_KEYS": "k1:AAAA"})
