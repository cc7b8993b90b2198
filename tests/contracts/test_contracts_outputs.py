"""What the real commands print is what `contracts/` says: every `--json` output, the
`status` query, an update's result and the feed, validated against the committed JSON
Schemas with format checking on (dates, date-times, uuids)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from domain.codec import UPCASTERS
from store.embedded import project_root
from tests.workflows.builders import Driver
from tests.workflows.test_cli import accord, cluster_env

CONTRACTS = project_root() / "contracts"
FORMATS = FormatChecker()


def validator(path: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / path).read_text())
    documents = {
        str(p.relative_to(CONTRACTS)): json.loads(p.read_text()) for p in CONTRACTS.rglob("*.json")
    }
    registry: Registry[Any] = Registry().with_resources(
        (path, Resource.from_contents(doc)) for path, doc in documents.items() if "$schema" in doc
    )
    return Draft202012Validator(schema, registry=registry, format_checker=FORMATS)


def valid(path: str, document: Any) -> None:
    errors = sorted(validator(path).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, f"{path}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]
    )


def test_format_checking_is_on() -> None:
    """A wrong date must fail, or the tests below would prove nothing about formats."""
    with pytest.raises(AssertionError):
        valid("cli/timeline_row.json", {
            "version": 1, "position": 1, "occurred_on": "2023-13-45", "type": "X",
            "actor": None, "summary": "s",
        })  # fmt: skip


async def test_every_json_output_matches_its_contract(
    temporal_env: WorkflowEnvironment, session: Session, database_url: str, tmp_path: Path
) -> None:
    env = cluster_env(temporal_env, session.task_queue, database_url)
    p = Driver(session, f"contract-{uuid.uuid4().hex[:6]}")
    await p.open()
    await p.to_mission_planning()

    code, out, _ = await accord(
        "send", p.process_id, "grant_consent", "--actor", "mfa:head", "--on", "2023-04-10",
        "--set", "tor_version=1", "--json", env=env,
    )  # fmt: skip
    assert code == 0
    sent = json.loads(out)
    valid("cli/command_outcome.json", sent)
    code, out, _ = await accord(
        "send", p.process_id, "grant_consent", "--actor", "partner:director_general",
        "--on", "2023-04-11", "--set", "tor_version=1", "--json", env=env,
    )  # fmt: skip
    assert code == 1
    valid("cli/command_outcome.json", json.loads(out))

    code, out, _ = await accord("status", p.process_id, "--json", env=env)
    status = json.loads(out)
    valid("cli/status.json", status)
    assert status["next_deadline"] is not None  # the consent deadline runs

    code, out, _ = await accord("list", "--stage", "mission_planning", "--json", env=env)
    for row in json.loads(out):
        valid("cli/list_row.json", row)

    code, out, _ = await accord("timeline", p.process_id, "--json", env=env)
    for row in json.loads(out):
        valid("cli/timeline_row.json", row)

    code, out, _ = await accord("status", "no-such-process", "--json", env=env)
    assert code == 2
    valid("cli/error.json", json.loads(out))

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"process": {"process_id": p.process_id}}))
    code, out, _ = await accord("start", str(path), "--json", env=env)
    assert code == 2
    valid("cli/command_outcome.json", json.loads(out))

    # The update's own result (any SDK, the temporal CLI) and the feed.
    handle = session.client.get_workflow_handle(p.workflow_id)
    view = await handle.query("status")
    valid("cli/status.json", view)
    code, out, _ = await accord("events", "--after", "0", "--limit", "50", "--json", env=env)
    assert code == 0
    for line in out.splitlines():
        event = json.loads(line)
        valid("feed_event.json", event)
        schema = f"events/{event['type']}.v{event['schema_version']}.json"
        valid(schema, event["data"])


def test_contact_logged_v1_has_its_contract_and_upcasts_to_v2() -> None:
    recorded_v1 = {
        "occurred_on": "2018-05-17",
        "venue": "The Hague",
        "participants": [],
        "modality": "membership",
        "summary": "",
    }
    valid("events/ContactLogged.v1.json", recorded_v1)
    valid("events/ContactLogged.v2.json", UPCASTERS[("ContactLogged", 1)](recorded_v1))
    with pytest.raises(AssertionError):
        valid("events/ContactLogged.v1.json", {**recorded_v1, "modalities": ["membership"]})
