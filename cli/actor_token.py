"""`accord actor-token`: issue a signed actor token (for operators holding the actor keys).

The token binds a caller to one actor (`party:role[:name]`) until it expires; send it with
`ACCORD_ACTOR_TOKEN=<token> accord send ...`. Keys from `ACCORD_ACTOR_KEYS(_FILE)`; the
first key signs.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from domain.parties import Actor
from security.actor_token import actor_keys_from_env, mint_for
from security.keys import KeyConfigError


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    s = sub.add_parser("actor-token", help="issue a signed actor token")
    s.add_argument("--actor", required=True, help="party:role[:name]")
    s.add_argument("--ttl-minutes", type=int, default=480, help="validity (default 480)")
    s.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    party, _, rest = args.actor.partition(":")
    role, _, name = rest.partition(":")
    try:
        actor = Actor.model_validate({"party": party, "role": role, "name": name or None})
        keys = actor_keys_from_env()
    except (ValidationError, KeyConfigError) as err:
        print(f"accord: {err}", file=sys.stderr)
        return 2
    if keys is None or args.ttl_minutes <= 0:
        print(
            "accord: needs ACCORD_ACTOR_KEYS (or _FILE) and a positive --ttl-minutes",
            file=sys.stderr,
        )
        return 2
    token = mint_for(
        actor.party, actor.role, actor.name, keys=keys, ttl=timedelta(minutes=args.ttl_minutes)
    )
    if args.json:
        print(json.dumps({"token": token, "actor": actor.model_dump(exclude_none=True)}))
    else:
        print(token)
    return 0
