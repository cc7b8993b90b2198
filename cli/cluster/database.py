"""Temporal's two databases (`temporal`, `temporal_visibility`) created and their schemas
brought up to date with the server's own SQL tool."""

from __future__ import annotations

import os
import subprocess

import asyncpg

from cli.cluster.build import binary, server_module_dir
from cli.cluster.settings import TEMPORAL_DATABASE, VISIBILITY_DATABASE, ClusterError
from cli.cluster.state import ClusterBase


class DatabaseSetup(ClusterBase):
    """Temporal's persistence on the cluster's PostgreSQL."""

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
