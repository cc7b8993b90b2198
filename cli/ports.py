"""Local TCP ports: one the OS picks, whether one is still free, whether one answers.

The one place the dev server, the native cluster, the benchmarks and the tests get their
ports from, so that "free" means the same thing everywhere.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it, among its ephemeral ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bindable(port: int) -> bool:
    """Whether this port can be bound again, for TCP and for UDP (the Temporal servers'
    membership gossip uses both)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            # As the Go servers bind: a port in TIME_WAIT after `down` is still usable.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def listening(port: int, timeout: float = 0.3) -> bool:
    """Whether something accepts TCP connections on this local port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False
