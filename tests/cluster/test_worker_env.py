"""What the native cluster's Accord workers are started with, on a machine that has nothing
yet (a fresh clone): no service needed, only the environment `up` builds for them."""

from __future__ import annotations

import stat
from pathlib import Path

from cli.cluster import NativeCluster
from cli.cluster.state import Ports


def test_a_fresh_machine_gets_a_local_actor_ring_its_workers_can_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cluster = NativeCluster(
        tmp_path / "cluster",
        "postgresql://postgres@127.0.0.1:1/postgres",
        "postgresql://accord_service@127.0.0.1:1/accord",
        environ={"ACCORD_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"},
    )
    cluster.state.ports["frontend"] = Ports(grpc=7233)
    cluster.state.ports["accord-worker-1"] = Ports(metrics=9464)
    assert not (data / "keys").exists()

    env = cluster.process_env("accord-worker-1")

    ring = Path(env["ACCORD_ACTOR_KEYS_FILE"])
    assert ring.is_relative_to(data) and ring.read_text().strip()
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    assert cluster.process_env("accord-worker-1")["ACCORD_ACTOR_KEYS_FILE"] == str(ring)  # kept
    # Keys the environment names win: the local ring is not put in their place.
    cluster.environ["ACCORD_ACTOR_KEYS"] = "k1:" + "A" * 44
    assert "ACCORD_ACTOR_KEYS_FILE" not in cluster.process_env("accord-worker-1")
