"""`python -m store.embedded_cli start|stop|url`: manage the embedded PostgreSQL from make."""

from __future__ import annotations

import os
import sys

from store.embedded import embedded


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "start"
    if os.environ.get("DATABASE_URL") and action == "start":
        return 0
    server = embedded()
    if action == "start":
        print(f"PostgreSQL: {server.start()}")
    elif action == "stop":
        server.stop()
    elif action == "url":
        print(server.url())
    else:
        print(f"unknown action {action!r}: use start, stop or url", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
