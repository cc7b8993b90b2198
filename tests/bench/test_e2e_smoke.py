"""Smoke test of the end-to-end benchmark: a tiny run, checked for shape and sanity only.

No assertion on speed: the run shares the machine with everything else. It starts its own
Temporal dev server and bench database, like `make bench`.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.bench.bench_support import run_bench_json


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_e2e_quick_run_reports_every_measure() -> None:
    result = run_bench_json(
        "bench.e2e", "--quick", "--processes", "3", "--open", "20", "--warmup", "1", timeout=840
    )

    for key in (
        "processes_per_minute",
        "commands_per_second",
        "e2e_vs_pure_temporal",
        "p95_update_latency_ms_20_in_flight",
        "worker_rss_mb_per_1000_open",
        "events_per_second",
    ):
        assert _finite(result[key]), key
    for key in ("processes_per_minute", "commands_per_second", "events_per_second"):
        assert result[key] > 0, key
    assert result["e2e_vs_pure_temporal"] > 0

    latency = result["update_latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert result["p95_update_latency_ms_20_in_flight"] == latency["p95"]
    lag = result["feed_lag_ms"]
    assert lag["events"] > 0 and _finite(lag["p50"]) and lag["p50"] <= lag["p95"]

    assert result["errors"] == []
    settings = result["settings"]
    assert settings["processes"] == 3 and settings["in_flight"] == 20
    assert settings["open"] == 20 and settings["max_cached_workflows"] >= 20
    story_commands = settings["commands_per_process"]
    # Every process played the whole story, in both the Accord and the baseline runs.
    assert result["accord"]["commands"] == 3 * story_commands
    assert result["pure_temporal"]["commands"] == 3 * story_commands
    # 3 processes' events: at least one per command (open + 23 updates).
    assert result["events_per_second"] * result["accord"]["seconds"] >= 3 * story_commands
    memory = result["memory"]["accord"]
    assert memory["open_processes"] == 20 and memory["errors"] == []
    assert memory["rss_mb_after"] > 0
