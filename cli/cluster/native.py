"""`NativeCluster`: the cluster brought up in order, its status, and brought down."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

import asyncpg

from cli.cluster.build import build, say
from cli.cluster.database import DatabaseSetup
from cli.cluster.operator import TemporalOperator
from cli.cluster.processes import Supervision, alive, ours
from cli.cluster.settings import (
    HEALTH_CHECK,
    HISTORY_SHARDS,
    NAMESPACE,
    TEMPORAL_SERVICES,
    ClusterError,
)


class NativeCluster(DatabaseSetup, Supervision, TemporalOperator):
    """Set up and run the cluster under `root` against the PostgreSQL of `admin_url` (a
    role that may create databases); `worker_database_url` is the Accord workers' store."""

    def up(self, timeout: float = 240.0) -> dict[str, Any]:
        """Everything, in order; idempotent (what runs is left running, what exists is
        reused). Returns timings and what was done."""
        report: dict[str, Any] = {}
        started = time.monotonic()
        report["built"] = build(self.log)
        self.root.mkdir(parents=True, exist_ok=True)
        running = {n for n, pid in self.state.pids.items() if alive(pid) and ours(pid, self.root)}
        if not running:
            self.allocate_ports()
        else:
            self._worker_ports(recheck=False)  # one started before workers had metrics
        db = self._database()
        self.state.database = {k: db[k] for k in ("host", "port", "user")}
        self.state.save()
        t = time.monotonic()
        say(self.log, "setting up the Temporal databases")
        try:
            report["databases"] = self.setup_databases()
        except (OSError, asyncpg.PostgresError) as err:
            where = f"{db['host']}:{db['port']} as {db['user']}"  # never the password
            raise ClusterError(f"Temporal databases on {where}: {err}") from None
        report["databases_seconds"] = round(time.monotonic() - t, 1)
        self.write_configs()
        t = time.monotonic()
        say(self.log, "starting the Temporal services")
        first, *others = TEMPORAL_SERVICES
        # One process first: each writes the cluster metadata at start, and processes
        # starting together conflict on its version (one of them exits).
        self.spawn(first)
        self.wait_listening(first, timeout)
        for name in others:
            self.spawn(name)
        for name in TEMPORAL_SERVICES:
            self.wait_listening(name, timeout)
        self._retry("cluster health", timeout, *HEALTH_CHECK)
        report["temporal_start_seconds"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        report["namespace"] = self.setup_namespace()
        report["namespace_seconds"] = round(time.monotonic() - t, 1)
        for name in self.names():
            if name not in TEMPORAL_SERVICES:
                self.spawn(name)
        report["up_seconds"] = round(time.monotonic() - started, 1)
        return report

    def status(self) -> dict[str, Any]:
        processes = {
            name: {
                "pid": self.state.pids.get(name),
                "alive": bool(
                    self.state.pids.get(name)
                    and alive(self.state.pids[name])
                    and ours(self.state.pids[name], self.root)
                ),
            }
            for name in self.names()
        }
        serving = bool(self.state.ports) and self.healthy()
        return {
            "healthy": serving and all(p["alive"] for p in processes.values()),
            "frontend": self.state.address if self.state.ports else None,
            "cluster_health": "SERVING" if serving else "NOT_SERVING",
            "ui": self.state.ui_url if self.state.ui_port else None,
            "codec_server": f"http://127.0.0.1:{self.state.codec_port}"
            if self.codec_enabled
            else None,
            "namespace": NAMESPACE,
            "history_shards": HISTORY_SHARDS,
            # Every Temporal process's and every Accord worker's Prometheus endpoint, and
            # a Prometheus configuration that scrapes them all.
            "metrics": {n: f"http://{a}/metrics" for n, a in self.metrics_endpoints().items()},
            "prometheus_config": str(self.root / "config" / "prometheus.yml")
            if self.state.ports
            else None,
            "processes": processes,
        }

    def down(self, grace: float = 15.0) -> list[str]:
        """SIGTERM every recorded process of this cluster, SIGKILL after `grace`."""
        stopped = []
        for name, pid in list(self.state.pids.items()):
            if alive(pid) and ours(pid, self.root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                stopped.append(name)
        deadline = time.monotonic() + grace
        for name in stopped:
            self._reap(name, max(0.1, deadline - time.monotonic()))
            pid = self.state.pids[name]
            if alive(pid) and ours(pid, self.root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._reap(name, 5.0)
        self.state.pids = {}
        if self.root.exists():
            self.state.save()
        return stopped
