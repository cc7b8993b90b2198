"""Least privilege on the embedded PostgreSQL (issue 12): its roles, their passwords, the
SCRAM verifiers the server is given instead of the passwords, and the pg_hba.conf rules.

Three roles, as in a deployment: the superuser `postgres` does the set-up only (roles,
pg_hba.conf, databases) and is trusted only on the loopback interface; `accord_owner` owns
the schema and runs the migrations; `accord_service`, a member of `accord_app` and nothing
more, is what the worker and the CLI connect as. The server lifecycle that applies these
is store/embedded.py (`EmbeddedPostgres.setup_roles`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

SUPERUSER = "postgres"
OWNER_ROLE = "accord_owner"
SERVICE_ROLE = "accord_service"
APP_ROLE = "accord_app"
ROLES_FILE = "pg-roles.json"
SETUP_LOCK = 0x4143434F52445355  # "ACCORDSU": one set-up at a time (ALTER ROLE races)

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


def roles_setup_sql(passwords: dict[str, str], database: str) -> str:
    """The superuser's script: the three roles, their passwords (as SCRAM verifiers) and
    rights, and the schema of `database` owned by the owner. Idempotent; run from stdin."""
    owner, service = (
        scram_verifier(passwords[OWNER_ROLE]),
        scram_verifier(passwords[SERVICE_ROLE]),
    )
    fixed = "NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS"
    # CREATEROLE for the owner only because migrations 0001/0002 create accord_app when
    # it is missing, and PostgreSQL checks that right before it sees the role exists.
    return f"""
SELECT pg_advisory_lock({SETUP_LOCK});
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
SELECT pg_advisory_unlock({SETUP_LOCK});
"""


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


def scram_verifier(password: str, iterations: int = 4096) -> str:
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
