"""The test session's actor-token ring, shared by the fixtures and by test modules.

Actor tokens are required everywhere, in tests as in production. One random ring per test
session is put in `ACCORD_ACTOR_KEYS` when this module is first imported (by
`tests/conftest.py`, before any fixture or subprocess reads the environment), so that
every `TemporalSettings.from_env()` and every `accord` subprocess uses it, never the
developer's local ring under `.data/keys/`. A module of its own rather than the conftest:
importing a conftest by name could run it a second time and draw another ring.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta

from security.actor_token import COMMAND_TOKEN_TTL, mint_for
from security.keys import KeyRing

TEST_ACTOR_KEYS = KeyRing((("test-actor-1", os.urandom(32)),))


def ring_text(keys: KeyRing) -> str:
    return ",".join(f"{kid}:{base64.b64encode(secret).decode()}" for kid, secret in keys.entries)


os.environ["ACCORD_ACTOR_KEYS"] = ring_text(TEST_ACTOR_KEYS)
# The other ways to configure actor identity would conflict with, or override, the ring.
for _variable in ("ACCORD_ACTOR_KEYS_FILE", "ACCORD_ACTOR_TOKEN", "ACCORD_REQUIRE_ACTOR_TOKEN"):
    os.environ.pop(_variable, None)


def token_for(
    actor: dict[str, str],
    process: str,
    *,
    keys: KeyRing = TEST_ACTOR_KEYS,
    ttl: timedelta = COMMAND_TOKEN_TTL,
) -> str:
    """A token for `actor` (`{"party", "role", "name"?}`) on `process` (id, `coop-<id>` or
    `*`), as the CLI would mint it."""
    return mint_for(
        actor["party"],
        actor["role"],
        actor.get("name"),
        process=process.removeprefix("coop-"),
        keys=keys,
        ttl=ttl,
    )
