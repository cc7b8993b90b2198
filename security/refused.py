"""Refused payloads: what the worker sees in place of a payload it will not accept.

With encryption on, the codec (`security/codec.py`) hands the SDK a *refusal marker* instead
of a payload that arrived unencrypted or that it cannot decrypt: encoding
`binary/accord-refused`, the reason in the metadata, and no data at all, so the content the
caller sent can never be parsed, executed or recorded by mistake. Raising in the codec
instead would fail the whole workflow task and retry it for ever; a marker lets each
handler refuse cleanly:

- a value the workflow takes as a `RawValue` (the process's commands and its start input)
  is refused by the code that reads it: `why_refused(raw.payload)` names the rule; an
  update refused in its validator never enters the history, a start refused when it runs
  fails before anything is recorded;
- a typed value (a start input, a signal, a query argument) fails to convert: an
  unencrypted one raises `invalid_input`, which fails a start cleanly before the workflow
  code runs; signals that fail to convert are dropped by the SDK.

Pure and dependency-free, so workflow code may import it (passed through the sandbox).
"""

from __future__ import annotations

import re

from temporalio.api.common.v1 import Payload

ENCODING = b"binary/accord-refused"
REASON = "accord-refused"
KEY_ID = "encryption-key-id"

UNENCRYPTED = b"unencrypted"
UNKNOWN_KEY = b"unknown-key"
NOT_AUTHENTIC = b"not-authentic"

# A key id is echoed only in the ring's own alphabet and length (security/keys.py), so a
# caller's metadata never reaches a message as it was sent.
_KID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


def marker(reason: bytes, key_id: bytes = b"") -> Payload:
    """The payload the SDK gets instead of one refused for `reason`; it carries no data."""
    metadata = {"encoding": ENCODING, REASON: reason}
    if _KID.match(key_id):
        metadata[KEY_ID] = key_id
    return Payload(metadata=metadata)


_MESSAGES = {
    UNENCRYPTED: (
        "input: unencrypted payload refused: payload encryption is on, send it through"
        " the codec (ACCORD_CODEC_KEYS or the codec server)"
    ),
    UNKNOWN_KEY: "input: encrypted with a key this worker does not hold",
    NOT_AUTHENTIC: "input: encrypted payload failed authentication",
}
_PUBLIC = re.compile(
    "(?:{})(?: \\(key id '[A-Za-z0-9._-]{{1,64}}'\\))?".format(
        "|".join(re.escape(m) for m in _MESSAGES.values())
    )
)


def why_refused(payload: Payload) -> str | None:
    """Why a payload was refused (a short message naming the rule), or None if it was not."""
    if payload.metadata.get("encoding") != ENCODING:
        return None
    reason = payload.metadata.get(REASON, b"")
    message = _MESSAGES.get(reason, _MESSAGES[NOT_AUTHENTIC])
    kid = payload.metadata.get(KEY_ID, b"")
    if reason != UNENCRYPTED and _KID.match(kid):
        message += f" (key id {kid.decode('ascii')!r})"
    return message


def is_refusal(message: str) -> bool:
    """Whether a failure message is exactly one of these refusals (so it may stay readable:
    it holds nothing of what was sent, and a caller without keys must learn why)."""
    return _PUBLIC.fullmatch(message) is not None
