"""A throwaway Accord deployment for fault tests: its own PostgreSQL, its own Temporal dev
server and a worker running as a separate OS process, each of which the test may kill or
restart while clients keep working.

Everything lives under a fresh directory in /tmp (not pytest's tmp_path: when we run as
root the embedded PostgreSQL runs as an unprivileged user that needs to traverse the path,
and pytest resets the permissions of its own base directory at every session start).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from cli.devserver import DevServer
from cli.ports import free_port
from store.embedded import EmbeddedPostgres, project_root


@dataclass
class WorkerProcess:
    """`accord worker` as a child OS process, configured only through its environment."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0  # SIGKILLs sent by the test
    starts: int = 0
    crashes: int = 0  # exits the test did not cause (restarted by `ensure_running`)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(project_root() / ".venv" / "bin" / "accord"), "worker"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight tasks and activities are simply lost."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills += 1

    def ensure_running(self) -> bool:
        """Restart the worker if it exited on its own (like a process supervisor would)."""
        if self.proc is not None and self.proc.poll() is not None:
            self.crashes += 1
            self.start()
            return True
        return False

    def stop(self, grace: float = 20.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Cluster:
    """PostgreSQL + Temporal dev server + one worker process, all dedicated to one test."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="accord-faults-", dir="/tmp"))
        self.postgres = EmbeddedPostgres(data_dir=self.root / "pg", port=free_port())
        self.temporal = DevServer(
            data_dir=self.root / "temporal", port=free_port(), ui_port=free_port()
        )
        self.task_queue = "accord-faults"
        self.database_url = ""
        self.worker: WorkerProcess | None = None
        self.postgres_restarts = 0
        self.temporal_restarts = 0
        # Restarts run in threads; closing waits for one in progress and stops later ones,
        # so a failed test never leaves a server started after the teardown behind.
        self._lifecycle = threading.Lock()
        self._closed = False

    def __enter__(self) -> Self:
        try:
            self.database_url = self.postgres.start()
            self.temporal.start(timeout=120)
            env = {
                **os.environ,
                "TEMPORAL_ADDRESS": self.temporal.address,
                "ACCORD_TASK_QUEUE": self.task_queue,
                "DATABASE_URL": self.database_url,
                "ACCORD_LOG_LEVEL": "WARNING",
            }
            self.worker = WorkerProcess(env=env, log_path=self.root / "worker.log")
            self.worker.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Tear down fast: every state here is thrown away, nothing needs a clean stop."""
        with self._lifecycle:
            self._closed = True
            self._close()

    def _close(self) -> None:
        if self.worker is not None:
            self.worker.stop(grace=2.0)
        pidfile = self.temporal.data_dir / "temporal.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            pidfile.unlink(missing_ok=True)
        self.postgres.stop(mode="immediate")
        if not os.environ.get("ACCORD_FAULTS_KEEP"):  # set it to inspect the logs afterwards
            shutil.rmtree(self.root, ignore_errors=True)

    def restart_postgres(self, down_for: float) -> None:
        """A fast shutdown (every connection is cut), a real outage, then the same data."""
        with self._lifecycle:
            if self._closed:
                return
            self.postgres.stop()
            # The outage must outlast the activity's first retries, so the worker really
            # works against a database that is gone rather than one that blinked.
            time.sleep(down_for)
            self.postgres.start()
            self.postgres_restarts += 1

    def restart_temporal(self) -> None:
        """SIGTERM the dev server and start it again on its persisted state file."""
        with self._lifecycle:
            if self._closed:
                return
            self.temporal.stop()
            self.temporal.start(timeout=120)
            self.temporal_restarts += 1
