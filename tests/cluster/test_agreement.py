"""One configuration, two runners: docker-compose.yml and the native cluster (cli/cluster/)
agree on the dynamic config, the search attributes, the namespace and its retention, the
history shards and the versions. Reads files only: runs everywhere, in `make test`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cli import cluster
from cli.devserver import DEV_SERVER_DYNAMIC_CONFIG
from store.embedded import project_root
from workflows import search

ROOT = project_root()


def services() -> dict[str, dict[str, Any]]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found: dict[str, dict[str, Any]] = loaded["services"]
    return found


def env(service: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in services()[service].get("environment", {}).items()}


def native(tmp_path: Path) -> cluster.NativeCluster:
    c = cluster.NativeCluster(
        tmp_path, "postgresql://temporal:pw@127.0.0.1:5544/postgres", "postgresql://x@y/z"
    )
    c.allocate_ports()
    return c


def test_versions_agree() -> None:
    tags = {s: services()[s]["image"] for s in ("temporal", "temporal-schema", "temporal-setup")}
    assert tags == {
        "temporal": f"temporalio/server:{cluster.SERVER_VERSION}",
        "temporal-schema": f"temporalio/admin-tools:{cluster.SERVER_VERSION}",
        "temporal-setup": f"temporalio/admin-tools:{cluster.SERVER_VERSION}",
    }
    assert services()["temporal-ui"]["image"] == f"temporalio/ui:{cluster.UI_VERSION}"
    packages = {name: package for name, (_, package) in cluster.BINARIES.items()}
    assert packages["server"].endswith(f"@v{cluster.SERVER_VERSION}")
    assert packages["sql"].endswith(f"@v{cluster.SERVER_VERSION}")
    assert packages["ui"].endswith(f"@v{cluster.UI_VERSION}")


def test_one_dynamic_config_file(tmp_path: Path) -> None:
    temporal = services()["temporal"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in temporal["volumes"] if isinstance(v, str)}
    in_container = Path(env("temporal")["DYNAMIC_CONFIG_FILE_PATH"])
    source = ROOT / mounted[str(in_container.parent)] / in_container.name
    assert source.resolve() == (ROOT / cluster.DYNAMIC_CONFIG).resolve()
    c = native(tmp_path)
    for name in cluster.TEMPORAL_SERVICES:
        used = c.server_config(name)["dynamicConfigClient"]["filepath"]
        assert Path(used).resolve() == source.resolve()
    # ... and the dev server gets the same values (cli/devserver.py).
    values = yaml.safe_load(source.read_text())
    for key, value in DEV_SERVER_DYNAMIC_CONFIG.items():
        assert values[key] == [{"value": value, "constraints": {}}]


def test_search_attributes_namespace_and_retention_agree() -> None:
    setup = env("temporal-setup")
    compose_attributes = setup["ACCORD_SEARCH_ATTRIBUTES"].split()
    # Spelled from the SDK's own type names, not through cli/cluster/.
    spelling = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}
    code = [f"{k.name}={spelling[k.indexed_value_type.name]}" for k in search.ALL]
    assert cluster.search_attributes() == compose_attributes == code
    assert setup["TEMPORAL_NAMESPACE_RETENTION"] == cluster.NAMESPACE_RETENTION
    assert setup["TEMPORAL_NAMESPACE"] == f"${{TEMPORAL_NAMESPACE:-{cluster.NAMESPACE}}}"
    assert env("temporal")["NUM_HISTORY_SHARDS"] == str(cluster.HISTORY_SHARDS)


def test_native_config_is_a_cluster_on_loopback(tmp_path: Path) -> None:
    c = native(tmp_path)
    configs = {name: c.server_config(name) for name in cluster.TEMPORAL_SERVICES}
    histories = [n for n, s in cluster.TEMPORAL_SERVICES.items() if s == "history"]
    assert len(histories) == 2
    grpc = set()
    for name, config in configs.items():
        assert config["persistence"]["numHistoryShards"] == cluster.HISTORY_SHARDS >= 8
        assert config["persistence"]["visibilityStore"] == "postgres-visibility"
        store = config["persistence"]["datastores"]["postgres-visibility"]["sql"]
        assert (store["pluginName"], store["databaseName"]) == ("postgres12", "temporal_visibility")
        own = config["services"][cluster.TEMPORAL_SERVICES[name]]["rpc"]
        assert own["grpcPort"] == c.state.ports[name].grpc
        grpc.add(own["grpcPort"])
        for service in config["services"].values():
            # The cluster_membership table stores the port as a smallint.
            assert service["rpc"]["membershipPort"] < 32768
            assert service["rpc"]["bindOnLocalHost"] is True
        assert config["global"]["metrics"]["prometheus"]["listenAddress"].startswith("127.0.0.1:")
    assert len(grpc) == len(configs), "every process its own port"
    assert c.ui_config()["temporalGrpcAddress"] == c.state.address
    assert c.ui_config()["host"] == "127.0.0.1"


def test_codec_server_joins_when_keys_and_token_are_set(tmp_path: Path) -> None:
    """As compose's temporal-ui: the UI decodes through the codec server, with the
    browser's credentials; without a token `accord codec-server` cannot start, so the
    cluster leaves it out rather than start a process that exits."""
    keys = "k1:" + "A" * 43 + "="
    url = "postgresql://temporal:pw@127.0.0.1:5544/postgres"
    for environ, expected in (
        ({"ACCORD_CODEC_KEYS": keys, "ACCORD_CODEC_SERVER_TOKEN": "t" * 32}, True),
        ({"ACCORD_CODEC_KEYS": keys}, False),
        ({}, False),
    ):
        c = cluster.NativeCluster(tmp_path, url, url, environ=environ)
        c.allocate_ports()
        assert ("codec-server" in c.names()) is expected
        codec = c.ui_config().get("codec")
        if expected:
            assert codec == {
                "endpoint": f"http://127.0.0.1:{c.state.codec_port}",
                "passAccessToken": False,
                "includeCredentials": True,
            }
            ui = services()["temporal-ui"]["environment"]
            assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
            assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "false"
            command = c.command("codec-server")
            assert command[command.index("--origin") + 1] == c.state.ui_url
        else:
            assert codec is None


def prometheus(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_metrics_scrape_jobs_agree(tmp_path: Path) -> None:
    """One Prometheus configuration: compose mounts deploy/prometheus/prometheus.yml, the
    native cluster writes it again with its own targets; the same settings and jobs, and
    each job's targets are the metrics endpoints its runner gives those processes."""
    mounted = {
        v.split(":")[1]: v.split(":")[0]
        for v in services()["prometheus"]["volumes"]
        if v.startswith("./")
    }
    compose_file = ROOT / mounted["/etc/prometheus/prometheus.yml"]
    assert compose_file.resolve() == (ROOT / cluster.PROMETHEUS_CONFIG).resolve()
    compose = prometheus(compose_file)
    c = native(tmp_path)
    c.write_configs()
    written = prometheus(c.root / "config" / "prometheus.yml")
    assert written == c.prometheus_config()
    assert {k: v for k, v in written.items() if k != "scrape_configs"} == {
        k: v for k, v in compose.items() if k != "scrape_configs"
    }

    def settings(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.endswith(("static_configs", "sd_configs"))}

    compose_jobs = {j["job_name"]: j for j in compose["scrape_configs"]}
    native_jobs = {j["job_name"]: j for j in written["scrape_configs"]}
    assert list(compose_jobs) == list(native_jobs) == list(cluster.SCRAPE_JOBS)
    for name in compose_jobs:
        assert settings(compose_jobs[name]) == settings(native_jobs[name]), name

    # Compose: the server's PROMETHEUS_ENDPOINT and the workers' ACCORD_METRICS_BIND.
    server_port = env("temporal")["PROMETHEUS_ENDPOINT"].rpartition(":")[2]
    assert compose_jobs["temporal"]["static_configs"][0]["targets"] == [f"temporal:{server_port}"]
    worker_port = int(env("worker")["ACCORD_METRICS_BIND"].rpartition(":")[2])
    assert compose_jobs["accord-worker"]["dns_sd_configs"][0]["port"] == worker_port

    # Native: every Temporal process and every Accord worker, on loopback, one target each,
    # exactly where the process is told to serve its metrics.
    def targets(job: str) -> dict[str, str]:
        return {
            group["labels"]["process"]: group["targets"][0]
            for group in native_jobs[job]["static_configs"]
        }

    assert set(targets("temporal")) == set(cluster.TEMPORAL_SERVICES)
    assert (
        set(targets("accord-worker"))
        == set(cluster.WORKERS)
        == {n for n in c.names() if n.startswith("accord-worker")}
    )
    for name, target in targets("temporal").items():
        listen = c.server_config(name)["global"]["metrics"]["prometheus"]["listenAddress"]
        assert listen == target and target.startswith("127.0.0.1:")
    for name, target in targets("accord-worker").items():
        assert c.process_env(name)["ACCORD_METRICS_BIND"] == target
        assert target.startswith("127.0.0.1:")
    every = [*targets("temporal").values(), *targets("accord-worker").values()]
    assert len(set(every)) == len(every), "one port per process"
    assert {n: f"http://{a}/metrics" for n, a in c.metrics_endpoints().items()} == {
        n: f"http://{t}/metrics"
        for n, t in {**targets("temporal"), **targets("accord-worker")}.items()
    }

    # The same timer type (histograms) on both runners' servers.
    for name in cluster.TEMPORAL_SERVICES:
        timer = c.server_config(name)["global"]["metrics"]["prometheus"]["timerType"]
        assert timer == env("temporal")["PROMETHEUS_TIMER_TYPE"] == "histogram"


def test_health_check_is_the_clusters_not_a_port_probe() -> None:
    """Compose's server is healthy when `temporal operator cluster health` says SERVING,
    the very check `accord cluster up` waits for and `accord cluster status` reports."""
    test = services()["temporal"]["healthcheck"]["test"]
    assert test[0] == "CMD" and Path(test[1]).name == "temporal"
    assert tuple(test[2 : 2 + len(cluster.HEALTH_CHECK)]) == cluster.HEALTH_CHECK
    assert not any(probe in part for part in test for probe in ("nc", "-z", "curl", "/dev/tcp"))
    for dependent in ("temporal-setup", "temporal-ui", "worker"):
        condition = services()[dependent]["depends_on"]["temporal"]["condition"]
        assert condition == "service_healthy", dependent
    # The CLI is the admin-tools release of the server's version (the one-shot copies it).
    assert services()["temporal-cli"]["image"] == f"temporalio/admin-tools:{cluster.SERVER_VERSION}"
