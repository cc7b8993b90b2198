"""`accord report` and `write_reports` against the real PostgreSQL event store (no Temporal)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from cli.main import main
from cli.report_cli import write_reports
from store import EventStore, NewEvent
from tests.report.story import scenario_recorder


@pytest.fixture
def process_id(database_url: str) -> str:
    """The story's events appended to a stream of their own, as the worker appends them."""
    process_id = f"az-icmp-report-{uuid.uuid4().hex[:6]}"
    events = scenario_recorder(stream=f"coop-{process_id}").events

    async def seed() -> None:
        store = await EventStore.connect(database_url)
        try:
            await store.append(
                f"coop-{process_id}",
                0,
                [
                    NewEvent(e.event_id, e.event_type, e.schema_version, e.data, e.metadata)
                    for e in events
                ],
            )
        finally:
            await store.close()

    asyncio.run(seed())
    return process_id


def test_accord_report(
    process_id: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    page = tmp_path / "report.html"
    assert main(["report", process_id, "--format", "html", "--output", str(page)]) == 0
    html = page.read_text()
    assert "<title>Cooperation process az-icmp</title>" in html  # the id the story opened
    assert "Hash chain verified: intact." in html

    assert main(["report", f"coop-{process_id}"]) == 0  # Markdown on stdout by default
    out = capsys.readouterr().out
    assert out.startswith("# Cooperation process az-icmp\n")
    # Dates as the source gives them, through the store and back (DOMAIN.md, "Dates and
    # sources"): a year, a month, an approximate month, a range; the source they cite.
    assert "- **in 2021**: The process was re-engaged" in out
    assert "- **November 2021**: In-person meeting in The Hague" in out
    assert "- **early 2022 (approximate)**: Online meeting" in out
    assert "| Dormant | between 2018-05-17 and 2021 | in 2021 |" in out
    sources = out[out.index("## Sources") :]
    assert sources.startswith(
        "## Sources\n\nPresentation of ICMP's assessment report in Baku, quoting State "
        "Commission secretary Gazanfar Ahmadov. Trend, 2025-03-10\n"
    )
    assert "| in 2021 | The process was re-engaged at the initiative of Presidential " in sources
    assert "| paragraph 4 |" in sources

    assert main(["report", "no-such-process"]) == 2  # not found: exit 2, like every command
    assert "no process with workflow id coop-no-such-process" in capsys.readouterr().err


def test_write_reports(process_id: str, database_url: str, tmp_path: Path) -> None:
    async def write() -> list[Path]:
        store = await EventStore.connect(database_url)
        try:
            return await write_reports(store, [f"coop-{process_id}"], tmp_path / "reports")
        finally:
            await store.close()

    written = asyncio.run(write())
    assert [p.name for p in written] == [f"{process_id}.md", f"{process_id}.html"]
    assert all(p.read_text().strip() for p in written)
