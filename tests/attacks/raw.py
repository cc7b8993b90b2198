"""The outside caller of the attack tests: the plain `temporal` CLI, knowing nothing of Accord.

Every attack goes through Temporal's own entry points (start, signal, update, query) with
JSON typed by hand, as another service with access to the namespace would send it.

Actor tokens travel in a Temporal *header* (`accord-actor-token`), and the `temporal` CLI
v1.5.1 cannot send one: `workflow start` and `workflow update execute` have no header flag
(`--grpc-meta` sets gRPC metadata, which never reaches a worker). So the CLI helpers below
are the caller without a token, and `update_with_header` / `start_with_header` are the
caller with one: bare WorkflowService requests on the test server's connection, with the
payloads and the header built by hand as SECURITY.md describes them (no Accord code, no
SDK converter or interceptor); `hs256_token` signs claims the same way, with only
`hmac` and `hashlib`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.api.common.v1 import Header, Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.update.v1 import Input, Meta, Request, WaitPolicy
from temporalio.api.workflowservice.v1 import (
    StartWorkflowExecutionRequest,
    UpdateWorkflowExecutionRequest,
)
from temporalio.testing import WorkflowEnvironment

from cli.devserver import temporal_binary
from tests.processes import completed


async def temporal(
    env: WorkflowEnvironment, *args: str, seconds: float = 30
) -> tuple[int, str, str]:
    """The `temporal` binary against the test's dev server: (exit code, stdout, stderr)."""
    address = env.client.service_client.config.target_host
    return await completed(
        temporal_binary(),
        *args,
        *("--address", address, "--namespace", "default", "--output", "json"),
        within=seconds,
    )


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


# -- with a token: bare WorkflowService requests --------------------------------------------

TOKEN_HEADER = "accord-actor-token"


def json_plain(value: Any) -> Payload:
    """A payload as every SDK and the CLI write JSON: `encoding: json/plain`, UTF-8 JSON.
    A `str` is taken as JSON text already (like the CLI helpers' `payload`)."""
    data = value if isinstance(value, str) else json.dumps(value)
    return Payload(metadata={"encoding": b"json/plain"}, data=data.encode())


def hs256_token(claims: dict[str, Any], kid: str, secret: bytes) -> str:
    """A compact JWS signed with HMAC-SHA256, as any language would build it."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = ".".join(
        b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _header(token: str | None) -> Header:
    # The token is a JSON *string* in a json/plain payload: `"eyJ..."`, quotes included.
    fields = {} if token is None else {TOKEN_HEADER: json_plain(json.dumps(token))}
    return Header(fields=fields)


@dataclass(frozen=True)
class Outcome:
    """An update's answer: accepted with its result, or the failure's type and message."""

    accepted: bool
    result: Any = None
    code: str | None = None
    message: str = ""


async def update_with_header(
    env: WorkflowEnvironment,
    workflow_id: str,
    name: str,
    payload: Any,
    token: str | None,
    *,
    update_id: str | None = None,
) -> Outcome:
    """`UpdateWorkflowExecution` with the command's JSON and, unless None, the token header."""
    request = UpdateWorkflowExecutionRequest(
        namespace="default",
        workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        request=Request(
            meta=Meta(update_id=update_id or str(uuid.uuid4()), identity="raw-attacker"),
            input=Input(
                name=name,
                header=_header(token),
                args=Payloads(payloads=[json_plain(payload)]),
            ),
        ),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
        ),
    )
    # retry=True: the SDK's own retry of transient codes, as any real client has. An update
    # that arrives while the run continues as new is answered RESOURCE_EXHAUSTED ("workflow
    # is closing"), which a client sends again under the same id; the rules tested here are
    # about what the process answers, not about that window.
    response = await env.client.workflow_service.update_workflow_execution(request, retry=True)
    outcome = response.outcome
    if outcome.HasField("failure"):
        info = outcome.failure.application_failure_info
        return Outcome(False, code=info.type or None, message=outcome.failure.message)
    [result] = outcome.success.payloads
    return Outcome(True, result=json.loads(result.data))


async def start_with_header(
    env: WorkflowEnvironment,
    workflow_id: str,
    task_queue: str,
    payload: Any,
    token: str | None,
    *,
    cron_schedule: str = "",
) -> str:
    """`StartWorkflowExecution` of `CooperationProcess` with the token header; the run id."""
    request = StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id=workflow_id,
        workflow_type=WorkflowType(name="CooperationProcess"),
        task_queue=TaskQueue(name=task_queue),
        input=Payloads(payloads=[json_plain(payload)]),
        header=_header(token),
        identity="raw-attacker",
        request_id=str(uuid.uuid4()),
        cron_schedule=cron_schedule,
    )
    response = await env.client.workflow_service.start_workflow_execution(request)
    return response.run_id
