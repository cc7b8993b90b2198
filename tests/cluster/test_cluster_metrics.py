"""The native cluster's metrics endpoints, scraped while it runs: a Temporal process's and
both Accord workers' (the SDK's series and Accord's own after a command of each outcome),
as `accord cluster status --json` lists them and its Prometheus configuration names them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.cluster import TEMPORAL_SERVICES, WORKERS
from cli.session import Session
from security.actor_binding import ActorBinding
from store import EventStore
from tests.actor_keys import TEST_ACTOR_KEYS
from tests.cluster.conftest import ClusterUnderTest
from tests.cluster.test_native_cluster import accord, scrape
from tests.workflows.builders import ICMP_POLICY, MFA_HEAD, Driver
from tests.workflows.test_metrics import Sample, parse
from workers import metrics

pytestmark = pytest.mark.cluster


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(v for n, got, v in samples if n == name and labels.items() <= got.items())


@pytest.mark.timeout(600)
async def test_server_and_worker_metrics_are_served(native_cluster: ClusterUnderTest) -> None:
    env = {**native_cluster.env(), "ACCORD_DATA_DIR": str(native_cluster.root)}
    code, out, err = await accord("cluster", "status", "--json", env=env, within=60)
    status = json.loads(out)
    assert code == 0, err
    endpoints = status["metrics"]
    assert set(endpoints) == {*TEMPORAL_SERVICES, *WORKERS}
    assert all(url.startswith("http://127.0.0.1:") for url in endpoints.values())

    # The Prometheus configuration it names scrapes exactly those endpoints.
    config = yaml.safe_load(await asyncio.to_thread(Path(status["prometheus_config"]).read_text))
    targets = {
        group["labels"]["process"]: f"http://{group['targets'][0]}/metrics"
        for job in config["scrape_configs"]
        for group in job["static_configs"]
    }
    assert targets == endpoints

    # One accepted and one refused command through the cluster's workers.
    client = await Client.connect(
        native_cluster.address,
        data_converter=pydantic_data_converter,
        interceptors=[ActorBinding(keys=TEST_ACTOR_KEYS)],
    )
    async with await EventStore.connect(native_cluster.database_url, max_size=4) as store:
        session = Session(client=client, store=store, task_queue="accord", embedded=None)
        p = Driver(session, f"cluster-metrics-{uuid.uuid4().hex[:6]}")
        await p.open()
        await p.ok("log_contact", "2018-05-17", MFA_HEAD, venue="Baku", modalities=["membership"])
        refused = await p.send("start_mission", "2018-05-18", ICMP_POLICY)
        assert refused.code == "wrong_stage", refused

    # A Temporal process: the server's own series.
    frontend = parse(await asyncio.to_thread(scrape, endpoints["frontend"]))
    assert total(frontend, "service_requests") > 0

    # The two workers between them: the SDK's series and Accord's, with their labels.
    async def workers() -> list[Sample]:
        texts = await asyncio.gather(
            *(asyncio.to_thread(scrape, endpoints[name]) for name in WORKERS)
        )
        return [sample for text in texts for sample in parse(text)]

    for _ in range(50):
        samples = await workers()
        if total(samples, metrics.COMMANDS_REFUSED, command="start_mission", code="wrong_stage"):
            break
        await asyncio.sleep(0.2)
    assert total(samples, metrics.COMMANDS_REFUSED, command="start_mission", code="wrong_stage")
    assert total(samples, metrics.COMMANDS_ACCEPTED, command="log_contact", task_queue="accord")
    assert total(samples, f"{metrics.APPEND_LATENCY}_count", outcome="appended") >= 2
    assert total(samples, "temporal_request") > 0
    assert total(samples, "temporal_workflow_task_execution_latency_count") > 0
