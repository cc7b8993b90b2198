"""The anchored-heads file: `accord verify --heads -o FILE` writes it, `accord verify
--expect-heads FILE` reads it back.

A database cannot vouch for itself: a superuser can rewrite a stream and recompute every
hash. What they cannot do is make today's log agree with heads exported earlier and kept
elsewhere. The file holds every stream's (version, head hash) and the export snapshot's
horizon (see `AnchoredHeads`), plus a SHA-256 digest over all of that, so a damaged or
truncated file is refused rather than read as "fewer streams"; with a key ring
(`ACCORD_HEADS_KEYS` or `ACCORD_HEADS_KEYS_FILE`, `kid:base64` entries of at least 32 bytes)
it also carries an HMAC-SHA256 signature, and reading it then requires a valid one.

    {"format": "accord-heads/1", "exported_at": "...Z", "horizon": 123456,
     "streams": [{"stream_id": "coop-x", "version": 7, "head_hash": "<64 hex>"}, ...],
     "digest": "sha256:<hex>", "signature": {"alg": "HMAC-SHA256", "kid": "k1",
     "value": "<hex>"}}

The digest and the signature cover the canonical JSON (sorted keys, no spaces, UTF-8) of
the four fields format, exported_at, horizon and streams.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from store.model import AnchoredHeads, HeadsSnapshot

FORMAT = "accord-heads/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAX_STREAM_ID = 1000


class AnchorFileError(ValueError):
    """The heads file cannot be used. The message names the field and the rule, never the
    rejected value."""


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two values for one key would let the file say one thing to one reader and another
    to the next: refused."""
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _DuplicateKey
    return document


def _signed_part(format_: str, exported_at: str, horizon: int, streams: list[Any]) -> bytes:
    document = {
        "exported_at": exported_at,
        "format": format_,
        "horizon": horizon,
        "streams": streams,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def heads_document(
    snapshot: HeadsSnapshot,
    *,
    key: tuple[str, bytes] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The file's content for `snapshot`, signed with `key` (kid, secret) when given."""
    exported_at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    streams = [
        {"stream_id": h.stream_id, "version": h.version, "head_hash": h.head_hash}
        for h in sorted(snapshot.heads, key=lambda h: h.stream_id)
    ]
    signed = _signed_part(FORMAT, exported_at, snapshot.horizon, streams)
    document: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": exported_at,
        "horizon": snapshot.horizon,
        "streams": streams,
        "digest": "sha256:" + hashlib.sha256(signed).hexdigest(),
    }
    if key is not None:
        kid, secret = key
        document["signature"] = {
            "alg": "HMAC-SHA256",
            "kid": kid,
            "value": hmac.new(secret, signed, hashlib.sha256).hexdigest(),
        }
    return document


def read_heads_document(
    text: str, *, keys: Mapping[str, bytes] | None = None
) -> tuple[AnchoredHeads, bool]:
    """Parse and check a heads file: (the anchored heads, whether a signature was checked).

    With `keys` (kid -> secret) the file must carry a valid signature by one of them: a
    file whose signature was stripped and digest recomputed is refused.
    """
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (json.JSONDecodeError, RecursionError):
        raise AnchorFileError("heads file: not JSON") from None
    except _DuplicateKey:
        raise AnchorFileError("heads file: a key appears twice in one object") from None
    if not isinstance(document, dict):
        raise AnchorFileError("heads file: expected a JSON object")
    if document.get("format") != FORMAT:
        raise AnchorFileError(f"heads file: format must be {FORMAT!r}")
    exported_at = document.get("exported_at")
    if not isinstance(exported_at, str) or len(exported_at) > 40:
        raise AnchorFileError("heads file: exported_at must be a timestamp string")
    horizon = document.get("horizon")
    if type(horizon) is not int or horizon < 0:
        raise AnchorFileError("heads file: horizon must be a non-negative integer")
    streams = document.get("streams")
    if not isinstance(streams, list):
        raise AnchorFileError("heads file: streams must be a list")
    heads: dict[str, tuple[int, bytes]] = {}
    for index, item in enumerate(streams):
        where = f"heads file: streams[{index}]"
        if not isinstance(item, dict) or set(item) != {"stream_id", "version", "head_hash"}:
            raise AnchorFileError(f"{where} must hold exactly stream_id, version, head_hash")
        stream_id, version, head_hash = item["stream_id"], item["version"], item["head_hash"]
        if not isinstance(stream_id, str) or not 0 < len(stream_id) <= _MAX_STREAM_ID:
            raise AnchorFileError(f"{where}.stream_id must be a non-empty string")
        if type(version) is not int or version < 1:
            raise AnchorFileError(f"{where}.version must be a positive integer")
        if not isinstance(head_hash, str) or not _HEX64.match(head_hash):
            raise AnchorFileError(f"{where}.head_hash must be 64 lowercase hex digits")
        if stream_id in heads:
            raise AnchorFileError(f"{where}.stream_id appears twice")
        heads[stream_id] = (version, bytes.fromhex(head_hash))
    signed = _signed_part(FORMAT, exported_at, horizon, streams)
    digest = "sha256:" + hashlib.sha256(signed).hexdigest()
    if not isinstance(document.get("digest"), str) or not hmac.compare_digest(
        document["digest"], digest
    ):
        raise AnchorFileError("heads file: digest does not match its content (damaged or edited)")
    signature = document.get("signature")
    if keys is None:
        return AnchoredHeads(horizon, heads), False
    if not isinstance(signature, dict) or signature.get("alg") != "HMAC-SHA256":
        raise AnchorFileError("heads file: not signed, and a heads key ring is configured")
    kid = signature.get("kid")
    secret = keys.get(kid) if isinstance(kid, str) else None
    if secret is None:
        raise AnchorFileError("heads file: signed with a key id not in the heads key ring")
    value = signature.get("value")
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    if not isinstance(value, str) or not hmac.compare_digest(value, expected):
        raise AnchorFileError("heads file: signature does not verify")
    return AnchoredHeads(horizon, heads), True
