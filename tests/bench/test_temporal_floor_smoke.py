"""Smoke test of `bench.temporal_floor`, whose figures BENCHMARKS.md quotes: a tiny run,
checked for shape and sanity only (no assertion on speed)."""

from __future__ import annotations

import pytest

from tests.bench.bench_support import run_bench_json

SHAPES = ("bare", "activity", "local_activity")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_floor_quick_run_measures_every_shape() -> None:
    result = run_bench_json(
        "bench.temporal_floor", "--workflows", "3", "--updates", "4", timeout=540
    )

    assert result["dev_server_tuned"] is True
    for shape in SHAPES:
        for in_flight, workflows in ((1, 1), (20, 3)):
            part = result[f"{shape}_{in_flight}_in_flight"]
            assert part["updates"] == workflows * 4, (shape, in_flight)
            assert part["updates_per_second"] > 0
            assert 0 < part["p50_ms"] <= part["p95_ms"] <= part["p99_ms"]
            cpu = part["cpu_ms_per_update"]
            assert cpu["temporal"] > 0 and cpu["worker"] > 0
