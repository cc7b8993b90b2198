"""The deployment (`docker-compose.yml`, `Dockerfile`) checked without Docker.

Docker cannot run here, so these tests read the files: every service is there with a
pinned image, starts after what it needs (health checks, one-shot jobs), the worker gets
every setting the code reads, and the search attributes created are the code's.
`docker compose config` also runs when a compose v2+ CLI is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.devserver import DEV_SERVER_DYNAMIC_CONFIG
from workers.settings import variables
from workflows import search

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# Where a default may be documented: a Markdown table row naming the variable.
DOCS = (ROOT / "README.md", ROOT / "workers" / "config.py", *sorted((ROOT / "docs").glob("*.md")))

# service -> {dependency: condition}: the start order of docs/deployment-and-report.md.
DEPENDENCIES = {
    "postgres": {},
    "temporal-schema": {"postgres": "service_healthy"},
    "temporal-cli": {},
    "temporal": {
        "temporal-schema": "service_completed_successfully",
        "temporal-cli": "service_completed_successfully",
    },
    "temporal-setup": {"temporal": "service_healthy"},
    "temporal-ui": {
        "temporal": "service_healthy",
        "temporal-setup": "service_completed_successfully",
        "codec-server": "service_healthy",
    },
    "codec-server": {},
    "migrate": {"postgres": "service_healthy"},
    "worker": {
        "migrate": "service_completed_successfully",
        "temporal-setup": "service_completed_successfully",
        "temporal": "service_healthy",
    },
    "prometheus": {},
}
ONE_SHOT = {"temporal-schema", "temporal-cli", "temporal-setup", "migrate"}
# Every published port on loopback only: nothing listens for the network by default.
PUBLISHED = {
    "postgres": "127.0.0.1:5432:5432",
    "temporal": "127.0.0.1:7233:7233",
    "temporal-ui": "127.0.0.1:8080:8080",
    "codec-server": "127.0.0.1:8888:8888",
    "prometheus": "127.0.0.1:9090:9090",
}
# The services built from the Accord image, and the secrets each one mounts.
ACCORD_IMAGE = {"worker", "migrate", "codec-server"}
SECRETS = {
    "worker": {"accord_codec_keys", "accord_actor_keys"},
    "codec-server": {"accord_codec_keys", "accord_codec_server_token"},
}


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment as a mapping, please"
    return {str(k): str(v) for k, v in env.items()}


def test_every_service_is_there() -> None:
    assert set(services()) == set(DEPENDENCIES)


@pytest.mark.parametrize("name", sorted(DEPENDENCIES))
def test_images_are_pinned(name: str) -> None:
    image = services()[name]["image"]
    repository, sep, tag = image.rpartition(":")
    assert sep and "/" not in tag, f"{name}: {image} has no tag"
    # A release, never a moving tag (Prometheus spells its tags v3.5.0).
    assert tag != "latest" and re.match(r"^v?\d+(\.\d+)+", tag), f"{name}: {image} is not pinned"
    if repository == "prom/prometheus":
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), f"{name}: {image}: an exact version"
    if "build" in services()[name]:
        assert repository == "accord-worker"


def test_schema_tools_match_the_server() -> None:
    """The admin-tools release carries the schema the server of the same release expects."""
    version = services()["temporal"]["image"].rpartition(":")[2]
    for job in ("temporal-schema", "temporal-cli", "temporal-setup"):
        assert services()[job]["image"] == f"temporalio/admin-tools:{version}"


def test_ports() -> None:
    for name, service in services().items():
        assert service.get("ports", []) == ([PUBLISHED[name]] if name in PUBLISHED else []), name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is not loopback only"
    # `docker compose up --scale worker=3` needs neither fixed names nor host ports.
    assert "container_name" not in services()["worker"]


@pytest.mark.parametrize("name", sorted(DEPENDENCIES))
def test_dependencies_and_conditions(name: str) -> None:
    declared = services()[name].get("depends_on", {})
    assert isinstance(declared, dict), f"{name}: depends_on needs conditions"
    assert {dep: spec["condition"] for dep, spec in declared.items()} == DEPENDENCIES[name]
    for dep, condition in DEPENDENCIES[name].items():
        if condition == "service_healthy":
            assert "healthcheck" in services()[dep], f"{dep} has no health check"
        else:
            assert dep in ONE_SHOT, f"{dep} is not a one-shot job"


def test_health_checks() -> None:
    for name, service in services().items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", f"{name} must run once"
            assert "healthcheck" not in service
            continue
        if name == "worker":
            continue  # nothing waits for it; Temporal shows its pollers
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check["retries"] >= 10 and check["interval"].endswith("s"), name
    # Over TCP: during initialisation PostgreSQL answers on its socket only.
    assert "-h 127.0.0.1" in services()["postgres"]["healthcheck"]["test"][1]


def test_temporal_health_is_the_cluster_health_check_not_a_port_probe() -> None:
    """The server is healthy when its frontend answers the gRPC health check SERVING
    (`temporal operator cluster health`), with the CLI the one-shot `temporal-cli` copies
    from the admin-tools image into the volume the server mounts."""
    temporal = services()["temporal"]
    test = temporal["healthcheck"]["test"]
    assert test[0] == "CMD"
    cli, *args = test[1:]
    assert args[:3] == ["operator", "cluster", "health"], test
    assert args[3:] == ["--address", "127.0.0.1:7233"]
    for probe in ("nc", "-z", "curl", "wget", "/dev/tcp"):
        assert not any(probe in str(part) for part in test), f"{probe}: a port probe"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in temporal["volumes"]}
    folder = str(Path(cli).parent)
    assert mounts[folder] == "temporal-cli" and "temporal-cli" in compose()["volumes"]
    copier = services()["temporal-cli"]
    assert f"temporal-cli:{folder}" in copier["volumes"]
    assert f"cp /usr/local/bin/temporal {cli}" in " ".join(copier["command"])
    # Whatever waits for the server waits for that check.
    waiting = {n for n, deps in DEPENDENCIES.items() if deps.get("temporal") == "service_healthy"}
    assert waiting == {"temporal-setup", "temporal-ui", "worker"}


def test_prometheus_scrapes_the_server_and_every_worker() -> None:
    prometheus = services()["prometheus"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    config_file = mounts["/etc/prometheus/prometheus.yml"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / config_file).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"temporal", "accord-worker"}
    server_port = environment("temporal")["PROMETHEUS_ENDPOINT"].rpartition(":")[2]
    assert jobs["temporal"]["static_configs"] == [{"targets": [f"temporal:{server_port}"]}]
    worker_port = environment("worker")["ACCORD_METRICS_BIND"].rpartition(":")[2]
    # Every replica of `--scale worker=N`, not whichever one the name resolves to first.
    assert jobs["accord-worker"]["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": int(worker_port)}
    ]
    # Neither metrics port is published: Prometheus reaches them on the compose network.
    for name in ("temporal", "worker"):
        published = [str(p) for p in services()[name].get("ports", [])]
        assert not any(p.endswith((f":{server_port}", f":{worker_port}")) for p in published), name


def test_start_order_has_no_cycle() -> None:
    order: list[str] = []
    pending = dict(DEPENDENCIES)
    while pending:
        ready = sorted(s for s, deps in pending.items() if set(deps) <= set(order))
        assert ready, f"dependency cycle among {sorted(pending)}"
        order += ready
        for s in ready:
            del pending[s]
    # The roots start at once (the codec server, the CLI copy and Prometheus need
    # nothing); the worker comes last.
    roots = {s for s, deps in DEPENDENCIES.items() if not deps}
    assert roots == {"postgres", "codec-server", "temporal-cli", "prometheus"}
    assert set(order[: len(roots)]) == roots and order[-1] == "worker"


def test_mounted_files_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"


def test_search_attributes_are_the_codes() -> None:
    created = set(environment("temporal-setup")["ACCORD_SEARCH_ATTRIBUTES"].split())
    flags = search.dev_server_flags()
    assert created == set(flags[1::2])
    assert {pair.partition("=")[0] for pair in created} == {key.name for key in search.ALL}


def test_compose_server_polls_its_queues_like_the_dev_server() -> None:
    """The compose server's dynamic config carries the dev server's queue poll rates."""
    path = ROOT / "deploy" / "temporal" / "dynamicconfig" / "docker.yaml"
    values = yaml.safe_load(path.read_text())
    for key, value in DEV_SERVER_DYNAMIC_CONFIG.items():
        assert values.get(key) == [{"value": value, "constraints": {}}], key


def test_the_namespace_is_the_workers() -> None:
    assert (
        environment("temporal-setup")["TEMPORAL_NAMESPACE"]
        == (environment("worker")["TEMPORAL_NAMESPACE"])
    )
    assert environment("worker")["TEMPORAL_ADDRESS"] == "${TEMPORAL_ADDRESS:-temporal:7233}"


def test_database_roles() -> None:
    """Migrations run as the schema owner; the worker as a member of accord_app only."""
    init = (ROOT / "deploy" / "postgres" / "init-databases.sh").read_text()
    owner = environment("migrate")["DATABASE_URL"]
    worker = environment("worker")["DATABASE_URL"]
    assert owner.startswith("postgresql://accord_owner:") and owner.endswith(
        "@postgres:5432/accord"
    )
    assert worker.startswith("postgresql://accord_service:") and worker.endswith(
        "@postgres:5432/accord"
    )
    assert "CREATE ROLE accord_owner LOGIN" in init
    assert (
        "CREATE ROLE accord_service LOGIN PASSWORD :'service_password' IN ROLE accord_app" in init
    )
    assert "CREATE DATABASE accord OWNER accord_owner" in init
    assert environment("temporal")["POSTGRES_USER"] == "temporal"
    assert "CREATE ROLE temporal LOGIN CREATEDB" in init


_READS = re.compile(
    r"""os\.(?:environ\.get|getenv)\(\s*["']([A-Z0-9_]+)["']|os\.environ\[\s*["']([A-Z0-9_]+)["']"""
)


def variables_read_by_the_code() -> set[str]:
    # The ACCORD_* settings models name their variables; the rest are read with os.environ.
    names: set[str] = set(variables())
    for folder in ("workers", "store", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in _READS.finditer(path.read_text()):
                names.add(match[1] or match[2])
    return names


def documented_variables() -> set[str]:
    """Variables named in the first cell of a Markdown table row (with their default)."""
    names: set[str] = set()
    for doc in DOCS:
        if doc.exists():
            for line in doc.read_text().splitlines():
                if line.startswith("|"):
                    names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_variable_is_set_or_documented() -> None:
    read = variables_read_by_the_code()
    assert {"TEMPORAL_ADDRESS", "DATABASE_URL", "ACCORD_TASK_QUEUE"} <= read  # the grep works
    missing = read - set(environment("worker")) - documented_variables()
    assert not missing, f"set these for the worker or document their default: {sorted(missing)}"
    # Without these the worker would use localhost and start an embedded PostgreSQL.
    assert {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "DATABASE_URL"} <= set(environment("worker"))


def test_worker_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert "uv sync --locked --no-dev" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert 'CMD ["accord", "worker"]' in dockerfile
    # Secrets stay out of the compose file; the worker starts without them.
    assert services()["worker"]["env_file"] == [{"path": "./deploy/worker.env", "required": False}]
    for name in ACCORD_IMAGE:
        assert services()[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert services()["migrate"]["command"] == ["accord", "db", "migrate"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    # `deploy` holds the secrets: they must never be copied into the image.
    assert {".venv", ".data", ".tools", ".git", "deploy"} <= set(ignored)


def test_encryption_is_on_with_keys_from_secrets() -> None:
    """The worker encrypts (and refuses plaintext) with a ring mounted as a secret; the
    codec server has the same ring; no key or token is ever inline."""
    declared = compose()["secrets"]
    for name, mounted in SECRETS.items():
        assert set(services()[name]["secrets"]) == mounted, name
    for secret in set().union(*SECRETS.values()):
        source = declared[secret]["file"]
        assert source.startswith("./deploy/secrets/"), secret
        assert (
            subprocess.run(  # never committed
                ["git", "check-ignore", "-q", source], cwd=ROOT, check=False
            ).returncode
            == 0
        ), source
    keys_file = "/run/secrets/accord_codec_keys"
    assert environment("worker")["ACCORD_CODEC_KEYS_FILE"] == keys_file
    assert environment("codec-server")["ACCORD_CODEC_KEYS_FILE"] == keys_file
    assert environment("worker")["ACCORD_ACTOR_KEYS_FILE"] == "/run/secrets/accord_actor_keys"
    assert (
        environment("codec-server")["ACCORD_CODEC_SERVER_TOKEN_FILE"]
        == "/run/secrets/accord_codec_server_token"
    )
    for name in services():
        env = environment(name)
        for inline in (
            "ACCORD_CODEC_KEYS",
            "ACCORD_ACTOR_KEYS",
            "ACCORD_CODEC_SERVER_TOKEN",
            "ACCORD_ACTOR_TOKEN",
            "ACCORD_CODEC_ACCEPT_PLAINTEXT",  # plaintext is refused, always, here
            "ACCORD_REQUIRE_ACTOR_TOKEN",
        ):
            assert inline not in env, f"{name}: {inline} must not be set here"


def test_the_ui_decodes_through_the_codec_server() -> None:
    """The browser calls the codec server at its published address, with the cookie of
    its /login; the codec server admits the UI's origin only."""
    ui = environment("temporal-ui")
    ui_port = PUBLISHED["temporal-ui"].split(":")[1]
    codec_port = PUBLISHED["codec-server"].split(":")[1]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{codec_port}"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "false"
    origin = f"http://localhost:{ui_port}"
    assert ui["TEMPORAL_CORS_ORIGINS"] == origin
    command = services()["codec-server"]["command"]
    assert command[:2] == ["accord", "codec-server"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options == {"--host": "0.0.0.0", "--port": codec_port, "--origin": origin}


def test_init_secrets_makes_keys_the_services_accept(tmp_path: Path) -> None:
    """deploy/init-secrets.sh makes rings and a token the code loads, in a private folder,
    and never overwrites them."""
    from cli.codec_server import server_token
    from security.actor_token import actor_keys_from_env
    from security.codec import AesGcmCodec, codec_keys_from_env
    from security.codec_server import CodecServer

    script = tmp_path / "deploy" / "init-secrets.sh"
    script.parent.mkdir()
    script.write_bytes((ROOT / "deploy" / "init-secrets.sh").read_bytes())
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=30)
    secrets = tmp_path / "deploy" / "secrets"
    assert secrets.stat().st_mode & 0o777 == 0o700
    made = {path.name: path.read_bytes() for path in secrets.iterdir()}
    assert set(made) == {"codec-keys", "actor-keys", "codec-server-token"}
    assert made["codec-keys"] != made["actor-keys"]
    codec_keys = codec_keys_from_env({"ACCORD_CODEC_KEYS_FILE": str(secrets / "codec-keys")})
    actor_keys = actor_keys_from_env({"ACCORD_ACTOR_KEYS_FILE": str(secrets / "actor-keys")})
    assert codec_keys is not None and actor_keys is not None
    token = server_token({"ACCORD_CODEC_SERVER_TOKEN_FILE": str(secrets / "codec-server-token")})
    assert token is not None
    CodecServer(AesGcmCodec(codec_keys), token, port=0).stop()  # long enough a token
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=30)
    assert {path.name: path.read_bytes() for path in secrets.iterdir()} == made


def _compose_cli() -> list[str] | None:
    """A compose that reads the current specification (v2+), if installed."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    for cli in candidates:
        if shutil.which(cli[0]) is None:
            continue
        probe = subprocess.run(
            [*cli, "version", "--short"], capture_output=True, text=True, timeout=30
        )
        major = probe.stdout.strip().lstrip("v").split(".")[0]
        if probe.returncode == 0 and major.isdigit() and int(major) >= 2:
            return cli
    return None


def test_docker_compose_config() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no compose v2+ CLI installed (docker compose / docker-compose)")
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
