"""Smoke test of `bench.eventstore`, whose figures the README quotes: a tiny run on the
test server, checked for shape and for the ratios being the quotients they name (no
assertion on speed: that is what the full run is for)."""

from __future__ import annotations

import pytest

from bench.eventstore import TARGETS, render, run_benchmark


@pytest.mark.timeout(300)
async def test_quick_run_measures_every_side(
    admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", admin_url)  # the bench makes and drops its own database
    result = await run_benchmark(events=60, rounds=2, rebuild_events=300)

    rates = [key for key in result if key.endswith("_per_s")]
    assert all(result[key] > 0 for key in rates), result
    assert result["rebuild_events"] >= 300
    seq, raw, floor = (
        result["append_seq_events_per_s"],
        result["raw_seq_events_per_s"],
        result["row_floor_seq_events_per_s"],
    )
    assert result["append_seq_vs_raw"] == pytest.approx(seq / raw)
    assert result["row_floor_seq_vs_raw"] == pytest.approx(floor / raw)
    assert result["append_seq_vs_row_floor"] == pytest.approx(seq / floor)
    assert set(TARGETS) <= set(result)
    table = render(result)
    assert "the row alone (floor) / raw" in table and "seq append / raw" in table
