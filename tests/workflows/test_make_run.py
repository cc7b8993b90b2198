"""After `make run` (`accord scenario run ... --keep-server`), the dev server keeps a worker
beside it: the UI's current details and the `status` query answer, naming who is awaited;
`accord dev-server stop` stops both."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from tests.workflows.test_cli import ROOT, accord, embedded_env


async def test_keep_server_leaves_a_worker_that_answers(database_url: str, tmp_path: Path) -> None:
    env, port = embedded_env(database_url, tmp_path)
    # As on a fresh machine: no keys configured, the local ring (created under the data
    # directory on first use) is the only one, for the CLI and for the worker it leaves.
    env.pop("ACCORD_ACTOR_KEYS", None)
    scenario = ROOT / "scenarios" / "suspension-resumed.yaml"
    try:
        code, out, err = await accord(
            "scenario", "run", str(scenario), "--keep-server", "--json", env=env, within=240
        )
        assert code == 0, err[-2000:]
        workflow_id = json.loads(out)["workflow_id"]
        pid = int((tmp_path / "worker.pid").read_text())
        os.kill(pid, 0)  # the worker runs on after the scenario's own process has exited

        # A plain client, no worker of its own: the query is answered by the kept worker.
        client = await Client.connect(f"127.0.0.1:{port}")
        view = await client.get_workflow_handle(workflow_id).query("status")
        assert view["stage"] == "negotiating"
        assert view["awaiting"], "the status view names who is awaited"
        # What the UI's "Current Details" panel shows (Temporal's built-in metadata query).
        metadata = await client.get_workflow_handle(workflow_id).query(
            "__temporal_workflow_metadata", result_type=WorkflowMetadata
        )
        assert "**Waiting on:**" in metadata.current_details
        assert "(`partner`): propose_instrument" in metadata.current_details

        code, out, _ = await accord("dev-server", "status", "--json", env=env)
        assert json.loads(out) == {"running": True, "address": f"127.0.0.1:{port}", "worker": True}
    finally:
        await accord("dev-server", "stop", env=env)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the dev server is stopped"
    assert not (tmp_path / "worker.pid").exists()
