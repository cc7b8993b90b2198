"""Actor tokens and key rings, without Temporal: what a forger can and cannot do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from security.actor_token import (
    MAX_TOKEN_LENGTH,
    ActorClaims,
    TokenError,
    actor_keys_from_env,
    mint,
    mint_for,
    verify,
)
from security.keys import KeyConfigError, KeyRing, keyring_from_env, parse_keyring
from tests.security.conftest import ring, ring_text

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_round_trip_with_and_without_name() -> None:
    keys = ring("k1")
    token = mint_for("mfa", "head", "Jeyhun", keys=keys, ttl=HOUR, now=NOW)
    expires = int((NOW + HOUR).timestamp())
    assert verify(token, keys, NOW) == ActorClaims("mfa", "head", expires, "Jeyhun")
    head = mint_for("partner", "director_general", keys=keys, ttl=HOUR, now=NOW)
    anonymous = verify(head, keys, NOW)
    assert anonymous.identity() == ("partner", "director_general", None)


def test_wrong_key_is_a_bad_signature() -> None:
    forged = mint_for("national_body", "chair", keys=ring("k1"), ttl=HOUR, now=NOW)
    with pytest.raises(TokenError, match="bad signature"):
        verify(forged, ring("k1"), NOW)  # same key id, other secret


def test_changed_claims_break_the_signature() -> None:
    keys = ring("k1")
    header, _, signature = mint_for("mfa", "head", keys=keys, ttl=HOUR, now=NOW).split(".")
    promoted = _b64({"party": "national_body", "role": "chair", "exp": 2**40})
    with pytest.raises(TokenError, match="bad signature"):
        verify(f"{header}.{promoted}.{signature}", keys, NOW)


def test_expiry_is_exclusive() -> None:
    keys = ring("k1")
    token = mint_for("mfa", "head", keys=keys, ttl=HOUR, now=NOW)
    assert verify(token, keys, NOW + HOUR - timedelta(seconds=1)).party == "mfa"
    with pytest.raises(TokenError, match="expired"):
        verify(token, keys, NOW + HOUR)


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", None])
def test_only_hs256_is_accepted(alg: str | None) -> None:
    keys = ring("k1")
    _, claims, signature = mint_for("mfa", "head", keys=keys, ttl=HOUR, now=NOW).split(".")
    header = _b64({"alg": alg, "kid": "k1"})
    with pytest.raises(TokenError, match="algorithm"):
        verify(f"{header}.{claims}.{signature}", keys, NOW)
    with pytest.raises(TokenError, match="algorithm"):
        verify(f"{header}.{claims}.", keys, NOW)


def test_unknown_key_id() -> None:
    token = mint_for("mfa", "head", keys=ring("retired"), ttl=HOUR, now=NOW)
    with pytest.raises(TokenError, match="unknown signing key"):
        verify(token, ring("k1"), NOW)


def test_rotation_old_key_still_verifies_new_key_signs() -> None:
    old = ring("k1")
    rotated = KeyRing((("k2", b"n" * 32), *old.entries))
    issued_before = mint_for("mfa", "head", keys=old, ttl=HOUR, now=NOW)
    assert verify(issued_before, rotated, NOW).role == "head"
    issued_after = mint_for("mfa", "head", keys=rotated, ttl=HOUR, now=NOW)
    header = json.loads(base64.urlsafe_b64decode(issued_after.split(".")[0] + "=="))
    assert header["kid"] == "k2"
    with pytest.raises(TokenError, match="unknown signing key"):
        verify(issued_after, old, NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"party": "mfa", "role": "head"},  # no exp
        {"party": "mfa", "role": "head", "exp": True},
        {"party": "mfa", "role": "head", "exp": "2099-01-01"},
        {"party": "", "role": "head", "exp": 2**40},
        {"party": "mfa", "exp": 2**40},
        {"party": "mfa", "role": "head", "name": 7, "exp": 2**40},
    ],
)
def test_malformed_claims_even_when_signed(claims: dict[str, object]) -> None:
    keys = ring("k1")
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'k1'})}.{_b64(claims)}"
    signature = hmac.new(keys.current, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    with pytest.raises(TokenError, match="malformed claims"):
        verify(token, keys, NOW)


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b", "a.b.c.d", "!!.!!.!!", "x" * (MAX_TOKEN_LENGTH + 1)]
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(TokenError):
        verify(token, ring("k1"), NOW)


def test_mint_uses_current_key_only() -> None:
    keys = ring("a", "b")
    token = mint(ActorClaims("mfa", "head", 2**40), keys)
    assert verify(token, KeyRing((keys.entries[0],)), NOW).party == "mfa"


def test_keyring_parsing_and_errors() -> None:
    keys = ring("k1", "k0")
    parsed = parse_keyring(ring_text(keys), source="X")
    assert parsed.ids == ("k1", "k0") and parsed.current == keys.current
    with_comments = "# rotated 2025-01\n" + ring_text(keys).replace(",", "\n") + "\n"
    assert parse_keyring(with_comments, source="X").ids == ("k1", "k0")
    for bad, problem in [
        ("", "no keys"),
        ("k1", "kid:base64"),
        ("bad id:AAAA", "kid:base64"),
        ("k1:not base64!", "base64"),
        (f"k1:{base64.b64encode(b'x' * 31).decode()}", "32 bytes"),
        (f"{ring_text(keys)},{ring_text(keys)}", "duplicate"),
    ]:
        with pytest.raises(KeyConfigError, match=problem):
            parse_keyring(bad, source="X", exact_length=32)
    assert "k1" in repr(parsed) and base64.b64encode(keys.current).decode() not in repr(parsed)


def test_keys_from_env_or_file(tmp_path: Path) -> None:
    keys = ring("k1")
    text = ring_text(keys)
    env_ring = actor_keys_from_env({"ACCORD_ACTOR_KEYS": text})
    assert env_ring is not None and env_ring.current == keys.current
    keyfile = tmp_path / "actor.keys"
    keyfile.write_text(text + "\n")
    file_ring = actor_keys_from_env({"ACCORD_ACTOR_KEYS_FILE": str(keyfile)})
    assert file_ring is not None and file_ring.ids == ("k1",)
    assert actor_keys_from_env({}) is None
    with pytest.raises(KeyConfigError, match="not both"):
        actor_keys_from_env({"ACCORD_ACTOR_KEYS": text, "ACCORD_ACTOR_KEYS_FILE": str(keyfile)})
    with pytest.raises(KeyConfigError, match="cannot read"):
        keyring_from_env("A", "A_FILE", {"A_FILE": str(tmp_path / "missing")})
    short = f"k1:{base64.b64encode(b'x' * 16).decode()}"
    with pytest.raises(KeyConfigError, match="at least 32 bytes"):
        actor_keys_from_env({"ACCORD_ACTOR_KEYS": short})
