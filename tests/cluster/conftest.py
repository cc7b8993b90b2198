"""The native cluster (cli/cluster.py), brought up once per session for `cluster` tests.

Its own embedded PostgreSQL on a free port under /tmp (hosting Temporal's two databases and
Accord's store), so the cluster never meets the developer's `.data/cluster` or the dev
server the rest of the suite uses. They run when the three Go binaries are built (`make
cluster`) or ACCORD_CLUSTER_TESTS=1 (which builds them: ~20 s on a warm Go build cache,
~8 minutes on a cold one, too long for CI's budget on a fresh machine).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.cluster import BINARIES, NativeCluster, binary
from store.embedded import EmbeddedPostgres
from tests.faults.cluster import free_port

OPT_IN = "ACCORD_CLUSTER_TESTS"


def enabled() -> bool:
    """ACCORD_CLUSTER_TESTS=1 (the fixture builds what is missing), =0 never; unset: when
    the binaries are already built (`make cluster`), since a cold build takes minutes."""
    choice = os.environ.get(OPT_IN)
    if choice in ("0", "1"):
        return choice == "1"
    return all(binary(name).exists() for name in BINARIES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if enabled():
        return
    skip = pytest.mark.skip(
        reason=f"native cluster not built: run `make cluster` or set {OPT_IN}=1 (builds it)"
    )
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(skip)


class ClusterUnderTest:
    def __init__(self, root: Path, postgres: EmbeddedPostgres, cluster: NativeCluster) -> None:
        self.root = root
        self.postgres = postgres
        self.cluster = cluster

    @property
    def address(self) -> str:
        return self.cluster.state.address

    @property
    def database_url(self) -> str:
        return self.cluster.worker_database_url

    def env(self) -> dict[str, str]:
        """What an `accord` command needs to use this cluster, as a deployment would."""
        return {
            **os.environ,
            "TEMPORAL_ADDRESS": self.address,
            "TEMPORAL_NAMESPACE": "default",
            "DATABASE_URL": self.database_url,
            "ACCORD_LOG_LEVEL": "WARNING",
        }


@pytest.fixture(scope="session")
def native_cluster() -> Iterator[ClusterUnderTest]:
    root = Path(tempfile.mkdtemp(prefix="accord-cluster-", dir="/tmp"))
    postgres = EmbeddedPostgres(data_dir=root / "pg", port=free_port())
    admin = postgres.start()
    cluster = NativeCluster(root / "cluster", admin, admin, log=sys.stderr)
    try:
        cluster.up()
        yield ClusterUnderTest(root, postgres, cluster)
    finally:
        cluster.down(grace=5.0)
        postgres.stop(mode="immediate")
        if not os.environ.get("ACCORD_CLUSTER_KEEP"):  # set it to inspect the logs
            shutil.rmtree(root, ignore_errors=True)
