"""The event store benchmark's table: each figure, and against its target (the ratios the
README quotes) whether the run met it."""

from __future__ import annotations

from bench.eventstore.workload import BATCH, CONCURRENCY

TARGETS = {
    "append_seq_vs_raw": 0.8,
    "append_seq_vs_eventsourcing": 3.0,
    "append_concurrent_vs_raw": 0.7,
    "rebuild_events_per_s": 100_000,
}


def render(results: dict[str, float]) -> str:
    rows = [
        ("raw INSERT, sequential", "raw_seq_events_per_s", "events/s"),
        (f"raw INSERT, {CONCURRENCY} connections", "raw_concurrent_events_per_s", "events/s"),
        ("store append, sequential", "append_seq_events_per_s", "events/s"),
        ("the row alone (floor), sequential", "row_floor_seq_events_per_s", "events/s"),
        (f"store append, {CONCURRENCY} writers", "append_concurrent_events_per_s", "events/s"),
        ("eventsourcing save, sequential", "eventsourcing_seq_events_per_s", "events/s"),
        (f"store append, {BATCH} per call", "append_batch100_events_per_s", "events/s"),
        ("rebuild (read+decode+evolve)", "rebuild_events_per_s", "events/s"),
        ("seq append / raw", "append_seq_vs_raw", "x"),
        ("the row alone (floor) / raw", "row_floor_seq_vs_raw", "x"),
        ("seq append / the row alone", "append_seq_vs_row_floor", "x"),
        ("seq append / eventsourcing", "append_seq_vs_eventsourcing", "x"),
        ("concurrent append / raw", "append_concurrent_vs_raw", "x"),
    ]
    lines = [f"{'measure':<36} {'value':>12}  {'target':>8}"]
    for label, key, unit in rows:
        value = results[key]
        shown = f"{value:,.2f}" if unit == "x" else f"{value:,.0f}"
        target = TARGETS.get(key)
        verdict = ""
        if target is not None:
            verdict = f">= {target:g}  {'ok' if value >= target else 'MISSED'}"
        lines.append(f"{label:<36} {shown:>12}  {verdict}")
    return "\n".join(lines)
