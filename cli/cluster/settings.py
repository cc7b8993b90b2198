"""What the native cluster is made of: versions, services, databases, namespace and the
files it shares with the compose deployment (tests/cluster/test_agreement.py checks that
the two agree)."""

from __future__ import annotations

from pathlib import Path

from workflows.search import dev_server_flags

SERVER_VERSION = "1.29.1"  # the version the CLI's dev server (v1.5.1) embeds
UI_VERSION = "2.42.1"
HISTORY_SHARDS = 8
HISTORY_PROCESSES = 2
ACCORD_WORKERS = 2
NAMESPACE = "default"
# Closed workflows' histories; the event store stays the record for ever.
NAMESPACE_RETENTION = "720h"
DYNAMIC_CONFIG = Path("deploy/temporal/dynamicconfig/docker.yaml")
# The compose deployment's Prometheus configuration: the native cluster writes the same
# jobs with its own targets (config/prometheus.yml under the cluster's root).
PROMETHEUS_CONFIG = Path("deploy/prometheus/prometheus.yml")
# The frontend's gRPC health check, as compose's health check of the server runs it.
HEALTH_CHECK = ("operator", "cluster", "health")
TEMPORAL_DATABASE = "temporal"
VISIBILITY_DATABASE = "temporal_visibility"

TOOLS = Path(".tools/cluster")
# (binary, go package): each in its own folder, as the server and the UI are both `server`.
BINARIES: dict[str, tuple[Path, str]] = {
    "server": (TOOLS / "server" / "server", f"go.temporal.io/server/cmd/server@v{SERVER_VERSION}"),
    "sql": (TOOLS / "sql" / "sql", f"go.temporal.io/server/cmd/tools/sql@v{SERVER_VERSION}"),
    "ui": (
        TOOLS / "ui" / "server",
        f"github.com/temporalio/ui-server/v2/cmd/server@v{UI_VERSION}",
    ),
}

# The Temporal service processes: name -> service.
TEMPORAL_SERVICES: dict[str, str] = {
    **{f"history-{i}": "history" for i in range(1, HISTORY_PROCESSES + 1)},
    "matching": "matching",
    "frontend": "frontend",
    "worker": "worker",
}
WORKERS = [f"accord-worker-{i}" for i in range(1, ACCORD_WORKERS + 1)]
# Prometheus job (as in PROMETHEUS_CONFIG) -> the processes it scrapes.
SCRAPE_JOBS: dict[str, list[str]] = {"temporal": list(TEMPORAL_SERVICES), "accord-worker": WORKERS}


class ClusterError(Exception):
    """A set-up step failed: the message names the step and where its log is."""


def search_attributes() -> list[str]:
    """NAME=TYPE of every attribute of workflows/search.py (ALL)."""
    flags = dev_server_flags()
    return flags[1::2]
