"""Versioned SQL migrations (`store/migrations/NNNN_name.sql`), applied once each, in order.

Concurrent starters are safe: the runner holds a session advisory lock while applying, and
each file runs in its own transaction together with its `schema_migrations` row. A fully
migrated database is recognised without the lock or any DDL right, so the application role
can start with `migrate=True`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from store.errors import StoreError

_MIGRATION_LOCK = 0x4143434F52444D49  # "ACCORDMI": a bigint key of our own
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_APPLIED_SQL = """
SELECT version, checksum FROM accord.schema_migrations ORDER BY version
"""

_BOOKKEEPING_SQL = """
CREATE SCHEMA IF NOT EXISTS accord;
CREATE TABLE IF NOT EXISTS accord.schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    bytea       NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> bytes:
        return hashlib.sha256(self.sql.encode()).digest()


def migrations() -> list[Migration]:
    found = []
    for entry in resources.files("store.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations must be numbered 1..n without gaps: {found}")
    return found


async def migrate(conn_or_url: asyncpg.Connection | str) -> list[int]:
    """Bring the `accord` schema up to date; returns the versions applied by this call."""
    if isinstance(conn_or_url, str):
        conn = await asyncpg.connect(conn_or_url)
        try:
            return await _migrate(conn)
        finally:
            await conn.close()
    return await _migrate(conn_or_url)


async def _migrate(conn: asyncpg.Connection) -> list[int]:
    wanted = migrations()
    pending = _pending(wanted, await _applied(conn))
    if pending == []:
        return []
    try:
        return await _apply(conn, wanted)
    except asyncpg.InsufficientPrivilegeError:
        # The service role (accord_service) may not change the schema: say what to do.
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        raise StoreError(
            f"migrations pending ({names}) and this role may not apply them: run "
            "`accord db migrate` as the schema owner (accord_owner)"
        ) from None


async def _apply(conn: asyncpg.Connection, wanted: list[Migration]) -> list[int]:
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(_BOOKKEEPING_SQL)
        done: list[int] = []
        for migration in _pending(wanted, await _applied(conn)):
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO accord.schema_migrations (version, name, checksum) "
                    "VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)


async def _applied(conn: asyncpg.Connection) -> dict[int, bytes] | None:
    exists = await conn.fetchval("SELECT to_regclass('accord.schema_migrations') IS NOT NULL")
    if not exists:
        return None
    return {row["version"]: row["checksum"] for row in await conn.fetch(_APPLIED_SQL)}


def _pending(wanted: list[Migration], applied: dict[int, bytes] | None) -> list[Migration]:
    if applied is None:
        return wanted
    for migration in wanted:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise StoreError(
                f"migration {migration.version:04d}_{migration.name} was edited after being "
                "applied: add a new migration instead"
            )
    unknown = set(applied) - {m.version for m in wanted}
    if unknown:
        raise StoreError(f"database has migrations this code does not know: {sorted(unknown)}")
    return [m for m in wanted if m.version not in applied]
