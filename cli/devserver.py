"""The embedded Temporal dev server: the official `temporal` CLI built into `.tools/bin`.

State persists in `.data/temporal.db`, so processes survive restarts, and the web UI
listens on port 8233. The custom search attributes are registered at every start. With
codec keys configured (`ACCORD_CODEC_KEYS`), the UI is pointed at the codec server
(`accord codec-server`, `--ui-codec-endpoint`); a server already running keeps its flags.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cli.ports import listening
from security.codec_server import ui_codec_endpoint
from store.embedded import project_root
from workflows.search import dev_server_flags

DEFAULT_PORT = 7233
DEFAULT_UI_PORT = 8233


def temporal_binary() -> str:
    """`ACCORD_TEMPORAL_BIN`, else `.tools/bin/temporal` (built by make), else PATH."""
    explicit = os.environ.get("ACCORD_TEMPORAL_BIN")
    if explicit:
        return explicit
    built = project_root() / ".tools" / "bin" / "temporal"
    if built.exists():
        return str(built)
    found = shutil.which("temporal")
    if found:
        return found
    raise FileNotFoundError(
        "no temporal binary: run `make setup` (builds .tools/bin/temporal)"
        " or set ACCORD_TEMPORAL_BIN"
    )


# The dev server runs one history shard, and each of a shard's internal task queues is read
# at most `history.*ProcessorMaxPollRPS` times a second (20 by default; clusters spread that
# over hundreds of shards). One Accord command needs two transfer-queue reads (the activity
# task, then the workflow task after it), so back-to-back commands settled at ~10 a second,
# ~100 ms each, instead of ~25 ms (`python -m bench.temporal_floor --untuned`). 100 reads a
# second removes that wait; 1,000 cost the saturated server ~4 ms more CPU per command (fewer
# tasks per read) and lowered throughput at 20 commands in flight (BENCHMARKS.md).
DEV_SERVER_DYNAMIC_CONFIG: dict[str, int] = {
    f"history.{queue}ProcessorMaxPollRPS": 100
    for queue in ("transfer", "timer", "visibility", "outbound")
}


def dev_server_tuning_flags() -> list[str]:
    """`temporal server start-dev` flags for the settings above."""
    flags: list[str] = []
    for key, value in DEV_SERVER_DYNAMIC_CONFIG.items():
        flags += ["--dynamic-config-value", f"{key}={value}"]
    return flags


def add_dev_server_arguments(parser: argparse.ArgumentParser) -> None:
    """`--temporal-arg` and `--untuned`, for the benchmarks that start their own dev server."""
    parser.add_argument(
        "--temporal-arg", action="append", default=[], help="extra dev server argument"
    )
    parser.add_argument(
        "--untuned",
        action="store_true",
        help="the dev server without Accord's settings (cli.devserver.DEV_SERVER_DYNAMIC_CONFIG)",
    )


def ui_codec_flags() -> list[str]:
    """With codec keys configured, the UI decodes through `accord codec-server`."""
    endpoint = ui_codec_endpoint()
    return ["--ui-codec-endpoint", endpoint] if endpoint else []


@dataclass(frozen=True)
class DevServerCommand:
    """The one `temporal server start-dev` command line Accord runs, whoever starts it: the
    embedded server of `accord`/`make run` (`DevServer`, with UI, on a SQLite file), the
    test suite's and the benchmarks' throwaway servers (`DevServerProcess`, headless, in
    memory or on a file). Every one registers Accord's search attributes and, unless
    `tuned` is off, carries the settings of `DEV_SERVER_DYNAMIC_CONFIG`."""

    port: int
    ui_port: int | None = None  # None: headless, no web UI
    db_file: Path | None = None  # None: in memory, gone when the server stops
    log_level: str = "warn"
    namespace: str = "default"
    tuned: bool = True
    extra_args: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        args = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1"]
        args += ["--port", str(self.port), "--namespace", self.namespace]
        if self.db_file is not None:
            args += ["--db-filename", str(self.db_file)]
        if self.ui_port is None:
            args.append("--headless")
        else:
            # The codec endpoint only matters to the UI.
            args += ["--ui-port", str(self.ui_port), *ui_codec_flags()]
        args += ["--log-level", self.log_level, *dev_server_flags()]
        if self.tuned:
            args += dev_server_tuning_flags()
        return [*args, *self.extra_args]


def _await_listening(
    proc: subprocess.Popen[bytes], command: DevServerCommand, timeout: float, log: Path
) -> None:
    """Until the server serves: its port accepts connections and its frontend says it is
    healthy (`temporal operator cluster health`); an error if it exits or takes too long.

    A listening port is not enough: under load the frontend answers "Frontend is not
    healthy yet" for a while after it binds, and a client connecting then fails."""
    deadline = time.monotonic() + timeout
    while not (listening(command.port) and _healthy(command)):
        if proc.poll() is not None:
            raise RuntimeError(f"temporal dev server exited ({proc.returncode}); see {log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"temporal dev server did not become ready on {command.address}")
        time.sleep(0.1)


def _healthy(command: DevServerCommand) -> bool:
    check = [
        *(temporal_binary(), "operator", "cluster", "health", "--address", command.address),
        *("--disable-config-file", "--disable-config-env"),
    ]
    # The local server, whatever client settings (TLS, API key, a profile in the config
    # file) the caller has.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    try:
        done = subprocess.run(check, capture_output=True, timeout=10, check=False, env=env)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


class DevServerProcess:
    """A dev server owned by this process (the test suite's, a benchmark's): started as a
    child, its log `temporal.log` in `data_dir`, terminated by `stop`."""

    def __init__(self, command: DevServerCommand, data_dir: Path) -> None:
        self.command = command
        self.data_dir = data_dir
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.command.address

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "temporal.log"
        with log.open("ab") as out:
            self._proc = subprocess.Popen(
                self.command.argv(), stdout=out, stderr=out, start_new_session=True
            )
        try:
            _await_listening(self._proc, self.command, timeout, log)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 20.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@dataclass(frozen=True)
class DevServer:
    """The embedded dev server of `accord` and `make run`: detached (it outlives the
    command that started it), found again through its port and its pid file."""

    data_dir: Path
    port: int = DEFAULT_PORT
    ui_port: int = DEFAULT_UI_PORT

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def _pidfile(self) -> Path:
        return self.data_dir / "temporal.pid"

    def running(self) -> bool:
        return listening(self.port)

    def start(self, timeout: float = 60.0, extra_args: tuple[str, ...] = ()) -> bool:
        """Start in the background unless already listening; True if this call started it."""
        if self.running():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = DevServerCommand(
            port=self.port,
            ui_port=self.ui_port,
            db_file=self.data_dir / "temporal.db",
            extra_args=extra_args,
        )
        log_path = self.data_dir / "temporal.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(command.argv(), stdout=log, stderr=log, start_new_session=True)
        self._pidfile.write_text(str(proc.pid))
        _await_listening(proc, command, timeout, log_path)
        return True

    def stop(self, timeout: float = 20.0) -> None:
        if not self._pidfile.exists():
            return
        pid = int(self._pidfile.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            self._pidfile.unlink(missing_ok=True)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _exited(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            _exited(pid)
        self._pidfile.unlink(missing_ok=True)


@dataclass(frozen=True)
class BackgroundWorker:
    """`accord worker` beside the embedded dev server, so that the UI's current details and
    the `status` query answer after `make run`; stopped with the server."""

    data_dir: Path
    address: str

    @property
    def _pidfile(self) -> Path:
        return self.data_dir / "worker.pid"

    def running(self) -> bool:
        if not self._pidfile.exists():
            return False
        return not _exited(int(self._pidfile.read_text()))

    def start(self) -> bool:
        """Start unless one runs; True if this call started it."""
        if self.running():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "worker.log").open("ab")
        env = {**os.environ, "TEMPORAL_ADDRESS": self.address}
        if not (env.get("ACCORD_ACTOR_KEYS") or env.get("ACCORD_ACTOR_KEYS_FILE")):
            # With TEMPORAL_ADDRESS set a worker never creates a key ring of its own: give
            # it this machine's ring, the one the CLI mints with (created on first use).
            from security.actor_token import actor_keys_for_host
            from security.keys import local_actor_keys_path

            actor_keys_for_host()
            env["ACCORD_ACTOR_KEYS_FILE"] = str(local_actor_keys_path())
        proc = subprocess.Popen(
            [str(project_root() / ".venv" / "bin" / "accord"), "worker"],
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
        self._pidfile.write_text(str(proc.pid))
        return True

    def stop(self, timeout: float = 20.0) -> None:
        if not self._pidfile.exists():
            return
        pid = int(self._pidfile.read_text())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # finishes in-flight tasks, then exits
            deadline = time.monotonic() + timeout
            while not _exited(pid):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    break
                time.sleep(0.1)
        self._pidfile.unlink(missing_ok=True)


def background_worker(server: DevServer) -> BackgroundWorker:
    return BackgroundWorker(data_dir=server.data_dir, address=server.address)


def _exited(pid: int) -> bool:
    """Whether the process is gone; reaps it when it is our own child (else a zombie
    would look alive to `kill(pid, 0)` until this process exits)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return True
    except ChildProcessError:
        pass  # started by another process: only its existence can be checked
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def embedded_dev_server() -> DevServer:
    data = Path(os.environ.get("ACCORD_DATA_DIR", project_root() / ".data"))
    return DevServer(
        data_dir=data,
        port=int(os.environ.get("ACCORD_TEMPORAL_PORT", DEFAULT_PORT)),
        ui_port=int(os.environ.get("ACCORD_TEMPORAL_UI_PORT", DEFAULT_UI_PORT)),
    )
