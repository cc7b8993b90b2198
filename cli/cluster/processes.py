"""The cluster's OS processes: their command lines and environments, started detached,
waited for, killed and reaped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from cli.cluster.build import binary
from cli.cluster.configs import ClusterConfigs
from cli.cluster.settings import NAMESPACE, TEMPORAL_SERVICES, WORKERS, ClusterError
from cli.ports import listening
from security.actor_token import MIN_KEY_BYTES
from security.keys import local_actor_keys_path, local_keyring
from store.embedded import project_root


def alive(pid: int) -> bool:
    """Running (a zombie, killed but not yet reaped by its parent, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def ours(pid: int, root: Path) -> bool:
    """The pid still runs a process of this cluster (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return str(root) in cmdline or f"ACCORD_CLUSTER_ROOT={root}" in environ


class Supervision(ClusterConfigs):
    """Each process of the cluster, by name."""

    def command(self, name: str) -> list[str]:
        if name in TEMPORAL_SERVICES:
            return [
                str(binary("server")),
                "--root",
                str(self.root),
                "--config",
                f"config/{name}",
                "--env",
                "development",
                "--allow-no-auth",
                "start",
                "--service",
                TEMPORAL_SERVICES[name],
            ]
        if name == "ui":
            return [
                str(binary("ui")),
                "--root",
                str(self.root),
                "--config",
                "config/ui",
                "--env",
                "development",
                "start",
            ]
        accord = str(project_root() / ".venv" / "bin" / "accord")
        if name == "codec-server":
            return [
                accord,
                "codec-server",
                "--port",
                str(self.state.codec_port),
                "--origin",
                self.state.ui_url,
            ]
        return [accord, "worker"]

    def process_env(self, name: str) -> dict[str, str]:
        env = {**self.environ, "ACCORD_CLUSTER_ROOT": str(self.root)}
        if name.startswith("accord-worker"):
            env |= {
                "TEMPORAL_ADDRESS": self.state.address,
                "TEMPORAL_NAMESPACE": NAMESPACE,
                "DATABASE_URL": self.worker_database_url,
                "ACCORD_LOG_LEVEL": env.get("ACCORD_LOG_LEVEL", "WARNING"),
                # The SDK's and Accord's metrics (workers/metrics.py), on loopback.
                "ACCORD_METRICS_BIND": self.metrics_endpoints()[name],
            }
            # A worker of a configured cluster needs its actor keys named: the local ring
            # unless the environment names others (workers/config.py).
            if not (env.get("ACCORD_ACTOR_KEYS") or env.get("ACCORD_ACTOR_KEYS_FILE")):
                path = local_actor_keys_path(env)
                # Created here if this machine has none yet (a fresh clone): the workers
                # are told where it is and would otherwise refuse to start.
                local_keyring(path, min_length=MIN_KEY_BYTES)
                env["ACCORD_ACTOR_KEYS_FILE"] = str(path)
        return env

    def names(self) -> list[str]:
        extra = ["ui"] + (["codec-server"] if self.codec_enabled else [])
        return [*TEMPORAL_SERVICES, *extra, *WORKERS]

    def spawn(self, name: str) -> int:
        """Start process `name` (unless it runs); its pid."""
        pid = self.state.pids.get(name)
        if pid and alive(pid) and ours(pid, self.root):
            return pid
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                self.command(name),
                env=self.process_env(name),
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives `accord cluster up`; not in its group
            )
        self._procs[name] = proc
        self.state.pids[name] = proc.pid
        self.state.save()
        return proc.pid

    def wait_listening(self, name: str, timeout: float) -> None:
        """Until process `name` listens on its membership port (every service has one; the
        internal worker service has no gRPC server); started once more if it exited."""
        port = self.state.ports[name].membership
        deadline = time.monotonic() + timeout
        restarted = False
        while not listening(port, timeout=0.5):
            if not alive(self.state.pids[name]):
                if restarted:
                    raise ClusterError(f"{name} exited at start; see {self.log_path(name)}")
                restarted = True
                self._reap(name, 1.0)
                self.spawn(name)
            if time.monotonic() > deadline:
                raise ClusterError(f"{name} did not listen on {port}; see {self.log_path(name)}")
            time.sleep(0.2)

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def kill(self, name: str) -> None:
        """SIGKILL process `name` (the fault tests)."""
        pid = self.state.pids[name]
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._reap(name, 10.0)

    def _reap(self, name: str, timeout: float) -> None:
        proc = self._procs.pop(name, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
            return
        pid = self.state.pids.get(name, 0)
        deadline = time.monotonic() + timeout
        while pid and alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
