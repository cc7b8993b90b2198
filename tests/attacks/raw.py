"""The outside caller of the attack tests: the plain `temporal` CLI, knowing nothing of Accord.

Every attack goes through Temporal's own entry points (start, signal, update, query) with
JSON typed by hand, as another service with access to the namespace would send it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio.testing import WorkflowEnvironment

from cli.devserver import temporal_binary


async def temporal(env: WorkflowEnvironment, *args: str, timeout: float = 30) -> tuple[int, str, str]:
    """The `temporal` binary against the test's dev server: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *args,
        "--address",
        env.client.service_client.config.target_host,
        "--namespace",
        "default",
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def update(
    env: WorkflowEnvironment, workflow_id: str, name: str, payload: Any, *extra: str
) -> tuple[int, str, str]:
    """`temporal workflow update execute` with a hand-written JSON input."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return await temporal(
        env,
        *("workflow", "update", "execute", "--workflow-id", workflow_id),
        *("--name", name, "--input", body, *extra),
    )


async def signal(
    env: WorkflowEnvironment, workflow_id: str, name: str, payload: Any
) -> tuple[int, str, str]:
    """`temporal workflow signal` with a hand-written JSON input."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return await temporal(
        env,
        *("workflow", "signal", "--workflow-id", workflow_id),
        *("--name", name, "--input", body),
    )


async def start(
    env: WorkflowEnvironment, workflow_id: str, task_queue: str, payload: Any, *extra: str
) -> tuple[int, str, str]:
    """`temporal workflow start --type CooperationProcess` with a hand-written input."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return await temporal(
        env,
        *("workflow", "start", "--type", "CooperationProcess", "--task-queue", task_queue),
        *("--workflow-id", workflow_id, "--input", body, *extra),
    )
