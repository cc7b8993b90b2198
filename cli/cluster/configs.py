"""Each process's ports and configuration files: the server's per process, the UI's and
Prometheus's, written under the cluster's root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cli.cluster.settings import (
    DYNAMIC_CONFIG,
    HISTORY_SHARDS,
    NAMESPACE,
    PROMETHEUS_CONFIG,
    SCRAPE_JOBS,
    TEMPORAL_DATABASE,
    TEMPORAL_SERVICES,
    VISIBILITY_DATABASE,
    WORKERS,
)
from cli.cluster.state import ClusterBase, Ports, membership_port
from cli.ports import bindable, free_port
from security.codec import codec_keys_from_env
from store.embedded import project_root


class ClusterConfigs(ClusterBase):
    """Ports allocated and configuration written, before any process starts."""

    def allocate_ports(self) -> None:
        """Free ports for every process; those recorded by an earlier run are kept while
        nobody else holds them, so a restarted cluster keeps its address."""
        previous = self.state.ports
        taken: set[int] = set()
        ports: dict[str, Ports] = {}
        for name in TEMPORAL_SERVICES:
            old = previous.get(name)
            if old and all(bindable(p) for p in (old.grpc, old.membership) if p):
                ports[name] = old
            else:
                ports[name] = Ports(
                    grpc=free_port(),
                    membership=membership_port(taken),
                    http=free_port() if name == "frontend" else 0,
                    metrics=free_port(),
                )
            taken.add(ports[name].membership)
        self.state.ports = ports
        self._worker_ports()
        if not self.state.ui_port or not bindable(self.state.ui_port):
            self.state.ui_port = free_port()
        if not self.state.codec_port or not bindable(self.state.codec_port):
            self.state.codec_port = free_port()

    def _worker_ports(self, *, recheck: bool = True) -> None:
        """A metrics port for each Accord worker (ACCORD_METRICS_BIND); one recorded
        earlier is kept while nobody else holds it (`recheck=False`: while its worker may
        be running, kept as it is)."""
        for name in WORKERS:
            old = self.state.ports.get(name)
            if old is None or not old.metrics or (recheck and not bindable(old.metrics)):
                self.state.ports[name] = Ports(metrics=free_port())

    def metrics_endpoints(self) -> dict[str, str]:
        """Every process's Prometheus endpoint (host:port), by process name."""
        return {
            name: f"127.0.0.1:{ports.metrics}"
            for name, ports in self.state.ports.items()
            if ports.metrics
        }

    def prometheus_config(self) -> dict[str, Any]:
        """The compose deployment's Prometheus configuration with this cluster's targets:
        the same settings and jobs, each process a target labelled with its name."""
        config: dict[str, Any] = yaml.safe_load((project_root() / PROMETHEUS_CONFIG).read_text())
        endpoints = self.metrics_endpoints()
        jobs = []
        for job in config["scrape_configs"]:
            processes = SCRAPE_JOBS[job["job_name"]]
            native = {
                k: v
                for k, v in job.items()
                if k != "static_configs" and not k.endswith("_sd_configs")
            }
            native["static_configs"] = [
                {"targets": [endpoints[name]], "labels": {"process": name}}
                for name in processes
                if name in endpoints
            ]
            jobs.append(native)
        return {**config, "scrape_configs": jobs}

    def server_config(self, name: str) -> dict[str, Any]:
        """The server's configuration for process `name` (from the server's own
        config/development-postgres12.yaml): the same for every process but its own
        service's ports and its own metrics port."""
        db = self._database()

        def store(database: str, conns: int) -> dict[str, Any]:
            return {
                "sql": {
                    "pluginName": "postgres12",
                    "databaseName": database,
                    "connectAddr": f"{db['host']}:{db['port']}",
                    "connectProtocol": "tcp",
                    "user": db["user"],
                    "password": db["password"],
                    "maxConns": conns,
                    "maxIdleConns": conns,
                    "maxConnLifetime": "1h",
                }
            }

        services: dict[str, Any] = {}
        for other, service in TEMPORAL_SERVICES.items():
            if service in services and other != name:
                continue  # the other history process: this one's ports win
            p = self.state.ports[other]
            rpc: dict[str, Any] = {
                "grpcPort": p.grpc,
                "membershipPort": p.membership,
                "bindOnLocalHost": True,
            }
            if p.http:
                rpc["httpPort"] = p.http
            services[service] = {"rpc": rpc}
        return {
            "log": {"stdout": True, "level": "warn"},
            "persistence": {
                "defaultStore": "postgres-default",
                "visibilityStore": "postgres-visibility",
                "numHistoryShards": HISTORY_SHARDS,
                "datastores": {
                    "postgres-default": store(TEMPORAL_DATABASE, 20),
                    "postgres-visibility": store(VISIBILITY_DATABASE, 5),
                },
            },
            "global": {
                "membership": {"maxJoinDuration": "30s", "broadcastAddress": "127.0.0.1"},
                "metrics": {
                    "prometheus": {
                        "framework": "tally",
                        "timerType": "histogram",
                        "listenAddress": f"127.0.0.1:{self.state.ports[name].metrics}",
                    }
                },
            },
            "services": services,
            "clusterMetadata": {
                "enableGlobalNamespace": False,
                "failoverVersionIncrement": 10,
                "masterClusterName": "active",
                "currentClusterName": "active",
                "clusterInformation": {
                    "active": {
                        "enabled": True,
                        "initialFailoverVersion": 1,
                        "rpcName": "frontend",
                        "rpcAddress": self.state.address,
                    }
                },
            },
            "dcRedirectionPolicy": {"policy": "noop"},
            "publicClient": {"hostPort": self.state.address},
            "dynamicConfigClient": {
                "filepath": str(project_root() / DYNAMIC_CONFIG),
                "pollInterval": "10s",
            },
        }

    def ui_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "temporalGrpcAddress": self.state.address,
            "host": "127.0.0.1",
            "port": self.state.ui_port,
            "enableUi": True,
            "defaultNamespace": NAMESPACE,
            "cors": {"allowOrigins": [self.state.ui_url]},
            "auth": {"enabled": False},
        }
        if self.codec_enabled:
            # The browser calls the codec server and sends its sign-in cookie (compose's
            # TEMPORAL_CODEC_* settings).
            config["codec"] = {
                "endpoint": f"http://127.0.0.1:{self.state.codec_port}",
                "passAccessToken": False,
                "includeCredentials": True,
            }
        return config

    @property
    def codec_enabled(self) -> bool:
        """The codec server runs (and the UI decodes through it) when payload keys and the
        codec server's token are configured, as `accord codec-server` requires."""
        token = self.environ.get("ACCORD_CODEC_SERVER_TOKEN") or self.environ.get(
            "ACCORD_CODEC_SERVER_TOKEN_FILE"
        )
        return bool(token) and codec_keys_from_env(self.environ) is not None

    def write_configs(self) -> None:
        for name in TEMPORAL_SERVICES:
            self._write_yaml(Path("config") / name / "development.yaml", self.server_config(name))
        self._write_yaml(Path("config") / "ui" / "development.yaml", self.ui_config())
        self._write_yaml(Path("config") / "prometheus.yml", self.prometheus_config())

    def _write_yaml(self, relative: Path, data: dict[str, Any]) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # It holds the database password: readable by its owner only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(data, out, sort_keys=False)
