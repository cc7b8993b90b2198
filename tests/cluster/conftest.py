"""The native cluster (cli/cluster/), brought up once per session for `cluster` tests.

Its own embedded PostgreSQL on a free port under /tmp (hosting Temporal's two databases and
Accord's store), so the cluster never meets the developer's `.data/cluster` or the dev
server the rest of the suite uses. The session builds missing binaries within BUILD_BUDGET
(skipped past it, with the reason); ACCORD_CLUSTER_TESTS=1 builds without a limit, =0 skips.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.cluster import BuildTooSlow, NativeCluster, build
from cli.ports import free_port
from store.embedded import EmbeddedPostgres

OPT_IN = "ACCORD_CLUSTER_TESTS"


# Seconds the session may spend building missing binaries when ACCORD_CLUSTER_TESTS is
# unset: ~21 s on this machine's warm Go build cache, ~8.5 minutes on a cold one, which CI's
# budget cannot take. Past it the tests are skipped; what was compiled stays in the cache.
BUILD_BUDGET = 150.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get(OPT_IN) != "0":
        return
    skip = pytest.mark.skip(reason=f"native cluster tests turned off ({OPT_IN}=0)")
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
    try:
        # ACCORD_CLUSTER_TESTS=1: build whatever it takes; unset: within the budget.
        build(sys.stderr, budget=None if os.environ.get(OPT_IN) == "1" else BUILD_BUDGET)
    except BuildTooSlow as err:
        pytest.skip(f"{err} (or set {OPT_IN}=1)")
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
