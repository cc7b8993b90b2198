"""The `accord` CLI as scripts and operators use it: real subprocesses, real services."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.devserver import temporal_binary

# Re-exported: tests/workflows/test_metrics.py takes it from here.
from cli.ports import free_port as free_port
from cli.scenario import run_scenario
from cli.session import Session
from tests.processes import ACCORD

# Re-exported: the CLI tests of other folders take it from here.
from tests.processes import accord as accord
from tests.workflows.builders import MFA_HEAD, opened
from tests.workflows.test_process import eventually

ROOT = Path(__file__).resolve().parents[2]


def cluster_env(
    temporal_env: WorkflowEnvironment, task_queue: str, database_url: str
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        ACCORD_TASK_QUEUE=task_queue,
        DATABASE_URL=database_url,
        ACCORD_LOG_LEVEL="WARNING",
    )
    return env


@pytest.fixture
def env(temporal_env: WorkflowEnvironment, session: Session, database_url: str) -> dict[str, str]:
    """An `accord` subprocess's environment: this test's Temporal server and database, and
    the task queue of the `session`'s worker, which runs what the subprocess sends."""
    return cluster_env(temporal_env, session.task_queue, database_url)


def altered_scenario(name: str, to: Path, old: str, new: str) -> Path:
    """A copy of the shipped scenario `name` at `to`, with `old` replaced by `new` once."""
    source = (ROOT / "scenarios" / name).read_text()
    assert old in source, (name, old)
    to.write_text(source.replace(old, new))
    return to


def embedded_env(database_url: str, data_dir: Path) -> tuple[dict[str, str], int]:
    """No TEMPORAL_ADDRESS: the CLI's own dev server, on free ports, its data in `data_dir`."""
    env = dict(os.environ)
    env.pop("TEMPORAL_ADDRESS", None)
    port = free_port()
    env.update(
        DATABASE_URL=database_url,
        ACCORD_DATA_DIR=str(data_dir),
        ACCORD_TEMPORAL_PORT=str(port),
        ACCORD_TEMPORAL_UI_PORT=str(free_port()),
    )
    return env, port


async def test_send_status_list_timeline_verify_json(session: Session, env: dict[str, str]) -> None:
    p = await opened(session, "cli")
    await p.to_mission_planning()

    code, out, _ = await accord(
        "send",
        p.process_id,
        "grant_consent",
        "--actor",
        "mfa:head",
        "--on",
        "2023-04-10",
        "--set",
        "tor_version=1",
        "--json",
        env=env,
    )
    assert code == 0, out
    sent = json.loads(out)
    assert sent["accepted"] is True
    assert [e["event_type"] for e in sent["events"]] == ["ConsentGranted"]

    code, out, _ = await accord(
        "send",
        p.workflow_id,
        "grant_consent",
        "--actor",
        "partner:director_general",
        "--on",
        "2023-04-11",
        "--data",
        '{"tor_version": 1}',
        "--json",
        env=env,
    )
    assert code == 1
    assert json.loads(out)["code"] == "not_allowed"

    code, out, _ = await accord("status", p.process_id, "--json", env=env)
    status = json.loads(out)
    assert status["stage"] == "mission_planning"
    assert status["pending_consents"] == ["state_security_service"]

    async def listed() -> bool:
        _, out, _ = await accord("list", "--pending", "state_security_service", "--json", env=env)
        return any(r["workflow_id"] == p.workflow_id for r in json.loads(out))

    await eventually(listed, within=60)
    code, out, _ = await accord("list", "--stage", "mission_planning", "--json", env=env)
    rows = {r["workflow_id"]: r for r in json.loads(out)}
    assert rows[p.workflow_id]["pending_agencies"] == ["state_security_service"]

    code, out, _ = await accord("timeline", p.process_id, "--json", env=env)
    timeline = json.loads(out)
    assert [e["version"] for e in timeline] == list(range(1, len(timeline) + 1))
    assert timeline[-1]["type"] == "ConsentGranted"
    assert "Ministry of Foreign Affairs" in timeline[-1]["summary"]

    code, out, _ = await accord("verify", "--stream", p.process_id, "--json", env=env)
    assert code == 0 and json.loads(out)["ok"] is True


async def test_timeline_shows_dates_as_written_people_and_sources(
    session: Session, env: dict[str, str]
) -> None:
    """The story's timeline: its dates as the source gives them, who acted by name and
    title, and with --sources the source each fact cites (DOMAIN.md, "Dates and sources")."""
    run = await run_scenario(session, ROOT / "scenarios" / "azerbaijan-icmp.yaml", quiet=True)
    code, out, _ = await accord("timeline", run.process_id, "--sources", env=env)
    assert code == 0
    lines = out.splitlines()
    [reengaged] = [i for i, line in enumerate(lines) if line.startswith("2021 ")]
    assert "re-engaged" in lines[reengaged]
    assert lines[reengaged].endswith(
        "· by Hikmet Hajiyev, Assistant to the President of Azerbaijan \u2013 Head of the "
        "Foreign Policy Department of the Presidential Administration"
    )
    assert lines[reengaged + 1].strip() == (
        "source: Presentation of ICMP's assessment report in Baku, quoting State Commission "
        "secretary Gazanfar Ahmadov. Trend, 2025-03-10, paragraph 4"
    )
    assert any(
        line.startswith("2022-01~") and "· by national_body working_group_member" in line
        for line in lines
    )
    code, out, _ = await accord("timeline", run.process_id, "--json", env=env)
    rows = json.loads(out)
    assert [r["occurred_on"] for r in rows][:3] == ["2018-05", "2018-05-17", "2018-05-17/2021"]
    assert rows[6]["source"]["locator"] == "paragraph 4"
    assert rows[6]["actor"]["title"].startswith("Assistant to the President")
    plain = await accord("timeline", run.process_id, env=env)
    assert "source:" not in plain[1]  # only on request


async def test_temporal_cli_finds_processes_by_stage_and_pending_agency(
    temporal_env: WorkflowEnvironment, session: Session
) -> None:
    p = await opened(session, "op")
    await p.to_mission_planning()
    await p.ok("grant_consent", "2023-04-10", MFA_HEAD, tor_version=1)
    address = temporal_env.client.service_client.config.target_host

    def listed(query: str) -> list[dict[str, Any]]:
        out = subprocess.run(
            [
                temporal_binary(),
                "workflow",
                "list",
                "--address",
                address,
                "--query",
                query,
                "--output",
                "json",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        rows = json.loads(out) if out.strip() else []
        return rows if isinstance(rows, list) else [rows]

    async def found() -> bool:
        by_agency = listed("AccordPendingAgencies = 'state_security_service'")
        by_stage = listed("AccordStage = 'mission_planning'")
        ids = {r["execution"]["workflowId"] for r in by_agency} & {
            r["execution"]["workflowId"] for r in by_stage
        }
        return p.workflow_id in ids

    await eventually(found, within=60)
    assert p.workflow_id not in {
        r["execution"]["workflowId"] for r in listed("AccordPendingAgencies = 'mfa'")
    }


async def test_scenario_run_embedded_starts_and_stops_its_own_services(
    database_url: str, tmp_path: Path
) -> None:
    """No TEMPORAL_ADDRESS: the CLI starts a dev server and a worker, and stops them."""
    env, port = embedded_env(database_url, tmp_path)
    scenario = ROOT / "scenarios" / "suspension-resumed.yaml"
    code, out, err = await accord("scenario", "run", str(scenario), "--json", env=env, within=240)
    assert code == 0, err[-2000:]
    run = json.loads(out)
    assert run["final_stage"] == "negotiating"
    assert run["process_id"].startswith("suspended-") and run["run_suffix"] in run["process_id"]
    assert run["verify"]["ok"] is True
    assert [s["ok"] for s in run["steps"]] == [True] * len(run["steps"])
    rejected = [s for s in run["steps"] if s.get("outcome") == "rejected"]
    assert {s["code"] for s in rejected} == {"wrong_stage", "not_allowed"}
    assert (tmp_path / "temporal.db").exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the dev server it started is stopped"


async def test_failed_expectation_exits_non_zero(env: dict[str, str], tmp_path: Path) -> None:
    broken = altered_scenario(
        "bad-commands.yaml",
        tmp_path / "broken.yaml",
        "expect_rejected: out_of_order",
        "expect_rejected: not_allowed",
    )
    code, out, err = await accord("scenario", "run", str(broken), "--json", env=env)
    assert code == 1
    failed = [s for s in json.loads(out)["steps"] if not s["ok"]]
    assert len(failed) == 1 and failed[0]["code"] == "out_of_order"
    # the reason, in one line on stderr: the step, what was expected and what came
    reason = failed[0]["message"]
    assert reason.startswith("expected rejection not_allowed, got code out_of_order: ")
    assert err.splitlines() == [f"accord: {broken}: step 6 (submit_opinion): {reason}"], err
    assert "Traceback" not in err


async def test_failed_event_expectation_reads_as_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Without --json: the story on stdout, and the reason on one stderr line, exit 1."""
    broken = altered_scenario(
        "raw-commands.yaml",
        tmp_path / "events.yaml",
        "{type: ContactLogged, count: 0}]",
        "{type: ContactLogged}]",
    )
    code, out, err = await accord("scenario", "run", str(broken), env=env)
    assert code == 1
    assert err.splitlines()[-1] == (
        f"accord: {broken}: step 1 (log_contact): expect_events: ContactLogged: expected at "
        "least 1 during the step, found 0"
    )
    assert "Traceback" not in err
    assert "Steps: 7 played, 1 failed" in out


async def test_malformed_scenario_exits_2_in_one_line_before_anything_starts(
    database_url: str, tmp_path: Path
) -> None:
    """No service is needed to refuse a malformed file: the dev server is never started."""
    env, port = embedded_env(database_url, tmp_path)
    good = ROOT / "scenarios" / "suspension-resumed.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        good.read_text().replace(
            "    on: 2019-03-01\n    actor: {party: national_body, role: chair}\n", "", 1
        )
    )
    code, out, err = await accord("scenario", "run", str(good), str(bad), env=env)
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"accord: {bad}: step 2: on: a command step needs its business date"
    ], err
    assert not (tmp_path / "temporal.db").exists(), "nothing was started"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "no dev server listens"

    bad.write_text("process: {process_id: p}\nsteps:\n  - command: log_contact\n    on: [\n")
    code, out, err = await accord("scenario", "run", str(bad), env=env)
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith(f"accord: {bad}: cannot read scenario: ")


async def test_refused_opening_scenario_exits_0_with_nothing_started(
    session: Session, env: dict[str, str]
) -> None:
    scenario = ROOT / "scenarios" / "opening-refused.yaml"
    code, out, err = await accord("scenario", "run", str(scenario), "--json", env=env)
    assert code == 0, err
    run = json.loads(out)
    assert run["ok"] is True and run["final_stage"] is None and run["events"] == []
    assert run["opening"]["code"] == "not_allowed" and run["opening"]["ok"] is True
    assert await session.store.stream_version(run["workflow_id"]) == 0
    code, out, err = await accord("scenario", "run", str(scenario), env=env)
    assert code == 0 and "Traceback" not in err
    assert err.splitlines() == [f"  [ok ] open_process -> not_allowed {run['opening']['message']}"]
    assert out.strip().endswith("no workflow started, nothing recorded")


def test_worker_stops_gracefully_on_sigterm(
    temporal_env: WorkflowEnvironment, database_url: str
) -> None:
    env = cluster_env(temporal_env, f"sigterm-{uuid.uuid4().hex[:6]}", database_url)
    env["ACCORD_LOG_LEVEL"] = "INFO"
    proc = subprocess.Popen(
        [*ACCORD, "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        started = ""
        while "worker started" not in started:
            line = proc.stderr.readline()
            assert line, f"worker exited before starting: {started}"
            started += line
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    lines = [json.loads(line) for line in (started + err).splitlines() if line.startswith("{")]
    assert [entry["event"] for entry in lines][-1] == "worker stopped"
    assert all("timestamp" in entry and "level" in entry for entry in lines)


async def test_send_again_with_its_update_id_records_nothing_twice(
    session: Session, env: dict[str, str]
) -> None:
    """The retry after a lost reply: the same `--update-id` gets the first send's outcome."""
    p = await opened(session, "cli")
    await p.to_negotiating()
    meeting = [
        "send",
        p.process_id,
        "record_meeting",
        "--actor",
        "national_body:chair",
        "--on",
        "2019-03-01",
        "--set",
        "format=in_person",
        "--set",
        "initiator=partner",
        "--json",
    ]
    update_id = f"meeting-{uuid.uuid4().hex[:8]}"
    sent = []
    for _ in range(2):
        code, out, err = await accord(*meeting, "--update-id", update_id, env=env)
        assert code == 0, (out, err)
        sent.append(json.loads(out))
    assert sent[0] == sent[1] and sent[0]["update_id"] == update_id
    recorded = [e for e in await session.store.read_stream(p.workflow_id)]
    meetings = [e for e in recorded if e.event_type == "MeetingRecorded"]
    assert len(meetings) == 1 and meetings[0].metadata.correlation_id == update_id

    code, out, _ = await accord(*meeting, env=env)  # no id: a new one, so a new meeting
    assert code == 0 and json.loads(out)["update_id"] not in ("", update_id)
    version = len(await session.store.read_stream(p.workflow_id))
    assert version == len(recorded) + 1

    for bad, rule in (("two words", "only letters"), ("", "1 to 200 characters")):
        code, out, err = await accord(*meeting, "--update-id", bad, env=env)
        assert (code, out) == (2, "") and "--update-id" in err and rule in err, err
    assert len(await session.store.read_stream(p.workflow_id)) == version
