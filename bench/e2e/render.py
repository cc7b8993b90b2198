"""The printed tables: one target's figures (Accord beside pure Temporal, with the targets
of BENCHMARKS.md), or two targets side by side with their ratios."""

from __future__ import annotations

import math
from typing import Any

from bench.e2e.figures import temporal_cpu_ms, total_cpu_ms

TARGETS = {
    "e2e_vs_pure_temporal": ("<=", 1.3),
    "p95_update_latency_ms_20_in_flight": ("<=", 150.0),
    "worker_rss_mb_per_1000_open": ("<=", 300.0),
}


def _verdict(key: str, value: float | None) -> str:
    if key not in TARGETS or value is None:
        return ""
    op, target = TARGETS[key]
    ok = value <= target if op == "<=" else value >= target
    return f"{op} {target:g}  {'ok' if ok else 'MISSED'}"


def render(r: dict[str, Any]) -> str:
    a, p = r["accord"], r["pure_temporal"]
    mem = r["memory"]

    def lat(x: dict[str, Any]) -> str:
        d = x["update_latency_ms"]
        return f"{d['p50']:.0f} / {d['p95']:.0f} / {d['p99']:.0f}"

    rows = [
        (
            "processes per minute",
            f"{a['processes_per_minute']:,.1f}",
            f"{p['processes_per_minute']:,.1f}",
            "",
        ),
        (
            "commands per second",
            f"{a['commands_per_second']:,.1f}",
            f"{p['commands_per_second']:,.1f}",
            "",
        ),
        ("update latency p50/p95/p99 ms", lat(a), lat(p), ""),
        (
            "e2e time / pure Temporal time",
            f"{r['e2e_vs_pure_temporal']:.2f}",
            "1.00",
            _verdict("e2e_vs_pure_temporal", r["e2e_vs_pure_temporal"]),
        ),
        (
            "CPU per command / pure Temporal",
            f"{r['cpu_per_command_vs_pure_temporal']:.2f}",
            "1.00",
            "",
        ),
        (
            f"p95 update latency, {r['settings']['in_flight']} in flight",
            f"{a['update_latency_ms']['p95']:.0f} ms",
            f"{p['update_latency_ms']['p95']:.0f} ms",
            _verdict("p95_update_latency_ms_20_in_flight", r["p95_update_latency_ms_20_in_flight"]),
        ),
        (
            "worker RSS per 1,000 open (MB)",
            f"{mem['accord']['rss_mb_per_1000_open']:.0f}" if mem else "-",
            f"{mem['pure']['rss_mb_per_1000_open']:.0f}" if "pure" in mem else "-",
            _verdict("worker_rss_mb_per_1000_open", r["worker_rss_mb_per_1000_open"]),
        ),
        ("events appended per second", f"{r['events_per_second']:,.1f}", "-", ""),
        (
            "feed lag p50/p95 ms",
            f"{r['feed_lag_ms']['p50']:.0f} / {r['feed_lag_ms']['p95']:.0f}",
            "-",
            "",
        ),
    ]
    parts = ["worker", "temporal", "postgres", "driver"]
    if "temporal_postgres" in a["cpu_ms_per_command"]:
        parts.insert(2, "temporal_postgres")  # the cluster's persistence
    for part in parts:
        rows.append(
            (
                f"CPU ms per command: {part}",
                f"{a['cpu_ms_per_command'].get(part, 0):.2f}",
                f"{p['cpu_ms_per_command'].get(part, 0):.2f}",
                "",
            )
        )
    s = r["settings"]
    lines = [
        f"target: {r['target']['name']} ({r['target']['description']})",
        f"{s['processes']} processes x {s['commands_per_process']} commands, "
        f"{s['in_flight']} in flight, {s['rounds']} rounds; {s['open']} open processes "
        f"(max_cached_workflows {s['max_cached_workflows']})",
        f"{'measure':<34} {'Accord':>14} {'pure Temporal':>14}  target",
    ]
    lines += [f"{label:<34} {x:>14} {y:>14}  {t}".rstrip() for label, x, y, t in rows]
    if r["errors"]:
        lines.append(f"ERRORS: {r['errors']}")
    return "\n".join(lines)


def render_side_by_side(r: dict[str, Any]) -> str:
    """Each target's figures in a column, and the second over the first."""
    (na, a), (nb, b) = list(r["targets"].items())[:2]
    ratio = r["side_by_side"]

    def fmt(value: float | None, spec: str = ",.1f") -> str:
        return "-" if value is None or math.isnan(value) else format(value, spec)

    rows: list[tuple[str, str, str, str]] = []
    for arm, label in (("accord", "Accord"), ("pure_temporal", "pure Temporal")):
        x, y, q = a[arm], b[arm], ratio[arm]
        rows += [
            (f"{label}: seconds", fmt(x["seconds"]), fmt(y["seconds"]), fmt(q["time"], ".2f")),
            (
                f"{label}: commands per second",
                fmt(x["commands_per_second"]),
                fmt(y["commands_per_second"]),
                fmt(q["commands_per_second"], ".2f"),
            ),
        ]
        for p in ("p50", "p95", "p99"):
            rows.append(
                (
                    f"{label}: update latency {p} ms",
                    fmt(x["update_latency_ms"][p], ".0f"),
                    fmt(y["update_latency_ms"][p], ".0f"),
                    fmt(q[f"latency_{p}"], ".2f"),
                )
            )
        rows += [
            (
                f"{label}: CPU ms per command, all",
                fmt(total_cpu_ms(x), ".2f"),
                fmt(total_cpu_ms(y), ".2f"),
                fmt(q["cpu_per_command"], ".2f"),
            ),
            (
                f"{label}: CPU ms per command, Temporal",
                fmt(temporal_cpu_ms(x), ".2f"),
                fmt(temporal_cpu_ms(y), ".2f"),
                fmt(q["temporal_cpu_per_command"], ".2f"),
            ),
        ]
    rows.append(
        (
            "Accord time / pure Temporal time",
            fmt(a["e2e_vs_pure_temporal"], ".2f"),
            fmt(b["e2e_vs_pure_temporal"], ".2f"),
            "",
        )
    )
    rows.append(
        (
            "feed lag p50/p95 ms",
            f"{fmt(a['feed_lag_ms']['p50'], '.0f')} / {fmt(a['feed_lag_ms']['p95'], '.0f')}",
            f"{fmt(b['feed_lag_ms']['p50'], '.0f')} / {fmt(b['feed_lag_ms']['p95'], '.0f')}",
            "",
        )
    )
    if a["memory"] and b["memory"]:
        rows.append(
            (
                "worker RSS per 1,000 open (MB)",
                fmt(a["worker_rss_mb_per_1000_open"], ".0f"),
                fmt(b["worker_rss_mb_per_1000_open"], ".0f"),
                "",
            )
        )
    s = r["settings"]
    m = r["machine"]
    lines = [
        f"side by side: {na} = {a['target']['description']}",
        f"              {nb} = {b['target']['description']}",
        f"{s['processes']} processes x {s['commands_per_process']} commands per target and arm, "
        f"{s['in_flight']} in flight, {s['rounds']} interleaved rounds; load average "
        f"{m['load_average_start'][0]} -> {m['load_average_end'][0]} on {m['cpus']} CPUs",
        f"{'measure':<40} {na:>10} {nb:>10} {r['ratio']:>16}",
    ]
    lines += [f"{label:<40} {x:>10} {y:>10} {q:>16}".rstrip() for label, x, y, q in rows]
    spread = ratio["round_time_ratios"]
    lines.append(
        f"each round's time {r['ratio']}: Accord {spread['accord']}, "
        f"pure Temporal {spread['pure_temporal']}"
    )
    if r["errors"]:
        lines.append(f"ERRORS: {r['errors']}")
    return "\n".join(lines)
