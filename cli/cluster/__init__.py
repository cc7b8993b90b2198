"""`accord cluster up|down|status`: Temporal's real server on PostgreSQL, as a cluster.

The production topology on this machine, without Docker: the server, its SQL tool and the
web UI built once from the Go module proxy into `.tools/cluster/`, the `temporal` and
`temporal_visibility` databases on the embedded PostgreSQL (or `DATABASE_URL`'s server),
and one OS process per service: frontend, matching, two history processes sharing
HISTORY_SHARDS shards, the internal worker service, the UI server, the codec server (when
codec keys are configured) and two `accord worker` processes. Everything listens on
127.0.0.1 on free ports, recorded in `.data/cluster/state.json`.

What the compose deployment (docker-compose.yml) also uses comes from the same place: the
dynamic config file (deploy/temporal/dynamicconfig/docker.yaml), the search attributes
(workflows/search.py), the namespace retention and the versions below; tests/cluster
checks that the two agree.

The package, by job: `settings` (what the cluster is made of), `build` (its binaries),
`state` (its ports and pids on disk), `database` (Temporal's schemas), `configs` (each
process's configuration), `processes` (supervision), `operator` (health, namespace, search
attributes through `temporal operator`), `native` (`NativeCluster`: up, status, down) and
`command` (`accord cluster`).
"""

from cli.cluster.build import BuildTooSlow, binary, build, server_module_dir
from cli.cluster.command import add_parser, local_cluster, run
from cli.cluster.native import NativeCluster
from cli.cluster.settings import (
    ACCORD_WORKERS,
    BINARIES,
    DYNAMIC_CONFIG,
    HEALTH_CHECK,
    HISTORY_PROCESSES,
    HISTORY_SHARDS,
    NAMESPACE,
    NAMESPACE_RETENTION,
    PROMETHEUS_CONFIG,
    SCRAPE_JOBS,
    SERVER_VERSION,
    TEMPORAL_DATABASE,
    TEMPORAL_SERVICES,
    TOOLS,
    UI_VERSION,
    VISIBILITY_DATABASE,
    WORKERS,
    ClusterError,
    search_attributes,
)
from cli.cluster.state import Ports, State, default_root, membership_port

__all__ = [
    "ACCORD_WORKERS",
    "BINARIES",
    "DYNAMIC_CONFIG",
    "HEALTH_CHECK",
    "HISTORY_PROCESSES",
    "HISTORY_SHARDS",
    "NAMESPACE",
    "NAMESPACE_RETENTION",
    "PROMETHEUS_CONFIG",
    "SCRAPE_JOBS",
    "SERVER_VERSION",
    "TEMPORAL_DATABASE",
    "TEMPORAL_SERVICES",
    "TOOLS",
    "UI_VERSION",
    "VISIBILITY_DATABASE",
    "WORKERS",
    "BuildTooSlow",
    "ClusterError",
    "NativeCluster",
    "Ports",
    "State",
    "add_parser",
    "binary",
    "build",
    "default_root",
    "local_cluster",
    "membership_port",
    "run",
    "search_attributes",
    "server_module_dir",
]
