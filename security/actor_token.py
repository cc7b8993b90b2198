"""Actor tokens: who the caller is, for which process, signed by whoever issues credentials.

A token is a compact JWS (`header.claims.signature`, base64url) signed with HMAC-SHA256,
so any JWT library or identity service can issue one:

    header  {"alg": "HS256", "typ": "JWT", "kid": "<key id>"}
    claims  {"party": "mfa", "role": "head", "name": "...", "process": "az-icmp-1a2b3c",
             "iat": <unix seconds>, "exp": <unix seconds>}

`name` is optional. `process` is the process id the token may act on (the workflow id
without `coop-`), or `"*"` for any process (service accounts, minted explicitly). Only
HS256 is accepted (no `none`, no algorithm chosen by the token), the key is chosen by
`kid` from the ring (rotation: several keys verify), the signature is checked before the
claims are read, and `process`, `iat` and `exp` are required: a token issued in the
future (beyond `CLOCK_SKEW`) or living longer than the verifier's maximum lifetime is
refused, so even whoever holds the key cannot make a long-lived one the worker accepts.
Pure functions, no I/O: the workflow verifies with `workflow.now()` as the clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from security.keys import KeyRing, keyring_from, local_actor_keys_path, local_keyring

# The lifetime cap is a setting: its default and parser live with it (kept importable here).
from security.settings import DEFAULT_MAX_LIFETIME as DEFAULT_MAX_LIFETIME
from security.settings import ActorTokenSettings
from security.settings import parse_lifetime as parse_lifetime

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32  # RFC 7518 §3.2: an HS256 key is at least the hash size
MAX_TOKEN_LENGTH = 4096
ANY_PROCESS = "*"
# Clocks of issuers and the Temporal server may differ a little; a minute is the usual
# allowance of JWT verifiers and far below any lifetime that matters.
CLOCK_SKEW = timedelta(seconds=60)
# What the CLI and the tests' client mint for each command, just before sending it.
COMMAND_TOKEN_TTL = timedelta(minutes=5)
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_PROCESS = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")  # domain.vocabulary.ProcessId


class TokenError(Exception):
    """An unusable token. `reason` is short and never echoes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ActorClaims:
    party: str
    role: str
    process: str  # a process id, or ANY_PROCESS
    iat: int
    exp: int
    name: str | None = None

    def identity(self) -> tuple[str, str, str | None]:
        return (self.party, self.role, self.name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"party": self.party, "role": self.role}
        if self.name is not None:
            out["name"] = self.name
        out.update(process=self.process, iat=self.iat, exp=self.exp)
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
    """Sign `claims` with the ring's current key (no checks: tests forge with it)."""
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
    process: str,
    keys: KeyRing,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    """A token for this actor on `process` (or ANY_PROCESS), issued at `now` (default: the
    wall clock) and valid for `ttl`."""
    start = int((now or datetime.now(UTC)).timestamp())
    claims = ActorClaims(party, role, process, start, start + int(ttl.total_seconds()), name)
    return mint(claims, keys)


def verify(
    token: str,
    keys: KeyRing,
    now: datetime,
    *,
    process: str | None = None,
    max_lifetime: timedelta = DEFAULT_MAX_LIFETIME,
) -> ActorClaims:
    """The claims of a valid token, live at `now`, for `process` (when given) and living
    at most `max_lifetime`; TokenError naming the problem otherwise."""
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
    party, role, name, bound = (claims.get(k) for k in ("party", "role", "name", "process"))
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not _nonempty(party)
        or not _nonempty(role)
        or not (name is None or isinstance(name, str))
        or not (bound == ANY_PROCESS or (isinstance(bound, str) and _PROCESS.match(bound)))
        or not _seconds(iat)
        or not _seconds(exp)
    ):
        raise TokenError("malformed claims (party, role, process, iat, exp required)")
    assert isinstance(party, str) and isinstance(role, str) and isinstance(bound, str)
    assert isinstance(iat, int) and isinstance(exp, int)
    if exp <= iat:
        raise TokenError("malformed claims (exp must be after iat)")
    if now.timestamp() >= exp:
        raise TokenError("token expired")
    if iat > (now + CLOCK_SKEW).timestamp():
        raise TokenError("token issued in the future")
    if exp - iat > max_lifetime.total_seconds():
        raise TokenError(
            f"token lifetime (exp - iat) exceeds the maximum of "
            f"{int(max_lifetime.total_seconds())} s (ACCORD_TOKEN_MAX_LIFETIME)"
        )
    if process is not None and bound not in (ANY_PROCESS, process):
        raise TokenError("the token is for another process")
    return ActorClaims(party, role, bound, iat, exp, name)


def _nonempty(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _seconds(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def actor_keys_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """`ACCORD_ACTOR_KEYS="kid1:base64,kid2:base64"` (first signs) or `..._FILE`."""
    return _configured_keys(ActorTokenSettings.load(environ))


def _configured_keys(settings: ActorTokenSettings) -> KeyRing | None:
    return keyring_from(
        settings.actor_keys.get_secret_value() if settings.actor_keys else None,
        settings.actor_keys_file,
        variable=ActorTokenSettings.variable("actor_keys"),
        file_variable=ActorTokenSettings.variable("actor_keys_file"),
        min_length=MIN_KEY_BYTES,
    )


@dataclass(frozen=True)
class ActorKeys:
    """The actor-token ring this host uses, and where it came from (for logs, never keys)."""

    ring: KeyRing | None
    source: str
    created: bool = False


def actor_keys_for_host(environ: Mapping[str, str] | None = None) -> ActorKeys:
    """The configured ring; else, with no cluster configured (`TEMPORAL_ADDRESS` unset:
    the worker and the CLI share this machine), the local ring under the data directory,
    created on first use. A host talking to a cluster gets no local ring: a key made up
    there would match no worker, so it must be given the deployment's keys (or a token).
    """
    env = os.environ if environ is None else environ
    settings = ActorTokenSettings.load(env)
    configured = _configured_keys(settings)
    if configured is not None:
        field = "actor_keys" if settings.actor_keys else "actor_keys_file"
        return ActorKeys(configured, ActorTokenSettings.variable(field))
    if env.get("TEMPORAL_ADDRESS"):
        return ActorKeys(None, "none (TEMPORAL_ADDRESS is set and ACCORD_ACTOR_KEYS is not)")
    path = local_actor_keys_path(env)
    ring, created = local_keyring(path, min_length=MIN_KEY_BYTES)
    return ActorKeys(ring, f"local key ring {path}", created)


def max_lifetime_from_env(environ: Mapping[str, str] | None = None) -> timedelta:
    """`ACCORD_TOKEN_MAX_LIFETIME`: the longest token lifetime (exp - iat) accepted."""
    return ActorTokenSettings.load(environ).token_max_lifetime
