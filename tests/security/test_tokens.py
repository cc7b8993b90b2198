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
    ANY_PROCESS,
    CLOCK_SKEW,
    DEFAULT_MAX_LIFETIME,
    MAX_TOKEN_LENGTH,
    ActorClaims,
    TokenError,
    actor_keys_for_host,
    actor_keys_from_env,
    max_lifetime_from_env,
    mint,
    mint_for,
    parse_lifetime,
    verify,
)
from security.keys import KeyConfigError, KeyRing, keyring_from_env, local_keyring, parse_keyring
from tests.security.conftest import ring, ring_text

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
T0 = int(NOW.timestamp())
P = "az-icmp-1a2b3c"


def _mint(*actor: str, keys: KeyRing, process: str = P, ttl: timedelta = HOUR) -> str:
    return mint_for(*actor, process=process, keys=keys, ttl=ttl, now=NOW)


def _signed(keys: KeyRing, claims: dict[str, object]) -> str:
    """Claims signed by hand with the key: what a holder of the key can forge."""
    signing_input = f"{_b64({'alg': 'HS256', 'kid': keys.current_id})}.{_b64(claims)}"
    signature = hmac.new(keys.current, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_round_trip_with_and_without_name() -> None:
    keys = ring("k1")
    token = _mint("mfa", "head", "Jeyhun", keys=keys)
    claims = verify(token, keys, NOW, process=P)
    assert claims == ActorClaims("mfa", "head", P, T0, T0 + 3600, "Jeyhun")
    head = _mint("partner", "director_general", keys=keys)
    anonymous = verify(head, keys, NOW)
    assert anonymous.identity() == ("partner", "director_general", None)


def test_wrong_key_is_a_bad_signature() -> None:
    forged = _mint("national_body", "chair", keys=ring("k1"))
    with pytest.raises(TokenError, match="bad signature"):
        verify(forged, ring("k1"), NOW)  # same key id, other secret


def test_changed_claims_break_the_signature() -> None:
    keys = ring("k1")
    header, _, signature = _mint("mfa", "head", keys=keys).split(".")
    promoted = _b64(
        {"party": "national_body", "role": "chair", "process": "*", "iat": T0, "exp": T0 + 60}
    )
    with pytest.raises(TokenError, match="bad signature"):
        verify(f"{header}.{promoted}.{signature}", keys, NOW)


def test_expiry_is_exclusive() -> None:
    keys = ring("k1")
    token = _mint("mfa", "head", keys=keys)
    assert verify(token, keys, NOW + HOUR - timedelta(seconds=1)).party == "mfa"
    with pytest.raises(TokenError, match="expired"):
        verify(token, keys, NOW + HOUR)


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", None])
def test_only_hs256_is_accepted(alg: str | None) -> None:
    keys = ring("k1")
    _, claims, signature = _mint("mfa", "head", keys=keys).split(".")
    header = _b64({"alg": alg, "kid": "k1"})
    with pytest.raises(TokenError, match="algorithm"):
        verify(f"{header}.{claims}.{signature}", keys, NOW)
    with pytest.raises(TokenError, match="algorithm"):
        verify(f"{header}.{claims}.", keys, NOW)


def test_unknown_key_id() -> None:
    token = _mint("mfa", "head", keys=ring("retired"))
    with pytest.raises(TokenError, match="unknown signing key"):
        verify(token, ring("k1"), NOW)


def test_rotation_old_key_still_verifies_new_key_signs() -> None:
    old = ring("k1")
    rotated = KeyRing((("k2", b"n" * 32), *old.entries))
    issued_before = _mint("mfa", "head", keys=old)
    assert verify(issued_before, rotated, NOW).role == "head"
    issued_after = _mint("mfa", "head", keys=rotated)
    header = json.loads(base64.urlsafe_b64decode(issued_after.split(".")[0] + "=="))
    assert header["kid"] == "k2"
    with pytest.raises(TokenError, match="unknown signing key"):
        verify(issued_after, old, NOW)


GOOD = {"party": "mfa", "role": "head", "process": P, "iat": T0, "exp": T0 + 60}


@pytest.mark.parametrize(
    "change",
    [
        {"exp": None},
        {"iat": None},
        {"process": None},
        {"exp": True},
        {"iat": 1.5},
        {"exp": "2099-01-01"},
        {"party": ""},
        {"role": None},
        {"name": 7},
        {"process": ""},
        {"process": "coop-Az_1"},  # not a process id
        {"process": ["az-icmp-1a2b3c"]},
        {"exp": T0, "iat": T0},  # exp must be after iat
    ],
)
def test_malformed_claims_even_when_signed(change: dict[str, object]) -> None:
    keys = ring("k1")
    claims = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(TokenError, match="malformed claims"):
        verify(_signed(keys, claims), keys, NOW)


def test_a_token_is_bound_to_its_process() -> None:
    keys = ring("k1")
    token = _mint("mfa", "head", keys=keys, process=P)
    assert verify(token, keys, NOW, process=P).process == P
    with pytest.raises(TokenError, match="another process") as refused:
        verify(token, keys, NOW, process="az-icmp-other")
    assert token not in str(refused.value)
    # "*" only when minted so, and then valid on every process.
    service = _mint("partner", "director_general", keys=keys, process=ANY_PROCESS)
    for process in (P, "az-icmp-other"):
        assert verify(service, keys, NOW, process=process).process == ANY_PROCESS


def test_lifetime_is_capped_by_the_verifier_even_for_the_key_holder() -> None:
    keys = ring("k1")
    century = timedelta(days=365 * 100)
    with pytest.raises(TokenError, match="lifetime") as refused:
        verify(_mint("mfa", "head", keys=keys, ttl=century), keys, NOW, process=P)
    assert "ACCORD_TOKEN_MAX_LIFETIME" in str(refused.value)
    # Exactly the maximum is accepted; one second more is not; the cap is the verifier's.
    assert verify(_mint("mfa", "head", keys=keys, ttl=DEFAULT_MAX_LIFETIME), keys, NOW).exp
    over = _mint("mfa", "head", keys=keys, ttl=DEFAULT_MAX_LIFETIME + timedelta(seconds=1))
    with pytest.raises(TokenError, match="lifetime"):
        verify(over, keys, NOW)
    assert verify(over, keys, NOW, max_lifetime=2 * HOUR).party == "mfa"
    ten_minutes = _mint("mfa", "head", keys=keys, ttl=timedelta(minutes=10))
    with pytest.raises(TokenError, match="lifetime"):
        verify(ten_minutes, keys, NOW, max_lifetime=timedelta(minutes=5))


def test_a_token_issued_in_the_future_is_refused() -> None:
    keys = ring("k1")
    # A key holder dodging the cap: iat moved up to just below a far expiry.
    late = _signed(keys, {**GOOD, "iat": T0 + 10 * 365 * 86400, "exp": T0 + 10 * 365 * 86400 + 60})
    with pytest.raises(TokenError, match="issued in the future"):
        verify(late, keys, NOW)
    # Within the clock skew it is accepted; just beyond, refused.
    skew = int(CLOCK_SKEW.total_seconds())
    assert verify(_signed(keys, {**GOOD, "iat": T0 + skew, "exp": T0 + skew + 60}), keys, NOW)
    with pytest.raises(TokenError, match="issued in the future"):
        verify(_signed(keys, {**GOOD, "iat": T0 + skew + 1, "exp": T0 + skew + 61}), keys, NOW)


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b", "a.b.c.d", "!!.!!.!!", "x" * (MAX_TOKEN_LENGTH + 1)]
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(TokenError):
        verify(token, ring("k1"), NOW)


def test_mint_uses_current_key_only() -> None:
    keys = ring("a", "b")
    token = mint(ActorClaims("mfa", "head", P, T0, T0 + 60), keys)
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


def test_the_local_key_ring_is_created_once_private_and_shared(tmp_path: Path) -> None:
    env = {"ACCORD_DATA_DIR": str(tmp_path / "data")}
    first = actor_keys_for_host(env)
    path = tmp_path / "data" / "keys" / "actor.keys"
    assert first.created and first.ring is not None and str(path) in first.source
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert len(first.ring.current) == 32 and first.ring.current_id.startswith("local-")
    # The worker and the CLI on this machine read the same ring; nothing is re-created.
    again = actor_keys_for_host(env)
    assert not again.created and again.ring == first.ring
    # The file is the ACCORD_ACTOR_KEYS_FILE format: another host can use it as it is.
    copied = actor_keys_from_env({"ACCORD_ACTOR_KEYS_FILE": str(path)})
    assert copied == first.ring
    # Configured keys win; with a cluster configured there is no local ring to fall back on.
    configured = ring("ops")
    chosen = actor_keys_for_host({**env, "ACCORD_ACTOR_KEYS": ring_text(configured)})
    assert chosen.ring == configured and chosen.source == "ACCORD_ACTOR_KEYS"
    remote = actor_keys_for_host({"TEMPORAL_ADDRESS": "temporal:7233", **env})
    assert remote.ring is None and "TEMPORAL_ADDRESS" in remote.source


def test_a_local_key_ring_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys, created = local_keyring(tmp_path / "keys" / "actor.keys")
    assert created
    (tmp_path / "keys" / "actor.keys").chmod(0o644)
    with pytest.raises(KeyConfigError, match="chmod 600") as refused:
        local_keyring(tmp_path / "keys" / "actor.keys")
    assert base64.b64encode(keys.current).decode() not in str(refused.value)


def test_two_processes_creating_the_ring_at_once_get_the_same_key(tmp_path: Path) -> None:
    import concurrent.futures

    path = tmp_path / "keys" / "actor.keys"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: local_keyring(path), range(8)))
    assert len({ring.current for ring, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert [p.name for p in path.parent.iterdir()] == ["actor.keys"]  # no temporary left


@pytest.mark.parametrize(
    ("text", "expected"),
    [("PT1H", HOUR), ("3600", HOUR), ("PT5M", timedelta(minutes=5)), ("P1D", timedelta(days=1))],
)
def test_lifetimes_in_iso_8601_or_seconds(text: str, expected: timedelta) -> None:
    assert parse_lifetime(text, source="--ttl") == expected


@pytest.mark.parametrize("text", ["soon", "-PT1H", "0", "PT0S", "1e9999", "P99999999999D"])
def test_bad_lifetimes_name_the_source_not_the_value(text: str) -> None:
    with pytest.raises(KeyConfigError, match=r"^--ttl: ") as refused:
        parse_lifetime(text, source="--ttl")
    assert text not in str(refused.value)


def test_max_lifetime_from_env() -> None:
    assert max_lifetime_from_env({}) == DEFAULT_MAX_LIFETIME == HOUR
    assert max_lifetime_from_env({"ACCORD_TOKEN_MAX_LIFETIME": "PT10M"}) == timedelta(minutes=10)
    assert max_lifetime_from_env({"ACCORD_TOKEN_MAX_LIFETIME": "900"}) == timedelta(minutes=15)
    for bad in ("PT30S", "P2D", "P36500D", "forever"):
        with pytest.raises(KeyConfigError, match="ACCORD_TOKEN_MAX_LIFETIME"):
            max_lifetime_from_env({"ACCORD_TOKEN_MAX_LIFETIME": bad})


def test_the_documented_shell_recipe_mints_a_valid_token(tmp_path: Path) -> None:
    """SECURITY.md's shell lines (openssl only) make a token `verify` accepts."""
    import re
    import subprocess

    doc = (Path(__file__).resolve().parents[2] / "SECURITY.md").read_text()
    [recipe] = re.findall(
        r"<!-- mint-sh:begin -->\n```sh\n(.*?)```\n<!-- mint-sh:end -->", doc, re.S
    )
    keys = ring("svc-1", "old")
    keyfile = tmp_path / "actor.keys"
    keyfile.write_text("# a comment, with a comma\n" + ring_text(keys).replace(",", "\n"))
    out = subprocess.run(
        ["sh", "-c", recipe],
        env={"PATH": "/usr/bin:/bin", "RING": str(keyfile), "PROCESS": P},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    claims = verify(out, keys, datetime.now(UTC), process=P)
    assert claims.identity() == ("mfa", "head", None) and claims.exp - claims.iat == 300
    with pytest.raises(TokenError, match="another process"):
        verify(out, keys, datetime.now(UTC), process="az-other")
