"""The figures of a run, from its phases: rates and latencies per arm, each target's result
in the shape `bench.e2e` has always printed, the side-by-side ratios, the machine's
description."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.e2e.measure import TargetRun, percentile
from bench.e2e.workload import Phase, Settings, Story
from cli.devserver import temporal_binary
from store.embedded import project_root


def sum_phases(kind: str, phases: Sequence[Phase]) -> Phase:
    total = Phase(kind=kind, processes=0)
    for p in phases:
        total.processes += p.processes
        total.commands += p.commands
        total.updates += p.updates
        total.events += p.events
        total.seconds += p.seconds
        total.latencies += p.latencies
        for name, values in p.by_command.items():
            total.by_command.setdefault(name, []).extend(values)
        total.errors += p.errors
        for k, v in p.cpu.items():
            total.cpu[k] = total.cpu.get(k, 0.0) + v
    return total


def latency_ms(phase: Phase) -> dict[str, float]:
    return {f"p{p}": round(percentile(phase.latencies, p) * 1000, 1) for p in (50, 95, 99)}


def phase_rates(phase: Phase) -> dict[str, Any]:
    return {
        "processes": phase.processes,
        "commands": phase.commands,
        "seconds": round(phase.seconds, 2),
        "processes_per_minute": round(phase.processes / phase.seconds * 60, 1),
        "commands_per_second": round(phase.commands / phase.seconds, 1),
        "update_latency_ms": latency_ms(phase),
        "cpu_ms_per_command": {
            k: round(v / phase.commands * 1000, 2) for k, v in sorted(phase.cpu.items())
        },
        "cpu_share": {k: round(v / phase.seconds, 2) for k, v in sorted(phase.cpu.items())},
        "update_p50_ms_by_command": {
            name: round(percentile(values, 50) * 1000, 1)
            for name, values in phase.by_command.items()
        },
    }


def target_result(
    settings: Settings,
    run: TargetRun,
    in_order: Sequence[Phase],
    memory: dict[str, dict[str, Any]],
    lags: list[float],
) -> dict[str, Any]:
    """One target's figures, in the shape `bench.e2e` has always printed."""
    accord = sum_phases("accord", run.phases["accord"])
    pure = sum_phases("pure", run.phases["pure"])
    errors = accord.errors + pure.errors
    for kind, mem in memory.items():
        errors += [f"memory ({kind}): {e}" for e in mem["errors"]]
    lat = latency_ms(accord)
    return {
        "target": {
            "name": run.target.name,
            "address": run.target.address,
            "description": run.target.description,
            **run.target.info,
        },
        "processes_per_minute": round(accord.processes / accord.seconds * 60, 1),
        "commands_per_second": round(accord.commands / accord.seconds, 1),
        "update_latency_ms": lat,
        "e2e_vs_pure_temporal": round(accord.seconds / pure.seconds, 3),
        # The same comparison by CPU: every part's CPU seconds per command (worker, Temporal,
        # PostgreSQL, driver). Less sensitive to other load on the machine than the time.
        "cpu_per_command_vs_pure_temporal": round(
            sum(accord.cpu.values()) / accord.commands / (sum(pure.cpu.values()) / pure.commands),
            3,
        ),
        "p95_update_latency_ms_20_in_flight": lat["p95"] if settings.in_flight == 20 else None,
        "worker_rss_mb_per_1000_open": memory["accord"]["rss_mb_per_1000_open"] if memory else None,
        "events_per_second": round(accord.events / accord.seconds, 1),
        "feed_lag_ms": {
            "p50": round(percentile(lags, 50) * 1000, 1),
            "p95": round(percentile(lags, 95) * 1000, 1),
            "max": round(max(lags, default=math.nan) * 1000, 1),
            "events": len(lags),
        },
        "accord": phase_rates(accord),
        "pure_temporal": phase_rates(pure),
        "rounds": [
            {"kind": p.kind, "processes": p.processes, "seconds": round(p.seconds, 2)}
            for p in in_order
        ],
        # Accord / baseline time of each round: their spread shows how much the machine's
        # other load moved during the run.
        "round_ratios": [
            round(a.seconds / b.seconds, 3)
            for a, b in zip(run.phases["accord"], run.phases["pure"], strict=True)
        ],
        "memory": memory,
        "errors": errors[:10],
        "max_cached_workflows": memory["accord"]["max_cached_workflows"] if memory else None,
    }


def settings_json(
    settings: Settings, story: Story, results: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    cached = next(iter(results.values())).pop("max_cached_workflows")
    for r in results.values():
        r.pop("max_cached_workflows", None)
    return {
        "processes": settings.processes,
        "in_flight": settings.in_flight,
        "open": settings.open,
        "rounds": settings.rounds,
        "warmup_processes": settings.warmup,
        "commands_per_process": 1 + len(story.commands),
        "max_cached_workflows": cached,
        "worker_args": list(settings.worker_args),
        "baseline_args": settings.baseline_worker_args,
        "worker_patch": str(settings.worker_patch) if settings.worker_patch else None,
        "baseline_patch": str(settings.baseline_patch) if settings.baseline_patch else None,
        "targets": list(settings.targets),
        "temporal_persistence": "sqlite-file" if settings.temporal_db_file else "memory",
        "temporal_args": list(settings.temporal_args),
        "dev_server_tuned": settings.dev_server_tuned,
        "worker_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("ACCORD_MAX")},
    }


def temporal_cpu_ms(rates: dict[str, Any]) -> float:
    """Temporal's CPU per command: its processes, plus its PostgreSQL backends if any."""
    cpu = rates["cpu_ms_per_command"]
    return float(cpu.get("temporal", 0.0) + cpu.get("temporal_postgres", 0.0))


def total_cpu_ms(rates: dict[str, Any]) -> float:
    return float(sum(rates["cpu_ms_per_command"].values()))


def _ratio(b: float | None, a: float | None) -> float | None:
    if a is None or b is None or not a or math.isnan(a) or math.isnan(b):
        return None
    return round(b / a, 3)


def side_by_side(results: dict[str, dict[str, Any]], runs: Sequence[TargetRun]) -> dict[str, Any]:
    """The second target over the first, per arm: time (the same processes, so the inverse
    of the throughput ratio), latency, CPU; and each round's time ratio (its spread is the
    noise of the run)."""
    a, b = (results[r.target.name] for r in runs[:2])
    out: dict[str, Any] = {}
    for arm in ("accord", "pure_temporal"):
        x, y = a[arm], b[arm]
        out[arm] = {
            "time": _ratio(y["seconds"], x["seconds"]),
            "commands_per_second": _ratio(y["commands_per_second"], x["commands_per_second"]),
            **{
                f"latency_{p}": _ratio(y["update_latency_ms"][p], x["update_latency_ms"][p])
                for p in ("p50", "p95", "p99")
            },
            "cpu_per_command": _ratio(total_cpu_ms(y), total_cpu_ms(x)),
            "temporal_cpu_per_command": _ratio(temporal_cpu_ms(y), temporal_cpu_ms(x))
            if runs[0].target.processes() and runs[1].target.processes()
            else None,
        }
    kinds = {"accord": "accord", "pure_temporal": "pure"}
    out["round_time_ratios"] = {
        arm: [
            round(q.seconds / p.seconds, 3)
            for p, q in zip(runs[0].phases[kind], runs[1].phases[kind], strict=True)
        ]
        for arm, kind in kinds.items()
    }
    out["e2e_vs_pure_temporal"] = {
        name: results[name]["e2e_vs_pure_temporal"]
        for name in (a["target"]["name"], b["target"]["name"])
    }
    return out


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def code_version() -> str:
    """The commit the run measured, and how many files differed from it."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        root = project_root()
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=root
        ).stdout.splitlines()
        return f"{head} (+{len(changed)} changed files)" if changed else head
    return "unknown"


def temporal_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [temporal_binary(), "--version"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip()
    return "unknown"
