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
history still needs it.

Inbound payloads are refused, not trusted: with keys configured, a payload that arrives
unencrypted (a caller without keys: a plain SDK client, the raw `temporal` CLI) or that
no key of the ring authenticates reaches the SDK as a refusal marker (`security/refused.py`)
with no data, so it is never executed nor recorded: a command is refused in its update
validator (nothing enters the history), a start fails with `invalid_input` before the
workflow code runs, a signal is dropped. `ACCORD_CODEC_ACCEPT_PLAINTEXT=1` lets unencrypted
payloads through, only to replay histories written before encryption was enabled.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.common import HeaderCodecBehavior
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    EncodingPayloadConverter,
    PayloadCodec,
    PayloadConverter,
)
from temporalio.exceptions import ApplicationError

from security import refused
from security.keys import KeyRing, keyring_from
from security.settings import CodecSettings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload this codec cannot decrypt (unknown key id, wrong key or tampered)."""


class AesGcmCodec(PayloadCodec):
    """`encode` encrypts everything; `decode` decrypts or refuses (see the module's doc).

    `decrypt` is the lenient form for the codec server, which shows a history as it is
    stored: unencrypted payloads pass, undecryptable ones raise `CodecError`.
    """

    def __init__(self, keys: KeyRing, *, accept_plaintext: bool = False) -> None:
        self._current = keys.current_id
        self._ciphers = {kid: AESGCM(secret) for kid, secret in keys.entries}
        self.accept_plaintext = accept_plaintext

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

    def admit(self, payload: Payload) -> Payload:
        """The decrypted payload, or a refusal marker if it cannot be trusted.

        Never raises: a raise here fails the whole workflow activation, and its task is
        retried for ever; a marker is refused by the one handler it was meant for.
        """
        if payload.metadata.get("encoding") != ENCODING:
            if self.accept_plaintext:
                return payload
            return refused.marker(refused.UNENCRYPTED)
        kid = payload.metadata.get(KEY_ID, b"")
        if kid.decode("utf-8", "replace") not in self._ciphers:
            return refused.marker(refused.UNKNOWN_KEY, kid)
        try:
            return self.decrypt(payload)
        except Exception:  # failed authentication, or authentic bytes that are no Payload
            return refused.marker(refused.NOT_AUTHENTIC, kid)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.admit(p) for p in payloads]


class RefusedPayloadConverter(EncodingPayloadConverter):
    """Converts no value to a refusal marker; converting a marker raises why it was refused.

    Unencrypted input raises `invalid_input` (an `ApplicationError`): a workflow whose start
    input was refused then fails cleanly, before its code runs. An undecryptable payload
    raises `CodecError`, which fails the task instead, so that it is retried: after a key
    rotation reached the caller before this worker, the worker gets the key and goes on.
    """

    @property
    def encoding(self) -> str:
        return refused.ENCODING.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        message = refused.why_refused(payload) or "input: payload refused"
        if payload.metadata.get(refused.REASON) == refused.UNENCRYPTED:
            raise ApplicationError(message, type="invalid_input", non_retryable=True)
        raise CodecError(message)


class AccordFailureConverterWithEncodedAttributes(DefaultFailureConverterWithEncodedAttributes):
    """Failure messages and stack traces go into encrypted attributes, except a refusal's.

    A caller refused for sending unencrypted input has no keys: an encrypted reason would
    reach it as "Encoded failure". The refusal texts are Accord's own constants and hold
    nothing the caller sent, so their message stays readable (the copy inside the
    encrypted attributes is the same text).
    """

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        if isinstance(exception, ApplicationError) and refused.is_refusal(exception.message):
            failure.message = exception.message


class AccordPayloadConverter(PydanticPayloadConverter):
    """The pydantic converter that also reads refusal markers (nullary, as the SDK needs)."""

    def __init__(self) -> None:
        super().__init__()
        self._set_converters(*self.converters.values(), RefusedPayloadConverter())


def codec_keys_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """`ACCORD_CODEC_KEYS="kid1:base64,kid2:base64"` (first = current) or `..._FILE`."""
    settings = CodecSettings.load(environ)
    return keyring_from(
        settings.codec_keys.get_secret_value() if settings.codec_keys else None,
        settings.codec_keys_file,
        variable=CodecSettings.variable("codec_keys"),
        file_variable=CodecSettings.variable("codec_keys_file"),
        exact_length=KEY_BYTES,
    )


def plaintext_accepted_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """`ACCORD_CODEC_ACCEPT_PLAINTEXT=1`: only while histories from before encryption replay."""
    return CodecSettings.load(environ).codec_accept_plaintext


def data_converter(keys: KeyRing | None, *, accept_plaintext: bool | None = None) -> DataConverter:
    """The pydantic converter, with the codec and encoded failures when keys are given.

    `accept_plaintext` defaults to `ACCORD_CODEC_ACCEPT_PLAINTEXT` (off: refused).
    """
    if keys is None:
        return pydantic_data_converter
    if accept_plaintext is None:
        accept_plaintext = plaintext_accepted_from_env()
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=AccordPayloadConverter,
        payload_codec=AesGcmCodec(keys, accept_plaintext=accept_plaintext),
        failure_converter_class=AccordFailureConverterWithEncodedAttributes,
    )


def header_codec_behavior(keys: KeyRing | None) -> HeaderCodecBehavior:
    """Headers (the actor token names a person) are encrypted too when there is a codec."""
    return HeaderCodecBehavior.CODEC if keys is not None else HeaderCodecBehavior.NO_CODEC
