"""A user's mistake never shows a traceback: one line on stderr (one JSON object on stdout
under --json), exit 2 for usage and things not found (README "The accord CLI")."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from tests.workflows.test_cli import accord, cluster_env


@pytest.fixture
def env(temporal_env: WorkflowEnvironment, session: Session, database_url: str) -> dict[str, str]:
    return cluster_env(temporal_env, session.task_queue, database_url)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["status", "no-such-process"], "no process with workflow id coop-no-such-process"),
        (["timeline", "no-such-process"], "no process with workflow id coop-no-such-process"),
        (["send", "x", "log_contact", "--data", "{not json"], "--data: not valid JSON"),
        (["send", "x", "log_contact", "--data", "@/nonexistent.json"], "--data: no such file"),
        (["send", "x", "log_contact", "--data", "[1]"], "--data: expected a JSON object"),
        (["send", "x", "log_contact", "--actor", "mfa"], "--actor: expected party:role"),
        (["start", "/nonexistent.yaml"], "file: no such file"),
    ],
)
async def test_mistake_gets_one_line_and_exit_2(
    env: dict[str, str], args: list[str], says: str
) -> None:
    code, out, err = await accord(*args, env=env)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    assert says in err
    assert len(err.strip().splitlines()) == 1, err

    code, out, err = await accord(*args, "--json", env=env)
    assert code == 2
    answer = json.loads(out)
    assert answer["ok"] is False and says in answer["message"]
    assert "Traceback" not in err


async def test_an_unknown_stage_is_bad_usage(env: dict[str, str]) -> None:
    code, _, err = await accord("list", "--stage", "bogus", env=env)
    assert code == 2
    assert "invalid choice" in err and "Traceback" not in err


async def test_start_twice_is_refused_cleanly(env: dict[str, str], tmp_path: Path) -> None:
    from tests.workflows.builders import process_block

    block = process_block(f"cli-twice-{uuid.uuid4().hex[:6]}")
    path = tmp_path / "process.json"
    path.write_text(json.dumps({"process": block}))
    code, out, err = await accord("start", str(path), "--json", env=env)
    assert code == 0, (out, err)
    code, out, err = await accord("start", str(path), "--json", env=env)
    assert code == 2 and "Traceback" not in err
    assert json.loads(out)["code"] == "already_exists"


async def test_version(env: dict[str, str]) -> None:
    code, out, _ = await accord("--version", env=env)
    assert code == 0 and out.startswith("accord ")


async def test_lists_print_as_a_table_json_or_json_lines(
    env: dict[str, str], session: Session
) -> None:
    from tests.workflows.builders import Driver

    p = Driver(session, f"cli-jsonl-{uuid.uuid4().hex[:6]}")
    await p.open()
    await p.to_negotiating()
    code, out, _ = await accord("timeline", p.process_id, "--output", "jsonl", env=env)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["version"] for r in rows] == list(range(1, len(rows) + 1))
    code, out, _ = await accord("timeline", p.process_id, "--output", "json", env=env)
    assert json.loads(out) == rows
    code, out, _ = await accord("timeline", p.process_id, env=env)
    assert len(out.splitlines()) == len(rows) and not out.startswith("[")
    code, out, _ = await accord("timeline", "no-such-process", "--output", "jsonl", env=env)
    assert code == 2 and json.loads(out)["code"] == "not_found"


async def test_an_unreachable_temporal_is_one_line(env: dict[str, str]) -> None:
    code, out, err = await accord(
        "status", "x", "--json", env={**env, "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    )
    assert code == 2 and "Traceback" not in err
    answer = json.loads(out)
    assert answer["code"] == "unavailable" and "connect" in answer["message"]
