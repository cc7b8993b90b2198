"""`accord codec-server`: serve the payload codec to the Temporal web UI.

Keys from `ACCORD_CODEC_KEYS` / `ACCORD_CODEC_KEYS_FILE`, the shared secret from
`ACCORD_CODEC_SERVER_TOKEN` / `ACCORD_CODEC_SERVER_TOKEN_FILE` (a mounted secret in the
compose deployment); see `security/codec_server.py` for the protocol.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any

from security.codec import AesGcmCodec, codec_keys_from_env
from security.codec_server import DEFAULT_ORIGIN, DEFAULT_PORT, CodecServer
from security.keys import KeyConfigError
from security.settings import CodecServerSettings


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    s = sub.add_parser("codec-server", help="decode encrypted payloads for the Temporal web UI")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument(
        "--port",
        type=int,
        # None: ACCORD_CODEC_SERVER_PORT's value, read (and checked) when the command runs.
        help=f"port (default $ACCORD_CODEC_SERVER_PORT or {DEFAULT_PORT})",
    )
    s.add_argument(
        "--origin",
        action="append",
        help=f"web UI origin allowed by CORS (repeatable; default {DEFAULT_ORIGIN})",
    )


def server_token(environ: Mapping[str, str] | None = None) -> str | None:
    """`ACCORD_CODEC_SERVER_TOKEN`, else the first line of `ACCORD_CODEC_SERVER_TOKEN_FILE`."""
    settings = CodecServerSettings.load(environ)
    if settings.codec_server_token:
        return settings.codec_server_token.get_secret_value()
    path = settings.codec_server_token_file
    if not path:
        return None
    try:
        lines = path.read_text().strip().splitlines()
    except (OSError, UnicodeDecodeError):
        raise KeyConfigError("ACCORD_CODEC_SERVER_TOKEN_FILE: cannot read the file") from None
    return lines[0].strip() if lines else None


def run(args: argparse.Namespace) -> int:
    try:
        keys = codec_keys_from_env()
        token = server_token()
        port = args.port if args.port is not None else CodecServerSettings.load().codec_server_port
    except KeyConfigError as err:
        print(f"accord: {err}", file=sys.stderr)
        return 2
    if keys is None or not token:
        print(
            "accord: codec-server needs ACCORD_CODEC_KEYS (or _FILE) and"
            " ACCORD_CODEC_SERVER_TOKEN (or _FILE)",
            file=sys.stderr,
        )
        return 2
    origins = args.origin or [DEFAULT_ORIGIN]
    try:
        server = CodecServer(AesGcmCodec(keys), token, origins, host=args.host, port=port)
    except (ValueError, OSError) as err:  # a short token, a port in use
        print(f"accord: codec-server: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(
        f"codec server on {server.url} (keys {', '.join(keys.ids)}; origins {', '.join(origins)});"
        f" UI sign-in: {server.url}/login",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    server.stop()
    return 0
