"""`accord feed-server`: the global feed over HTTP, for services that do not speak Python.

    GET /events?after=<position>&limit=<n>&wait=<seconds>
    Authorization: Bearer <token>

answers NDJSON, one event a line, exactly the lines of `accord events --json`
(contracts/feed_event.json), in feed order after the checkpoint `after`. With `wait`, an
empty answer is held until events after `after` exist (a long poll) or `wait` seconds pass.
The header `Accord-Last-Position` is the checkpoint to send as the next `after`.
`GET /events/stream?after=<position>` streams the same lines as Server-Sent Events.

The token (`ACCORD_FEED_TOKEN`, or the first line of `ACCORD_FEED_TOKEN_FILE`) is checked
before anything else: a request without it is answered 401 and reads nothing. The server
logs in as the read-only `accord_reader` (store/feed_reader.py) where it can.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from security.keys import KeyConfigError
from workers.settings import DEFAULT_FEED_SERVER_PORT, FeedServerSettings

DEFAULT_PORT = DEFAULT_FEED_SERVER_PORT
MIN_TOKEN_LENGTH = 16


class FeedServerConfigError(Exception):
    """A set-up mistake: one line, exit 2."""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    s = sub.add_parser(
        "feed-server",
        help="serve the event feed over HTTP (NDJSON, long poll, bearer token)",
        description="Serve GET /events?after=POSITION&limit=N&wait=SECONDS as NDJSON "
        "and GET /events/stream?after=POSITION as Server-Sent Events. "
        "Token from ACCORD_FEED_TOKEN or ACCORD_FEED_TOKEN_FILE (at least 16 characters); "
        "database from ACCORD_FEED_DATABASE_URL (a member of accord_reader), else "
        "DATABASE_URL, else the embedded default as accord_feed. "
        "Example: ACCORD_FEED_TOKEN_FILE=feed-token accord feed-server --port 8720",
    )
    s.add_argument(
        "--port",
        type=int,
        # None: ACCORD_FEED_SERVER_PORT's value, read (and checked) when the command runs.
        help=f"port (default $ACCORD_FEED_SERVER_PORT or {DEFAULT_PORT})",
    )
    s.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")


def feed_token(environ: Mapping[str, str] | None = None) -> str:
    """`ACCORD_FEED_TOKEN`, else the first line of `ACCORD_FEED_TOKEN_FILE`; refused when
    missing or shorter than 16 characters (a guessable token guards nothing)."""
    try:
        settings = FeedServerSettings.load(environ)
    except KeyConfigError as err:
        raise FeedServerConfigError(str(err)) from None
    token = settings.feed_token.get_secret_value().strip() if settings.feed_token else ""
    path = settings.feed_token_file
    if not token and path:
        try:
            lines = path.read_text().strip().splitlines()
        except (OSError, UnicodeDecodeError):
            raise FeedServerConfigError("ACCORD_FEED_TOKEN_FILE: cannot read the file") from None
        token = lines[0].strip() if lines else ""
    if not token:
        raise FeedServerConfigError(
            "feed-server needs a token: set ACCORD_FEED_TOKEN or ACCORD_FEED_TOKEN_FILE"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise FeedServerConfigError(
            f"feed-server token: must be at least {MIN_TOKEN_LENGTH} characters"
        )
    return token


def run(args: argparse.Namespace) -> int:
    try:
        token = feed_token()
        port = args.port if args.port is not None else FeedServerSettings.load().feed_server_port
    except (FeedServerConfigError, KeyConfigError) as err:
        print(f"accord: {err}", file=sys.stderr)
        return 2
    if not 0 < port < 65536:
        print("accord: feed-server: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    # aiohttp is imported only here: every other `accord` command starts without it.
    from cli.http_feed import serve

    return asyncio.run(serve(args.bind, port, token))
