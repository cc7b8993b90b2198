"""Actor tokens: who the caller is, signed by whoever issues credentials.

A token is a compact JWS (`header.claims.signature`, base64url) signed with HMAC-SHA256,
so any JWT library or identity service can issue one:

    header  {"alg": "HS256", "typ": "JWT", "kid": "<key id>"}
    claims  {"party": "mfa", "role": "head", "name": "...", "exp": <unix seconds>}

`name` is optional. Only HS256 is accepted (no `none`, no algorithm chosen by the token),
the key is chosen by `kid` from the ring (rotation: several keys verify), the signature
is checked before the claims are read, and `exp` is required. Pure functions, no I/O: the
workflow verifies with `workflow.now()` as the clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from security.keys import KeyRing, keyring_from_env

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32  # RFC 7518 §3.2: an HS256 key is at least the hash size
MAX_TOKEN_LENGTH = 4096
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class TokenError(Exception):
    """An unusable token. `reason` is short and never echoes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ActorClaims:
    party: str
    role: str
    exp: int
    name: str | None = None

    def identity(self) -> tuple[str, str, str | None]:
        return (self.party, self.role, self.name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"party": self.party, "role": self.role}
        if self.name is not None:
            out["name"] = self.name
        out["exp"] = self.exp
        return out


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(part: str) -> bytes:
    if not _B64URL.match(part):
        raise TokenError("malformed token")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed token") from None


def _json_object(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(part))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed token") from None
    if not isinstance(value, dict):
        raise TokenError("malformed token")
    return value


def _sign(secret: bytes, signing_input: str) -> bytes:
    return hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()


def mint(claims: ActorClaims, keys: KeyRing) -> str:
    """Sign `claims` with the ring's current key."""
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": keys.current_id}
    signing_input = ".".join(
        _b64encode(json.dumps(part, separators=(",", ":")).encode())
        for part in (header, claims.to_json())
    )
    return f"{signing_input}.{_b64encode(_sign(keys.current, signing_input))}"


def mint_for(
    party: str,
    role: str,
    name: str | None = None,
    *,
    keys: KeyRing,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    """A token for this actor, valid for `ttl` from `now` (default: the wall clock)."""
    start = now or datetime.now(UTC)
    return mint(ActorClaims(party, role, int((start + ttl).timestamp()), name), keys)


def verify(token: str, keys: KeyRing, now: datetime) -> ActorClaims:
    """The claims of a valid, unexpired token; TokenError naming the problem otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed token")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token")
    header_part, claims_part, signature_part = parts
    header = _json_object(header_part)
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"algorithm must be {ALGORITHM}")
    kid = header.get("kid")
    secret = keys.get(kid) if isinstance(kid, str) else None
    if secret is None:
        raise TokenError("unknown signing key")
    expected = _sign(secret, f"{header_part}.{claims_part}")
    if not hmac.compare_digest(expected, _b64decode(signature_part)):
        raise TokenError("bad signature")
    claims = _json_object(claims_part)
    party, role, name, exp = (claims.get(k) for k in ("party", "role", "name", "exp"))
    if (
        not isinstance(party, str)
        or not party
        or not isinstance(role, str)
        or not role
        or not (name is None or isinstance(name, str))
        or not isinstance(exp, int)
        or isinstance(exp, bool)
    ):
        raise TokenError("malformed claims (party, role, exp required)")
    if now.timestamp() >= exp:
        raise TokenError("token expired")
    return ActorClaims(party=party, role=role, exp=exp, name=name)


def actor_keys_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """`ACCORD_ACTOR_KEYS="kid1:base64,kid2:base64"` (first signs) or `..._FILE`."""
    return keyring_from_env(
        "ACCORD_ACTOR_KEYS", "ACCORD_ACTOR_KEYS_FILE", environ, min_length=MIN_KEY_BYTES
    )
