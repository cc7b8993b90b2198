"""Where a cluster is and what it started: its ports, pids and database, recorded in
`<root>/state.json`, and `ClusterBase`, what the cluster's other parts build on."""

from __future__ import annotations

import json
import os
import random
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cli.cluster.settings import ClusterError
from cli.ports import bindable
from security.keys import local_data_dir


def membership_port(taken: set[int]) -> int:
    """A free port below 32768: the cluster_membership table stores it as a smallint, and
    the OS's ephemeral ports (what `free_port` gets) start above that."""
    for _ in range(1000):
        port = random.randint(20000, 32000)
        if port not in taken and bindable(port):
            return port
    raise ClusterError("no free membership port below 32768")


@dataclass
class Ports:
    grpc: int = 0  # Temporal processes only
    membership: int = 0  # Temporal processes only
    http: int = 0  # frontend only
    metrics: int = 0  # Prometheus: every Temporal process and every Accord worker


@dataclass
class State:
    """What `up` started, in `<root>/state.json`: `status` and `down` read it."""

    root: str
    ports: dict[str, Ports] = field(default_factory=dict)
    ui_port: int = 0
    codec_port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    database: dict[str, Any] = field(default_factory=dict)  # host, port, user (no password)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports['frontend'].grpc}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def save(self) -> None:
        path = Path(self.root) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, root: Path) -> State | None:
        path = root / "state.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["ports"] = {k: Ports(**v) for k, v in raw.get("ports", {}).items()}
        return cls(**raw)


def default_root() -> Path:
    return local_data_dir() / "cluster"


class ClusterBase:
    """What every part of the native cluster reads: where it lives (`root`, its `state`),
    the PostgreSQL of `admin_url` (a role that may create databases), the Accord workers'
    store `worker_database_url`, the environment its processes inherit, and the log."""

    def __init__(
        self,
        root: Path,
        admin_url: str,
        worker_database_url: str,
        *,
        environ: dict[str, str] | None = None,
        log: Any = None,
    ) -> None:
        self.root = root.resolve()
        self.admin_url = admin_url
        self.worker_database_url = worker_database_url
        self.environ = dict(os.environ if environ is None else environ)
        self.log = log
        self.state = State.load(self.root) or State(root=str(self.root))
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def _database(self) -> dict[str, Any]:
        url = urlsplit(self.admin_url)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 5432,
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
        }
