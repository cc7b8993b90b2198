"""Smoke test of `bench.append_paths`, whose figures store/README.md quotes: a tiny run on
the test server, checked for shape (no assertion on speed: that is what the full run is
for). It also proves the old statement still appends where a superuser runs it, so the
comparison measures what the store used to do."""

from __future__ import annotations

import pytest

from bench.append_paths import PATHS, run


@pytest.mark.timeout(300)
async def test_quick_run_measures_every_path(
    admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", admin_url)  # the bench makes and drops its own database
    result = await run(rounds=2, per_round=5)

    assert set(result) == {"commit_on_us", "commit_off_us"}
    for micros in result.values():
        assert set(micros) == set(PATHS)
        assert all(us > 0 for us in micros.values()), micros
