"""`accord cluster up|down|status`: Temporal's real server on PostgreSQL, as a cluster.

The production topology on this machine, without Docker: the server, its SQL tool and the
web UI built once from the Go module proxy into `.tools/cluster/`, the `temporal` and
`temporal_visibility` databases on the embedded PostgreSQL (or `DATABASE_URL`'s server),
and one OS process per service: frontend, matching, two history processes sharing
HISTORY_SHARDS shards, the internal worker service, the UI server, the codec server (when
codec keys are configured) and two `accord worker` processes. Everything listens on
127.0.0.1 on free ports, recorded in `.data/cluster/state.json`.

What the compose deployment (docker-compose.yml) also uses comes from the same place: the
dynamic config file (deploy/temporal/dynamicconfig/docker.yaml), the search attributes
(workflows/search.py), the namespace retention and the versions below; tests/cluster
checks that the two agree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import yaml

from cli.ports import bindable, free_port, listening
from security.codec import codec_keys_from_env
from security.keys import local_actor_keys_path, local_data_dir
from store.embedded import project_root
from workflows.search import dev_server_flags

SERVER_VERSION = "1.29.1"  # the version the CLI's dev server (v1.5.1) embeds
UI_VERSION = "2.42.1"
HISTORY_SHARDS = 8
HISTORY_PROCESSES = 2
ACCORD_WORKERS = 2
NAMESPACE = "default"
# Closed workflows' histories; the event store stays the record for ever.
NAMESPACE_RETENTION = "720h"
DYNAMIC_CONFIG = Path("deploy/temporal/dynamicconfig/docker.yaml")
# The compose deployment's Prometheus configuration: the native cluster writes the same
# jobs with its own targets (config/prometheus.yml under the cluster's root).
PROMETHEUS_CONFIG = Path("deploy/prometheus/prometheus.yml")
# The frontend's gRPC health check, as compose's health check of the server runs it.
HEALTH_CHECK = ("operator", "cluster", "health")
TEMPORAL_DATABASE = "temporal"
VISIBILITY_DATABASE = "temporal_visibility"

TOOLS = Path(".tools/cluster")
# (binary, go package): each in its own folder, as the server and the UI are both `server`.
BINARIES: dict[str, tuple[Path, str]] = {
    "server": (TOOLS / "server" / "server", f"go.temporal.io/server/cmd/server@v{SERVER_VERSION}"),
    "sql": (TOOLS / "sql" / "sql", f"go.temporal.io/server/cmd/tools/sql@v{SERVER_VERSION}"),
    "ui": (
        TOOLS / "ui" / "server",
        f"github.com/temporalio/ui-server/v2/cmd/server@v{UI_VERSION}",
    ),
}

# The Temporal service processes: name -> service.
TEMPORAL_SERVICES: dict[str, str] = {
    **{f"history-{i}": "history" for i in range(1, HISTORY_PROCESSES + 1)},
    "matching": "matching",
    "frontend": "frontend",
    "worker": "worker",
}
WORKERS = [f"accord-worker-{i}" for i in range(1, ACCORD_WORKERS + 1)]
# Prometheus job (as in PROMETHEUS_CONFIG) -> the processes it scrapes.
SCRAPE_JOBS: dict[str, list[str]] = {"temporal": list(TEMPORAL_SERVICES), "accord-worker": WORKERS}


class ClusterError(Exception):
    """A set-up step failed: the message names the step and where its log is."""


def binary(name: str) -> Path:
    return project_root() / BINARIES[name][0]


class BuildTooSlow(ClusterError):
    """The build did not finish within its budget (what it compiled stays in Go's cache)."""


def build(log: Any = None, budget: float | None = None) -> dict[str, float]:
    """`go install` each binary that is missing; seconds per binary built (none: {}).
    With a `budget` (seconds for all), a longer build is stopped: BuildTooSlow."""
    built: dict[str, float] = {}
    deadline = None if budget is None else time.monotonic() + budget
    for name, (path, package) in BINARIES.items():
        target = project_root() / path
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _say(log, f"building {package} (once; minutes on a cold Go build cache)")
        started = time.monotonic()
        proc = subprocess.Popen(
            ["go", "install", package],
            env={**os.environ, "GOBIN": str(target.parent)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its compilers with it, if the budget runs out
        )
        try:
            _, stderr = proc.communicate(
                timeout=None if deadline is None else max(1.0, deadline - time.monotonic())
            )
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise BuildTooSlow(
                f"building {package} took more than {budget:.0f} s; run `make cluster` once"
            ) from None
        if proc.returncode != 0:
            raise ClusterError(f"go install {package} failed:\n{stderr[-2000:]}")
        built[name] = round(time.monotonic() - started, 1)
    return built


def server_module_dir() -> Path:
    """The server module in the Go module cache (its schema files)."""
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"go.temporal.io/server@v{SERVER_VERSION}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(done.stdout)["Dir"])


def _say(log: Any, message: str) -> None:
    if log is not None:
        print(message, file=log, flush=True)


# -- ports -----------------------------------------------------------------------------------


def membership_port(taken: set[int]) -> int:
    """A free port below 32768: the cluster_membership table stores it as a smallint, and
    the OS's ephemeral ports (what `free_port` gets) start above that."""
    for _ in range(1000):
        port = random.randint(20000, 32000)
        if port not in taken and bindable(port):
            return port
    raise ClusterError("no free membership port below 32768")


@dataclass
class Ports:
    grpc: int = 0  # Temporal processes only
    membership: int = 0  # Temporal processes only
    http: int = 0  # frontend only
    metrics: int = 0  # Prometheus: every Temporal process and every Accord worker


@dataclass
class State:
    """What `up` started, in `<root>/state.json`: `status` and `down` read it."""

    root: str
    ports: dict[str, Ports] = field(default_factory=dict)
    ui_port: int = 0
    codec_port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    database: dict[str, Any] = field(default_factory=dict)  # host, port, user (no password)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports['frontend'].grpc}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def save(self) -> None:
        path = Path(self.root) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, root: Path) -> State | None:
        path = root / "state.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["ports"] = {k: Ports(**v) for k, v in raw.get("ports", {}).items()}
        return cls(**raw)


def default_root() -> Path:
    return local_data_dir() / "cluster"


# -- processes -------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """Running (a zombie, killed but not yet reaped by its parent, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _ours(pid: int, root: Path) -> bool:
    """The pid still runs a process of this cluster (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return str(root) in cmdline or f"ACCORD_CLUSTER_ROOT={root}" in environ


class NativeCluster:
    """Set up and run the cluster under `root` against the PostgreSQL of `admin_url` (a
    role that may create databases); `worker_database_url` is the Accord workers' store."""

    def __init__(
        self,
        root: Path,
        admin_url: str,
        worker_database_url: str,
        *,
        environ: dict[str, str] | None = None,
        log: Any = None,
    ) -> None:
        self.root = root.resolve()
        self.admin_url = admin_url
        self.worker_database_url = worker_database_url
        self.environ = dict(os.environ if environ is None else environ)
        self.log = log
        self.state = State.load(self.root) or State(root=str(self.root))
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- set-up ---------------------------------------------------------------------------

    def _database(self) -> dict[str, Any]:
        url = urlsplit(self.admin_url)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 5432,
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
        }

    def _sql_tool(self, database: str, *args: str) -> subprocess.CompletedProcess[str]:
        db = self._database()
        return subprocess.run(
            [
                str(binary("sql")),
                "--plugin",
                "postgres12",
                "--endpoint",
                db["host"],
                "--port",
                str(db["port"]),
                "--user",
                db["user"],
                "--database",
                database,
                *args,
            ],
            # The password through the environment, not the command line (ps shows it).
            env={**os.environ, "SQL_PASSWORD": db["password"]},
            capture_output=True,
            text=True,
        )

    def _psql_value(self, database: str, sql: str) -> bool:
        """Whether `sql` returns a row (asyncpg, to avoid a psql dependency on the host)."""
        import asyncio

        import asyncpg

        base = self.admin_url.rpartition("/")[0]

        async def run() -> bool:
            conn = await asyncpg.connect(f"{base}/{database}")
            try:
                return await conn.fetchval(sql) is not None
            finally:
                await conn.close()

        return asyncio.run(run())

    def setup_databases(self) -> list[str]:
        """Create the two databases and bring their schemas up to date; what was done."""
        schema = server_module_dir() / "schema" / "postgresql" / "v12"
        done: list[str] = []
        for database, folder in (
            (TEMPORAL_DATABASE, "temporal"),
            (VISIBILITY_DATABASE, "visibility"),
        ):
            exists = self._psql_value(
                "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"
            )
            if not exists:
                self._check(self._sql_tool(database, "create-database"), f"create {database}")
                done.append(f"created database {database}")
            versioned = self._psql_value(
                database, "SELECT 1 FROM pg_tables WHERE tablename = 'schema_version'"
            )
            if not versioned:
                self._check(self._sql_tool(database, "setup-schema", "-v", "0.0"), database)
                done.append(f"set up the schema of {database}")
            # Applies only the versions not yet applied: a no-op on a second run.
            self._check(
                self._sql_tool(database, "update-schema", "-d", str(schema / folder / "versioned")),
                f"update the schema of {database}",
            )
        return done

    @staticmethod
    def _check(done: subprocess.CompletedProcess[str], step: str) -> None:
        if done.returncode != 0:
            raise ClusterError(f"temporal-sql-tool: {step} failed:\n{done.stderr[-2000:]}")

    def allocate_ports(self) -> None:
        """Free ports for every process; those recorded by an earlier run are kept while
        nobody else holds them, so a restarted cluster keeps its address."""
        previous = self.state.ports
        taken: set[int] = set()
        ports: dict[str, Ports] = {}
        for name in TEMPORAL_SERVICES:
            old = previous.get(name)
            if old and all(bindable(p) for p in (old.grpc, old.membership) if p):
                ports[name] = old
            else:
                ports[name] = Ports(
                    grpc=free_port(),
                    membership=membership_port(taken),
                    http=free_port() if name == "frontend" else 0,
                    metrics=free_port(),
                )
            taken.add(ports[name].membership)
        self.state.ports = ports
        self._worker_ports()
        if not self.state.ui_port or not bindable(self.state.ui_port):
            self.state.ui_port = free_port()
        if not self.state.codec_port or not bindable(self.state.codec_port):
            self.state.codec_port = free_port()

    def _worker_ports(self, *, recheck: bool = True) -> None:
        """A metrics port for each Accord worker (ACCORD_METRICS_BIND); one recorded
        earlier is kept while nobody else holds it (`recheck=False`: while its worker may
        be running, kept as it is)."""
        for name in WORKERS:
            old = self.state.ports.get(name)
            if old is None or not old.metrics or (recheck and not bindable(old.metrics)):
                self.state.ports[name] = Ports(metrics=free_port())

    def metrics_endpoints(self) -> dict[str, str]:
        """Every process's Prometheus endpoint (host:port), by process name."""
        return {
            name: f"127.0.0.1:{ports.metrics}"
            for name, ports in self.state.ports.items()
            if ports.metrics
        }

    def prometheus_config(self) -> dict[str, Any]:
        """The compose deployment's Prometheus configuration with this cluster's targets:
        the same settings and jobs, each process a target labelled with its name."""
        config: dict[str, Any] = yaml.safe_load((project_root() / PROMETHEUS_CONFIG).read_text())
        endpoints = self.metrics_endpoints()
        jobs = []
        for job in config["scrape_configs"]:
            processes = SCRAPE_JOBS[job["job_name"]]
            native = {
                k: v
                for k, v in job.items()
                if k != "static_configs" and not k.endswith("_sd_configs")
            }
            native["static_configs"] = [
                {"targets": [endpoints[name]], "labels": {"process": name}}
                for name in processes
                if name in endpoints
            ]
            jobs.append(native)
        return {**config, "scrape_configs": jobs}

    def server_config(self, name: str) -> dict[str, Any]:
        """The server's configuration for process `name` (from the server's own
        config/development-postgres12.yaml): the same for every process but its own
        service's ports and its own metrics port."""
        db = self._database()

        def store(database: str, conns: int) -> dict[str, Any]:
            return {
                "sql": {
                    "pluginName": "postgres12",
                    "databaseName": database,
                    "connectAddr": f"{db['host']}:{db['port']}",
                    "connectProtocol": "tcp",
                    "user": db["user"],
                    "password": db["password"],
                    "maxConns": conns,
                    "maxIdleConns": conns,
                    "maxConnLifetime": "1h",
                }
            }

        services: dict[str, Any] = {}
        for other, service in TEMPORAL_SERVICES.items():
            if service in services and other != name:
                continue  # the other history process: this one's ports win
            p = self.state.ports[other]
            rpc: dict[str, Any] = {
                "grpcPort": p.grpc,
                "membershipPort": p.membership,
                "bindOnLocalHost": True,
            }
            if p.http:
                rpc["httpPort"] = p.http
            services[service] = {"rpc": rpc}
        return {
            "log": {"stdout": True, "level": "warn"},
            "persistence": {
                "defaultStore": "postgres-default",
                "visibilityStore": "postgres-visibility",
                "numHistoryShards": HISTORY_SHARDS,
                "datastores": {
                    "postgres-default": store(TEMPORAL_DATABASE, 20),
                    "postgres-visibility": store(VISIBILITY_DATABASE, 5),
                },
            },
            "global": {
                "membership": {"maxJoinDuration": "30s", "broadcastAddress": "127.0.0.1"},
                "metrics": {
                    "prometheus": {
                        "framework": "tally",
                        "timerType": "histogram",
                        "listenAddress": f"127.0.0.1:{self.state.ports[name].metrics}",
                    }
                },
            },
            "services": services,
            "clusterMetadata": {
                "enableGlobalNamespace": False,
                "failoverVersionIncrement": 10,
                "masterClusterName": "active",
                "currentClusterName": "active",
                "clusterInformation": {
                    "active": {
                        "enabled": True,
                        "initialFailoverVersion": 1,
                        "rpcName": "frontend",
                        "rpcAddress": self.state.address,
                    }
                },
            },
            "dcRedirectionPolicy": {"policy": "noop"},
            "publicClient": {"hostPort": self.state.address},
            "dynamicConfigClient": {
                "filepath": str(project_root() / DYNAMIC_CONFIG),
                "pollInterval": "10s",
            },
        }

    def ui_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "temporalGrpcAddress": self.state.address,
            "host": "127.0.0.1",
            "port": self.state.ui_port,
            "enableUi": True,
            "defaultNamespace": NAMESPACE,
            "cors": {"allowOrigins": [self.state.ui_url]},
            "auth": {"enabled": False},
        }
        if self.codec_enabled:
            # The browser calls the codec server and sends its sign-in cookie (compose's
            # TEMPORAL_CODEC_* settings).
            config["codec"] = {
                "endpoint": f"http://127.0.0.1:{self.state.codec_port}",
                "passAccessToken": False,
                "includeCredentials": True,
            }
        return config

    @property
    def codec_enabled(self) -> bool:
        """The codec server runs (and the UI decodes through it) when payload keys and the
        codec server's token are configured, as `accord codec-server` requires."""
        token = self.environ.get("ACCORD_CODEC_SERVER_TOKEN") or self.environ.get(
            "ACCORD_CODEC_SERVER_TOKEN_FILE"
        )
        return bool(token) and codec_keys_from_env(self.environ) is not None

    def write_configs(self) -> None:
        for name in TEMPORAL_SERVICES:
            self._write_yaml(Path("config") / name / "development.yaml", self.server_config(name))
        self._write_yaml(Path("config") / "ui" / "development.yaml", self.ui_config())
        self._write_yaml(Path("config") / "prometheus.yml", self.prometheus_config())

    def _write_yaml(self, relative: Path, data: dict[str, Any]) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # It holds the database password: readable by its owner only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(data, out, sort_keys=False)

    # -- processes --------------------------------------------------------------------------

    def command(self, name: str) -> list[str]:
        if name in TEMPORAL_SERVICES:
            return [
                str(binary("server")),
                "--root",
                str(self.root),
                "--config",
                f"config/{name}",
                "--env",
                "development",
                "--allow-no-auth",
                "start",
                "--service",
                TEMPORAL_SERVICES[name],
            ]
        if name == "ui":
            return [
                str(binary("ui")),
                "--root",
                str(self.root),
                "--config",
                "config/ui",
                "--env",
                "development",
                "start",
            ]
        accord = str(project_root() / ".venv" / "bin" / "accord")
        if name == "codec-server":
            return [
                accord,
                "codec-server",
                "--port",
                str(self.state.codec_port),
                "--origin",
                self.state.ui_url,
            ]
        return [accord, "worker"]

    def process_env(self, name: str) -> dict[str, str]:
        env = {**self.environ, "ACCORD_CLUSTER_ROOT": str(self.root)}
        if name.startswith("accord-worker"):
            env |= {
                "TEMPORAL_ADDRESS": self.state.address,
                "TEMPORAL_NAMESPACE": NAMESPACE,
                "DATABASE_URL": self.worker_database_url,
                "ACCORD_LOG_LEVEL": env.get("ACCORD_LOG_LEVEL", "WARNING"),
                # The SDK's and Accord's metrics (workers/metrics.py), on loopback.
                "ACCORD_METRICS_BIND": self.metrics_endpoints()[name],
            }
            # A worker of a configured cluster needs its actor keys named: the local ring
            # unless the environment names others (workers/config.py).
            if not (env.get("ACCORD_ACTOR_KEYS") or env.get("ACCORD_ACTOR_KEYS_FILE")):
                env["ACCORD_ACTOR_KEYS_FILE"] = str(local_actor_keys_path(env))
        return env

    def names(self) -> list[str]:
        extra = ["ui"] + (["codec-server"] if self.codec_enabled else [])
        return [*TEMPORAL_SERVICES, *extra, *WORKERS]

    def spawn(self, name: str) -> int:
        """Start process `name` (unless it runs); its pid."""
        pid = self.state.pids.get(name)
        if pid and _alive(pid) and _ours(pid, self.root):
            return pid
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                self.command(name),
                env=self.process_env(name),
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives `accord cluster up`; not in its group
            )
        self._procs[name] = proc
        self.state.pids[name] = proc.pid
        self.state.save()
        return proc.pid

    def wait_listening(self, name: str, timeout: float) -> None:
        """Until process `name` listens on its membership port (every service has one; the
        internal worker service has no gRPC server); started once more if it exited."""
        port = self.state.ports[name].membership
        deadline = time.monotonic() + timeout
        restarted = False
        while not listening(port, timeout=0.5):
            if not _alive(self.state.pids[name]):
                if restarted:
                    raise ClusterError(f"{name} exited at start; see {self.log_path(name)}")
                restarted = True
                self._reap(name, 1.0)
                self.spawn(name)
            if time.monotonic() > deadline:
                raise ClusterError(f"{name} did not listen on {port}; see {self.log_path(name)}")
            time.sleep(0.2)

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def kill(self, name: str) -> None:
        """SIGKILL process `name` (the fault tests)."""
        pid = self.state.pids[name]
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._reap(name, 10.0)

    def _reap(self, name: str, timeout: float) -> None:
        proc = self._procs.pop(name, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
            return
        pid = self.state.pids.get(name, 0)
        deadline = time.monotonic() + timeout
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def temporal(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        from cli.devserver import temporal_binary

        return subprocess.run(
            [temporal_binary(), *args, "--address", self.state.address],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
        )

    def _retry(self, step: str, timeout: float, *args: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                done = self.temporal(*args)
                if done.returncode == 0:
                    return done.stdout
                error = done.stderr.strip()
            except subprocess.TimeoutExpired:
                error = "timed out"
            if time.monotonic() > deadline:
                raise ClusterError(f"{step}: {error[-1000:]} (logs in {self.root / 'logs'})")
            time.sleep(1.0)

    def healthy(self) -> bool:
        try:
            done = self.temporal(*HEALTH_CHECK, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0 and "SERVING" in done.stdout

    def setup_namespace(self, timeout: float = 180.0) -> list[str]:
        """The namespace and Accord's search attributes, if missing (setup-namespace.sh)."""
        done: list[str] = []
        describe = self.temporal("operator", "namespace", "describe", "--namespace", NAMESPACE)
        if describe.returncode != 0:
            self._retry(
                f"create namespace {NAMESPACE}",
                timeout,
                "operator",
                "namespace",
                "create",
                "--namespace",
                NAMESPACE,
                "--retention",
                NAMESPACE_RETENTION,
                "--description",
                "Accord cooperation processes",
            )
            done.append(f"created namespace {NAMESPACE}")
        listed = self._retry(
            "list search attributes",
            timeout,
            "operator",
            "search-attribute",
            "list",
            "--namespace",
            NAMESPACE,
            "--output",
            "json",
        )
        existing = _attribute_names(json.loads(listed or "{}"))
        for pair in search_attributes():
            name, _, kind = pair.partition("=")
            if name in existing:
                continue
            self._retry(
                f"create search attribute {name}",
                timeout,
                "operator",
                "search-attribute",
                "create",
                "--namespace",
                NAMESPACE,
                "--name",
                name,
                "--type",
                kind,
            )
            done.append(f"created search attribute {name}")
        return done

    def up(self, timeout: float = 240.0) -> dict[str, Any]:
        """Everything, in order; idempotent (what runs is left running, what exists is
        reused). Returns timings and what was done."""
        report: dict[str, Any] = {}
        started = time.monotonic()
        report["built"] = build(self.log)
        self.root.mkdir(parents=True, exist_ok=True)
        running = {n for n, pid in self.state.pids.items() if _alive(pid) and _ours(pid, self.root)}
        if not running:
            self.allocate_ports()
        else:
            self._worker_ports(recheck=False)  # one started before workers had metrics
        db = self._database()
        self.state.database = {k: db[k] for k in ("host", "port", "user")}
        self.state.save()
        t = time.monotonic()
        _say(self.log, "setting up the Temporal databases")
        try:
            report["databases"] = self.setup_databases()
        except (OSError, asyncpg.PostgresError) as err:
            where = f"{db['host']}:{db['port']} as {db['user']}"  # never the password
            raise ClusterError(f"Temporal databases on {where}: {err}") from None
        report["databases_seconds"] = round(time.monotonic() - t, 1)
        self.write_configs()
        t = time.monotonic()
        _say(self.log, "starting the Temporal services")
        first, *others = TEMPORAL_SERVICES
        # One process first: each writes the cluster metadata at start, and processes
        # starting together conflict on its version (one of them exits).
        self.spawn(first)
        self.wait_listening(first, timeout)
        for name in others:
            self.spawn(name)
        for name in TEMPORAL_SERVICES:
            self.wait_listening(name, timeout)
        self._retry("cluster health", timeout, *HEALTH_CHECK)
        report["temporal_start_seconds"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        report["namespace"] = self.setup_namespace()
        report["namespace_seconds"] = round(time.monotonic() - t, 1)
        for name in self.names():
            if name not in TEMPORAL_SERVICES:
                self.spawn(name)
        report["up_seconds"] = round(time.monotonic() - started, 1)
        return report

    def status(self) -> dict[str, Any]:
        processes = {
            name: {
                "pid": self.state.pids.get(name),
                "alive": bool(
                    self.state.pids.get(name)
                    and _alive(self.state.pids[name])
                    and _ours(self.state.pids[name], self.root)
                ),
            }
            for name in self.names()
        }
        serving = bool(self.state.ports) and self.healthy()
        return {
            "healthy": serving and all(p["alive"] for p in processes.values()),
            "frontend": self.state.address if self.state.ports else None,
            "cluster_health": "SERVING" if serving else "NOT_SERVING",
            "ui": self.state.ui_url if self.state.ui_port else None,
            "codec_server": f"http://127.0.0.1:{self.state.codec_port}"
            if self.codec_enabled
            else None,
            "namespace": NAMESPACE,
            "history_shards": HISTORY_SHARDS,
            # Every Temporal process's and every Accord worker's Prometheus endpoint, and
            # a Prometheus configuration that scrapes them all.
            "metrics": {n: f"http://{a}/metrics" for n, a in self.metrics_endpoints().items()},
            "prometheus_config": str(self.root / "config" / "prometheus.yml")
            if self.state.ports
            else None,
            "processes": processes,
        }

    def down(self, grace: float = 15.0) -> list[str]:
        """SIGTERM every recorded process of this cluster, SIGKILL after `grace`."""
        stopped = []
        for name, pid in list(self.state.pids.items()):
            if _alive(pid) and _ours(pid, self.root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                stopped.append(name)
        deadline = time.monotonic() + grace
        for name in stopped:
            self._reap(name, max(0.1, deadline - time.monotonic()))
            pid = self.state.pids[name]
            if _alive(pid) and _ours(pid, self.root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._reap(name, 5.0)
        self.state.pids = {}
        if self.root.exists():
            self.state.save()
        return stopped


def _attribute_names(listed: Any) -> set[str]:
    """Names in `temporal operator search-attribute list -o json`: a mapping of
    {"customAttributes": {name: type}, "systemAttributes": ...}, or a list of rows."""
    if isinstance(listed, dict):
        names: set[str] = set()
        for value in listed.values():
            names |= set(value) if isinstance(value, dict) else set()
        return names
    return {str(row.get("name")) for row in listed if isinstance(row, dict)}


def search_attributes() -> list[str]:
    """NAME=TYPE of every attribute of workflows/search.py (ALL)."""
    flags = dev_server_flags()
    return flags[1::2]


# -- the command ------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("cluster", help="Temporal's real server on PostgreSQL, as a local cluster")
    cmds = p.add_subparsers(dest="cluster_cmd", required=True)
    cmds.add_parser("up", help="build (once), set up and start every process")
    cmds.add_parser("down", help="stop every process of the cluster")
    cmds.add_parser("status", help="each process and the frontend's health")
    for name in ("up", "down", "status"):
        cmds.choices[name].add_argument("--json", action="store_true", help="one JSON object")


def _open(log: Any) -> NativeCluster:
    from store.embedded import admin_url, database_url

    return NativeCluster(default_root(), admin_url(), database_url(), log=log)


def run(args: argparse.Namespace) -> int:
    as_json = bool(getattr(args, "json", False))
    log = None if as_json else sys.stderr
    try:
        if args.cluster_cmd == "down":
            cluster = NativeCluster(default_root(), "", "", log=log)
            stopped = cluster.down()
            _print(as_json, {"stopped": stopped}, f"stopped: {', '.join(stopped) or 'nothing'}")
            return 0
        if args.cluster_cmd == "status":
            cluster = NativeCluster(default_root(), "", "", log=log)
            status = cluster.status()
            if not cluster.state.ports:
                _print(as_json, status, "no cluster here: start it with `accord cluster up`")
                return 1
            lines = [f"cluster: {'healthy' if status['healthy'] else 'NOT healthy'}"]
            lines.append(f"frontend {status['frontend']}: {status['cluster_health']}")
            for name, p in status["processes"].items():
                metrics = status["metrics"].get(name)
                lines.append(
                    f"  {name:16} pid {p['pid'] or '-':>7}  {'up' if p['alive'] else 'DOWN':4}"
                    + (f"  metrics {metrics}" if metrics else "")
                )
            lines.append(f"UI: {status['ui']}")
            lines.append(f"Prometheus configuration: {status['prometheus_config']}")
            _print(as_json, status, "\n".join(lines))
            return 0 if status["healthy"] else 1
        cluster = _open(log)
        report = cluster.up()
        status = cluster.status()
        report |= {"frontend": cluster.state.address, "ui": cluster.state.ui_url}
        text = (
            f"cluster up in {report['up_seconds']} s: frontend {cluster.state.address},"
            f" UI {cluster.state.ui_url}\n"
            f"  export TEMPORAL_ADDRESS={cluster.state.address}"
            f" ACCORD_ACTOR_KEYS_FILE={local_actor_keys_path()}"
        )
        _print(as_json, {**report, "status": status}, text)
        return 0
    except (ClusterError, OSError, subprocess.CalledProcessError, asyncpg.PostgresError) as err:
        # A role that may not create databases, a server that is not there, no `go`.
        message = str(err).strip().splitlines()
        _print(as_json, {"ok": False, "code": "cluster", "message": str(err)}, "")
        if not as_json:
            print(f"accord cluster: {message[0] if message else err}", file=sys.stderr)
            for line in message[1:]:
                print(f"  {line}", file=sys.stderr)
        return 1


def _print(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        print(json.dumps(data, default=str))
    elif text:
        print(text)
