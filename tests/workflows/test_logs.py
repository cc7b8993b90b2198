"""Logs an operator can search: one structured line per accepted and per refused command,
fields as fields; a worker that cannot start says so in one structured line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import uuid

import pytest

from cli.session import Session
from store.embedded import project_root
from tests.workflows.builders import MFA_HEAD, Driver
from workers import logs


def lines(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, object]]:
    return [
        dict(getattr(r, "accord", {}), message=r.getMessage())
        for r in caplog.records
        if r.getMessage() == message
    ]


async def test_each_command_leaves_one_line_with_its_facts_as_fields(
    session: Session, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    caplog.set_level(logging.INFO)
    logs.fields_as_fields()  # as `accord worker` configures its logging
    request.addfinalizer(lambda: logs.fields_as_fields(False))
    p = Driver(session, f"logs-{uuid.uuid4().hex[:6]}")
    await p.open()
    accepted = await p.ok(
        "log_contact", "2018-05-17", MFA_HEAD, venue="The Hague", modalities=["membership"]
    )
    refused = await p.send("submit_opinion", "2018-06-01", MFA_HEAD, recommendation="negotiate")
    assert refused.code == "not_allowed"

    [ok] = [x for x in lines(caplog, "command accepted") if x["update_id"] == accepted.update_id]
    assert ok["process"] == p.workflow_id
    assert (ok["command"], ok["actor_party"], ok["actor_role"]) == ("log_contact", "mfa", "head")
    assert ok["events"] == 1 and isinstance(ok["duration_ms"], int)
    [no] = [x for x in lines(caplog, "command refused") if x["update_id"] == refused.update_id]
    assert (no["command"], no["code"], no["actor_party"]) == (
        "submit_opinion",
        "not_allowed",
        "mfa",
    )
    # No dict appended to the message: the facts are fields only.
    assert all("{" not in r.getMessage() for r in caplog.records if r.name.startswith("temporalio"))


def test_a_worker_that_cannot_reach_temporal_says_so_in_one_json_line() -> None:
    env = {**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:1", "ACCORD_LOG_LEVEL": "INFO"}
    done = subprocess.run(
        [str(project_root() / ".venv" / "bin" / "accord"), "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = [json.loads(x) for x in done.stderr.splitlines() if "worker start failed" in x]
    assert line["level"] == "error" and line["address"] == "127.0.0.1:1"
