"""The read-only login for feed consumers, and which database URL the feed server uses.

`accord_reader` (NOLOGIN, migration 0007) may read the feed and nothing else. On the
embedded default (`DATABASE_URL` unset) the login `accord_feed`, a member of it and nothing
more, is made at start-up like the service role (store/embedded.py): a SCRAM password
generated on first use and kept in `.data/pg-reader.json` (mode 0600, never printed), the
server only ever sent its verifier. On a server of your own, create a login role in
`accord_reader` (README, "The HTTP feed") and give its URL as `ACCORD_FEED_DATABASE_URL`.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from store.embedded import (
    _SETUP_LOCK,
    DEFAULT_DATABASE,
    EmbeddedPostgres,
    _scram_verifier,
    embedded,
    role_passwords,
)

READER_ROLE = "accord_reader"
READER_LOGIN = "accord_feed"
READER_FILE = "pg-reader.json"


def reader_password_file(server: EmbeddedPostgres) -> Path:
    return server.data_dir.parent / READER_FILE


def reader_password(server: EmbeddedPostgres) -> str:
    """`accord_feed`'s password: generated on first use, kept with mode 0600."""
    return role_passwords(reader_password_file(server), (READER_LOGIN,))[READER_LOGIN]


def setup_reader(server: EmbeddedPostgres, database: str = DEFAULT_DATABASE) -> None:
    """As the set-up superuser: the login `accord_feed`, a member of `accord_reader` (made
    by migration 0007, so run this after migrating) and nothing more. Idempotent."""
    verifier = _scram_verifier(reader_password(server))
    # INHERIT: the login's rights are exactly its membership's, with no SET ROLE needed.
    fixed = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
    server.psql_script(
        f"""
SELECT pg_advisory_lock({_SETUP_LOCK});
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER_LOGIN}') THEN
        CREATE ROLE {READER_LOGIN};
    END IF;
END
$$;
ALTER ROLE {READER_LOGIN} WITH LOGIN {fixed} PASSWORD '{verifier}';
GRANT {READER_ROLE} TO {READER_LOGIN};
GRANT CONNECT ON DATABASE "{database}" TO {READER_LOGIN};
SELECT pg_advisory_unlock({_SETUP_LOCK});
""",
        database,
    )


def reader_url(server: EmbeddedPostgres, database: str = DEFAULT_DATABASE) -> str:
    password = quote(reader_password(server), safe="")
    return f"postgresql://{READER_LOGIN}:{password}@127.0.0.1:{server.port}/{database}"


def feed_database_url() -> tuple[str, bool]:
    """The feed server's database and whether it is known to be the read-only login.

    `ACCORD_FEED_DATABASE_URL` (a member of accord_reader) first; else `DATABASE_URL`
    (the service role, which may append: the caller warns); else the embedded server,
    started, migrated and set up, as `accord_feed`.
    """
    url = os.environ.get("ACCORD_FEED_DATABASE_URL")
    if url:
        return url, True
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, False
    server = embedded()
    server.start()
    server.migrate()
    setup_reader(server)
    return reader_url(server), True
