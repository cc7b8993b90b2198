"""`accord actor-token`: issue a signed actor token (for operators holding the actor keys).

The token binds a caller to one actor (`party:role[:name]`) on one process (`--process`),
or on every process (`--any-process`, for service accounts), until it expires; its
lifetime (`--ttl`) is capped by `ACCORD_TOKEN_MAX_LIFETIME`, the same cap the worker
enforces. Send it with `ACCORD_ACTOR_TOKEN=<token> accord send ...`, or in the header
`accord-actor-token` from any SDK (SECURITY.md). Keys from `ACCORD_ACTOR_KEYS(_FILE)`, or
the local ring when no cluster is configured; the first key signs. The `accord` commands
themselves need none of this: they mint a 5-minute token per command.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from domain.parties import Actor
from domain.vocabulary import PROCESS_STREAM_PREFIX, ProcessId
from security.actor_token import (
    ANY_PROCESS,
    actor_keys_for_host,
    max_lifetime_from_env,
    mint_for,
    parse_lifetime,
)
from security.keys import KeyConfigError

DEFAULT_TTL = timedelta(minutes=15)
_PROCESS_ID: TypeAdapter[str] = TypeAdapter(ProcessId)


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    s = sub.add_parser("actor-token", help="issue a signed actor token")
    s.add_argument("--actor", required=True, help="party:role[:name]")
    target = s.add_mutually_exclusive_group(required=True)
    target.add_argument("--process", metavar="ID", help="the process id (or coop-<id>)")
    target.add_argument(
        "--any-process",
        action="store_true",
        help="valid on every process: only for service accounts that act on many",
    )
    s.add_argument(
        "--ttl",
        metavar="DURATION",
        help="lifetime, ISO 8601 (PT10M) or seconds; at most ACCORD_TOKEN_MAX_LIFETIME "
        "(default 15 minutes, or that maximum if lower)",
    )
    s.add_argument("--json", action="store_true", help="machine-readable output")


def _usage(message: str) -> int:
    print(f"accord: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    party, _, rest = args.actor.partition(":")
    role, _, name = rest.partition(":")
    try:
        actor = Actor.model_validate({"party": party, "role": role, "name": name or None})
    except ValidationError:
        return _usage("--actor: expected party:role[:name] with a known party and role")
    process = ANY_PROCESS
    if not args.any_process:
        try:
            process = _PROCESS_ID.validate_python(args.process.removeprefix(PROCESS_STREAM_PREFIX))
        except ValidationError:
            return _usage("--process: expected a process id (3-63 of a-z, 0-9, '-'), or coop-<id>")
    try:
        cap = max_lifetime_from_env()
        ttl = parse_lifetime(args.ttl, source="--ttl") if args.ttl else min(DEFAULT_TTL, cap)
        keys = actor_keys_for_host().ring
    except KeyConfigError as err:
        return _usage(str(err))
    if ttl > cap:
        return _usage(
            f"--ttl: must be at most the maximum token lifetime, {int(cap.total_seconds())} s "
            "(ACCORD_TOKEN_MAX_LIFETIME; the worker refuses longer tokens)"
        )
    if keys is None:
        return _usage("needs ACCORD_ACTOR_KEYS or ACCORD_ACTOR_KEYS_FILE (TEMPORAL_ADDRESS is set)")
    token = mint_for(actor.party, actor.role, actor.name, process=process, keys=keys, ttl=ttl)
    if args.json:
        print(
            json.dumps(
                {
                    "token": token,
                    "actor": actor.model_dump(exclude_none=True),
                    "process": process,
                    "expires_in_seconds": int(ttl.total_seconds()),
                }
            )
        )
    else:
        print(token)
    return 0
