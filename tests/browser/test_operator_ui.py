"""What an operator sees: the story played on a dev server, then its Temporal UI in Chromium.

The list filtered by a custom search attribute shows the process; the process page shows
its static summary and its current details. Screenshots go to `.data/` for a person to
look at (`ui-workflow-list.png`, `ui-process.png`, and `report.png`, the story's
HTML report, which must also print). Needs Debian's `chromium`
(`make browser`); skipped without it.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Page, expect
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.devserver import DevServer
from cli.ports import free_port
from cli.report_cli import write_reports
from cli.scenario import run_scenario
from cli.session import Session
from store import EventStore
from workers.main import build_worker

ROOT = Path(__file__).resolve().parents[2]
STORY = ROOT / "scenarios" / "azerbaijan-icmp.yaml"
SHOTS = ROOT / ".data"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def dev_server() -> Iterator[DevServer]:
    """A dev server of our own with its UI, on free ports, gone after the test."""
    with tempfile.TemporaryDirectory(prefix="accord-ui-") as data:
        server = DevServer(Path(data), port=free_port(), ui_port=free_port())
        server.start()
        try:
            yield server
        finally:
            server.stop()


async def test_operator_finds_the_story_in_the_ui(
    page: Page, dev_server: DevServer, database_url: str, tmp_path: Path
) -> None:
    client = await Client.connect(dev_server.address, data_converter=pydantic_data_converter)
    store = await EventStore.connect(database_url)
    task_queue = f"accord-ui-{uuid.uuid4().hex[:8]}"
    try:
        # The worker stays up while the browser looks: current details are a query.
        async with build_worker(client, store, task_queue):
            session = Session(client=client, store=store, task_queue=task_queue, embedded=None)
            run = await run_scenario(session, STORY, quiet=True)
            assert run.ok, [s.message for s in run.steps if not s.ok]
            handle = client.get_workflow_handle(run.workflow_id)
            run_id = (await handle.describe()).run_id
            await look_at_the_ui(page, dev_server.ui_url, run.process_id, run_id)
            reports = await write_reports(store, [run.workflow_id], tmp_path)
    finally:
        await store.close()
    await look_at_the_report(page, reports[1], run.process_id)


async def look_at_the_ui(page: Page, ui_url: str, process_id: str, run_id: str) -> None:
    workflows = f"{ui_url}/namespaces/default/workflows"
    workflow_id = f"coop-{process_id}"
    # The list, filtered by custom search attributes as an operator would type it.
    query = f"AccordProcessId = '{process_id}' AND AccordStage = 'presented'"
    await page.goto(f"{workflows}?query={quote(query)}")
    listed = page.get_by_role("row").filter(
        has=page.get_by_role("link", name=workflow_id, exact=True)
    )
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("CooperationProcess")
    await expect(page.get_by_text("of 1", exact=True)).to_be_visible()  # that one only
    await page.screenshot(path=SHOTS / "ui-workflow-list.png")

    # The process's User Metadata tab: static summary and details, and current details,
    # each Markdown field rendered by the UI in its own iframe, in that order.
    await page.goto(f"{workflows}/{workflow_id}/{run_id}/user-metadata")
    summary, details, current = (
        page.locator("iframe").nth(i).content_frame.locator("body") for i in range(3)
    )
    await expect(summary).to_contain_text(
        f"ICMP / State Commission (Azerbaijan): cooperation process {process_id}"
    )
    for line in (
        "Ministry of Foreign Affairs (mfa): official channel, consents to missions, reviews",
        "Durations: consent deadline 90 days, review reminders every 30 days",
    ):
        await expect(details).to_contain_text(line, use_inner_text=True)
    for line in (
        # Who is awaited, with the command (DOMAIN.md "Awaiting and clocks").
        "Stage: presented since 2025-03-10 · Waiting on: State Commission (national_body): "
        "clear_publication; ICMP (partner): clear_publication",
        "Last event (2025-03-10, no. 27): Report presented at Baku",
    ):
        await expect(current).to_contain_text(line, use_inner_text=True)
    for field in (summary, details, current):  # durations in words, never a raw timedelta
        await expect(field).not_to_contain_text("0:00:00")
    await page.screenshot(path=SHOTS / "ui-process.png")


async def look_at_the_report(page: Page, report: Path, process_id: str) -> None:
    """The HTML report as a reader opens it, and as it prints."""
    await page.goto(report.as_uri())
    for heading in (f"Cooperation process {process_id}", "Time in each stage"):
        await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await page.screenshot(path=SHOTS / "report.png")
    assert (await page.pdf(format="A4")).startswith(b"%PDF")
