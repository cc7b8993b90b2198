"""Running a benchmark the way `make bench` does: its own process, `--json` on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench_json(module: str, *args: str, timeout: float) -> dict[str, Any]:
    """`python -m <module> --json <args>`; fails the test with its stderr if it fails."""
    out = subprocess.run(
        [sys.executable, "-m", module, "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    result: dict[str, Any] = json.loads(out.stdout)
    return result
