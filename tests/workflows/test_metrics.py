"""`accord worker` with ACCORD_METRICS_BIND: the SDK's Prometheus metrics and Accord's own
(commands accepted and refused, append latency, feed lag) scraped from a running worker.

A real `accord worker` subprocess on its own task queue, the session's dev server and
database; the test drives it with a client and reads `/metrics` over HTTP.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.session import Session
from security.keys import KeyConfigError
from store import EventStore, RecordedEvent
from store.feed import ConsumerConnection, consume
from tests.workflows.builders import ICMP_POLICY, MFA_HEAD, Driver
from tests.workflows.test_cli import cluster_env, free_port
from workers import metrics

ROOT = Path(__file__).resolve().parents[2]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, dict[str, str], float]


def parse(text: str) -> list[Sample]:
    """The samples of a Prometheus text exposition: (name, labels, value)."""
    found = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = dict(_LABEL.findall(match[2] or ""))
        found.append((match[1], labels, float(match[3])))
    return found


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The one sample of `name` whose labels include `labels` (None if none)."""
    matching = [v for n, got, v in samples if n == name and labels.items() <= got.items()]
    assert len(matching) <= 1, (name, labels, matching)
    return matching[0] if matching else None


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        body: bytes = response.read()
        return body.decode()


@pytest.fixture
def metered_worker(
    temporal_env: WorkflowEnvironment, database_url: str, task_queue: str, tmp_path: Path
) -> Iterator[str]:
    """`accord worker` serving metrics on a free loopback port: its /metrics URL."""
    bind = f"127.0.0.1:{free_port()}"
    env = cluster_env(temporal_env, task_queue, database_url)
    env |= {metrics.METRICS_BIND: bind, metrics.FEED_LAG_INTERVAL: "0.5"}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    url = f"http://{bind}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                scrape(url)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "no metrics endpoint within 60 s"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def eventually_scraped(url: str, done: object, within: float = 30.0) -> list[Sample]:
    """Scrape until `done(samples)` holds (the exporter and the lag sampler run on their
    own schedule), then return those samples."""
    deadline = time.monotonic() + within
    while True:
        samples = parse(await asyncio.to_thread(scrape, url))
        if done(samples):  # type: ignore[operator]
            return samples
        assert time.monotonic() < deadline, "metrics never showed what was expected"
        await asyncio.sleep(0.3)


async def test_worker_serves_sdk_and_accord_metrics(
    metered_worker: str, client: Client, store: EventStore, task_queue: str
) -> None:
    session = Session(client=client, store=store, task_queue=task_queue, embedded=None)
    p = Driver(session, f"metrics-{uuid.uuid4().hex[:6]}")
    await p.open()

    # A feed consumer, caught up with everything so far: the events after this are its lag.
    consumer = f"metrics-test-{uuid.uuid4().hex[:6]}"

    async def ignore(conn: ConsumerConnection, event: RecordedEvent) -> None:
        return None

    await consume(store, consumer, ignore, follow=False)

    accepted = await p.ok(
        "log_contact", "2018-05-17", MFA_HEAD, venue="The Hague", modalities=["membership"]
    )
    refused = await p.send("start_mission", "2018-05-18", ICMP_POLICY)
    assert not refused.accepted and refused.code == "wrong_stage", refused
    unread = len(accepted.events)
    assert unread >= 1

    def complete(samples: list[Sample]) -> bool:
        return (
            value(samples, metrics.COMMANDS_REFUSED, command="start_mission") is not None
            and (value(samples, metrics.FEED_LAG_EVENTS, consumer=consumer) or 0) >= unread
        )

    samples = await eventually_scraped(metered_worker, complete)
    names = {name for name, _, _ in samples}

    # The SDK's own series, from the same exporter.
    assert {"temporal_request", "temporal_long_request", "temporal_worker_start"} <= names
    assert any(
        n == "temporal_request" and labels.get("operation") == "RespondWorkflowTaskCompleted"
        for n, labels, _ in samples
    )
    assert any(
        n == "temporal_worker_start" and labels.get("task_queue") == task_queue
        for n, labels, _ in samples
    )
    assert "temporal_workflow_task_execution_latency_count" in names
    assert "temporal_activity_execution_latency_count" in names

    # Commands: exactly this test's, by command and code, labelled with the task queue.
    ours = {"task_queue": task_queue, "workflow_type": "CooperationProcess"}
    assert value(samples, metrics.COMMANDS_ACCEPTED, command="log_contact", **ours) == 1
    assert (
        value(
            samples, metrics.COMMANDS_REFUSED, command="start_mission", code="wrong_stage", **ours
        )
        == 1
    )
    assert value(samples, metrics.COMMANDS_REFUSED, command="log_contact") is None
    assert value(samples, metrics.COMMANDS_ACCEPTED, command="start_mission") is None

    # The append latency: the opening's append and log_contact's, both new.
    count = value(samples, f"{metrics.APPEND_LATENCY}_count", outcome="appended")
    assert count is not None and count >= 2, count
    total = value(samples, f"{metrics.APPEND_LATENCY}_sum", outcome="appended")
    assert total is not None and 0 < total < 30
    buckets = [
        labels["le"]
        for name, labels, _ in samples
        if name == f"{metrics.APPEND_LATENCY}_bucket" and labels.get("outcome") == "appended"
    ]
    assert buckets[:2] == ["0.001", "0.0025"], buckets  # Accord's buckets, not the SDK's

    # Feed lag: the consumer has not read log_contact's events; the oldest has an age.
    lag = value(samples, metrics.FEED_LAG_EVENTS, consumer=consumer)
    assert lag is not None and lag >= unread
    age = value(samples, metrics.FEED_LAG_SECONDS, consumer=consumer)
    assert age is not None and age > 0

    # Once the consumer has read them, its lag drops to 0.
    await consume(store, consumer, ignore, follow=False)
    caught_up = await eventually_scraped(
        metered_worker, lambda s: value(s, metrics.FEED_LAG_EVENTS, consumer=consumer) == 0
    )
    assert value(caught_up, metrics.FEED_LAG_SECONDS, consumer=consumer) == 0


def test_no_listener_without_the_setting_and_a_bad_setting_is_one_line(
    temporal_env: WorkflowEnvironment, database_url: str
) -> None:
    assert metrics.metrics_bind({}) is None
    assert metrics.metrics_bind({metrics.METRICS_BIND: "127.0.0.1:9464"}) == "127.0.0.1:9464"
    env = cluster_env(temporal_env, f"metrics-{uuid.uuid4().hex[:6]}", database_url)
    for bad in ("localhost", "9464", "example.org:9464", "127.0.0.1:99999"):
        env[metrics.METRICS_BIND] = bad
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", "worker"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (bad, done.stderr)
        assert done.stderr.startswith("accord worker: ACCORD_METRICS_BIND"), done.stderr
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_taken_port_is_refused_at_start() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(KeyConfigError, match="ACCORD_METRICS_BIND"):
            metrics.metrics_runtime(bind)
