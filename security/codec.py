"""Payload encryption: an AES-256-GCM `PayloadCodec` and the data converter that uses it.

Every payload the SDK sends to Temporal passes through the codec: workflow and child
inputs, update arguments and results, activity inputs and results, signals, queries,
memos, headers (with `HeaderCodecBehavior.CODEC`), summaries and details, and failures
(their message and stack trace move into an encoded attribute). Search attributes are
not payloads for the codec: the server must index them, so they stay plaintext.

An encrypted payload is `{encoding: binary/encrypted, encryption-key-id: <kid>}` with
`nonce (12 bytes) || ciphertext+tag` as data; the plaintext is the whole original payload
(its metadata too), the key id is bound as associated data. The newest key of the ring
encrypts, every key decrypts: rotate by prepending a key, retire one only when no
history still needs it. Payloads without the encrypted encoding (written before
encryption was enabled) pass through unchanged.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.common import HeaderCodecBehavior
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from security.keys import KeyRing, keyring_from_env

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload this codec cannot decrypt (unknown key id, wrong key or tampered)."""


class AesGcmCodec(PayloadCodec):
    def __init__(self, keys: KeyRing) -> None:
        self._current = keys.current_id
        self._ciphers = {kid: AESGCM(secret) for kid, secret in keys.entries}

    def encrypt(self, payload: Payload) -> Payload:
        kid = self._current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), kid.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: kid.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise CodecError(f"payload encrypted with unknown key id {kid!r}")
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], kid.encode())
        except InvalidTag:
            raise CodecError(f"payload under key {kid!r} failed authentication") from None
        return Payload.FromString(plain)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]


def codec_keys_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """`ACCORD_CODEC_KEYS="kid1:base64,kid2:base64"` (first = current) or `..._FILE`."""
    return keyring_from_env(
        "ACCORD_CODEC_KEYS", "ACCORD_CODEC_KEYS_FILE", environ, exact_length=KEY_BYTES
    )


def data_converter(keys: KeyRing | None) -> DataConverter:
    """The pydantic converter, with the codec and encoded failures when keys are given."""
    if keys is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=AesGcmCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def header_codec_behavior(keys: KeyRing | None) -> HeaderCodecBehavior:
    """Headers (the actor token names a person) are encrypted too when there is a codec."""
    return HeaderCodecBehavior.CODEC if keys is not None else HeaderCodecBehavior.NO_CODEC
