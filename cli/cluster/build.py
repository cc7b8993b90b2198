"""The cluster's binaries (server, SQL tool, UI server), built once with `go install` into
`.tools/cluster/`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from cli.cluster.settings import BINARIES, SERVER_VERSION, ClusterError
from store.embedded import project_root


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
        say(log, f"building {package} (once; minutes on a cold Go build cache)")
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


def say(log: Any, message: str) -> None:
    if log is not None:
        print(message, file=log, flush=True)
