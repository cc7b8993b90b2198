"""Another service, without Python: the plain `temporal` CLI opens a process and sends it
commands as JSON, exactly as contracts/ describes them."""

from __future__ import annotations

import asyncio
import json
import uuid

from temporalio.testing import WorkflowEnvironment

from cli.devserver import temporal_binary
from cli.session import Session
from store import EventStore
from tests.workflows.builders import Driver, process_block
from workflows.contracts import CommandResult


async def temporal(env: WorkflowEnvironment, *args: str) -> tuple[int, str, str]:
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
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def update(
    env: WorkflowEnvironment, workflow_id: str, name: str, payload: dict[str, object]
) -> tuple[int, str, str]:
    return await temporal(
        env,
        *("workflow", "update", "execute", "--workflow-id", workflow_id),
        *("--name", name, "--input", json.dumps(payload)),
    )


async def test_the_temporal_cli_opens_a_process_and_sends_commands_as_plain_json(
    session: Session, store: EventStore, temporal_env: WorkflowEnvironment
) -> None:
    process_id = f"az-icmp-cli-{uuid.uuid4().hex[:6]}"
    driver = Driver(session, process_id)
    open_process = {
        "actor": {"party": "national_body", "role": "chair"},
        "occurred_on": "2018-05-17",
        "process": process_block(process_id),
    }
    code, _, err = await temporal(
        temporal_env,
        *("workflow", "start", "--type", "CooperationProcess", "--task-queue", session.task_queue),
        *(
            "--workflow-id",
            driver.workflow_id,
            "--input",
            json.dumps({"open_process": open_process}),
        ),
    )
    assert code == 0, err
    await driver.to_mission_planning()  # through the Python client, as any other caller
    before = await store.stream_version(driver.workflow_id)
    assert (await store.read_stream(driver.workflow_id))[0].event_type == "ProcessOpened"

    code, out, err = await update(
        temporal_env,
        driver.workflow_id,
        "grant_consent",
        {"actor": {"party": "mfa", "role": "head"}, "occurred_on": "2023-04-10", "tor_version": 1},
    )
    assert code == 0, err
    # The update's result (contracts/command_result.json): the events it recorded.
    result = CommandResult.model_validate(json.loads(out)["result"])
    assert [(e.event_type, e.version) for e in result.events] == [("ConsentGranted", before + 1)]
    [consent] = await store.read_stream(driver.workflow_id, after_version=before)
    assert consent.event_type == "ConsentGranted"
    assert consent.data["agency"] == "mfa" and consent.data["tor_version"] == 1
    assert consent.metadata.actor == {"party": "mfa", "role": "head"}
    assert str(consent.metadata.occurred_on) == "2023-04-10"

    # The partner may not consent for an agency: rejected with the domain's code, and
    # nothing is written.
    code, _, err = await update(
        temporal_env,
        driver.workflow_id,
        "grant_consent",
        {
            "actor": {"party": "partner", "role": "director_general"},
            "occurred_on": "2023-04-11",
            "tor_version": 1,
        },
    )
    print(f"exit {code}: {err}")
    assert code != 0
    assert "(type: not_allowed" in err
    # A payload the contract does not allow: invalid_input, naming the field.
    code, _, err = await update(
        temporal_env,
        driver.workflow_id,
        "grant_consent",
        {"actor": {"party": "mfa", "role": "head"}, "occurred_on": "2023-04-11", "tor": 1},
    )
    print(f"exit {code}: {err}")
    assert code != 0
    assert "(type: invalid_input" in err
    assert await store.stream_version(driver.workflow_id) == before + 1
