"""The AES-256-GCM payload codec on its own: confidentiality, integrity, rotation."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from security import refused
from security.codec import (
    ENCODING,
    KEY_ID,
    AesGcmCodec,
    CodecError,
    codec_keys_from_env,
    data_converter,
    plaintext_accepted_from_env,
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
    flipped = Payload(
        metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k0"}, data=sealed.data)
    other_secret = AesGcmCodec(ring("k1"))  # same id, other secret
    # The lenient form (the codec server's) raises...
    with pytest.raises(CodecError, match="failed authentication"):
        codec.decrypt(flipped)
    with pytest.raises(CodecError, match="unknown key id 'k0'"):
        codec.decrypt(relabelled)
    # ...the SDK's gets markers with no data, and converting one raises why.
    converter = data_converter(keys)
    for payload, reason, message in [
        (flipped, refused.NOT_AUTHENTIC, "failed authentication"),
        (relabelled, refused.UNKNOWN_KEY, "key this worker does not hold \\(key id 'k0'\\)"),
    ]:
        [marker] = await codec.decode([payload])
        assert marker.metadata[refused.REASON] == reason and marker.data == b""
        with pytest.raises(CodecError, match=message):
            await converter.decode([payload], [int])
    [marker] = await other_secret.decode([sealed])
    assert marker.metadata[refused.REASON] == refused.NOT_AUTHENTIC


async def test_rotation_newest_encrypts_older_still_decrypt() -> None:
    old = ring("k1")
    rotated = KeyRing((("k2", b"\x02" * 32), *old.entries))
    before = await data_converter(old).encode([SECRET])
    after = await data_converter(rotated).encode([SECRET])
    assert before[0].metadata[KEY_ID] == b"k1" and after[0].metadata[KEY_ID] == b"k2"
    assert await data_converter(rotated).decode(before, [dict]) == [SECRET]
    retired = KeyRing((rotated.entries[0],))
    with pytest.raises(CodecError, match="does not hold \\(key id 'k1'\\)"):
        await data_converter(retired).decode(before, [dict])


async def test_unencrypted_payloads_are_refused_with_no_data_left() -> None:
    """A caller without keys: its payload becomes a marker; converting it is `invalid_input`."""
    plain = await data_converter(None).encode([SECRET])
    converter = data_converter(ring("k1"))
    assert converter.payload_codec is not None
    [marker] = await converter.payload_codec.decode(plain)
    assert marker.metadata["encoding"] == refused.ENCODING
    assert b"ZEBRA" not in marker.SerializeToString()
    with pytest.raises(ApplicationError, match="unencrypted payload refused") as refusal:
        await converter.decode(plain, [dict])
    assert refusal.value.type == "invalid_input" and refusal.value.non_retryable
    assert "ZEBRA" not in str(refusal.value)
    # A command (a RawValue) is not converted: the workflow asks `refusal` why.
    [raw] = converter.payload_converter.from_payloads([marker], [RawValue])
    assert isinstance(raw, RawValue) and raw.payload.data == b""
    reason = refused.why_refused(raw.payload)
    assert reason is not None and reason.startswith("input: unencrypted payload refused")
    assert refused.why_refused(plain[0]) is None


async def test_a_forged_key_id_is_never_echoed() -> None:
    forged = Payload(metadata={"encoding": ENCODING, KEY_ID: b"\x1b[2J" + b"k" * 500}, data=b"x")
    [marker] = await AesGcmCodec(ring("k1")).decode([forged])
    reason = refused.why_refused(marker)
    assert reason == "input: encrypted with a key this worker does not hold"


async def test_plaintext_accepted_only_when_configured_for_old_histories() -> None:
    plain = await data_converter(None).encode([SECRET])
    migrating = data_converter(ring("k1"), accept_plaintext=True)
    assert await migrating.decode(plain, [dict]) == [SECRET]
    assert plaintext_accepted_from_env({"ACCORD_CODEC_ACCEPT_PLAINTEXT": "1"})
    assert not plaintext_accepted_from_env({})
    assert not plaintext_accepted_from_env({"ACCORD_CODEC_ACCEPT_PLAINTEXT": "0"})


async def test_failure_messages_are_encoded() -> None:
    converter = data_converter(ring("k1"))
    failure = Failure()
    err = ApplicationError("grant_consent: ZEBRA-7731", type="not_allowed")
    await converter.encode_failure(err, failure)
    assert failure.message == "Encoded failure"
    assert b"ZEBRA" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError) and decoded.message.endswith("ZEBRA-7731")


async def test_refusals_stay_readable_other_failures_do_not() -> None:
    """A caller refused for lacking keys must read why; every other message is encrypted."""
    converter = data_converter(ring("k1"))
    plain = await data_converter(None).encode([SECRET])
    with pytest.raises(ApplicationError) as refusal:
        await converter.decode(plain, [dict])
    for err, readable in [
        (refusal.value, refusal.value.message),
        (ApplicationError("ZEBRA-7731", type="invalid_input"), "Encoded failure"),
        # A refusal's text followed by anything else is not a refusal.
        (ApplicationError(refusal.value.message + " ZEBRA", type="x"), "Encoded failure"),
    ]:
        failure = Failure()
        await converter.encode_failure(err, failure)
        assert failure.message == readable
        assert b"ZEBRA" not in failure.SerializeToString()
        decoded = await converter.decode_failure(failure)
        assert isinstance(decoded, ApplicationError) and decoded.message == err.message


def test_codec_keys_from_env() -> None:
    keys = ring("k2", "k1")
    loaded = codec_keys_from_env({"ACCORD_CODEC_KEYS": ring_text(keys)})
    assert loaded is not None and loaded.ids == ("k2", "k1")
    assert codec_keys_from_env({}) is None
    with pytest.raises(KeyConfigError, match="32 bytes"):
        codec_keys_from_env({"ACCORD_CODEC_KEYS": "k1:AAAA"})
