"""`accord report ID --format md|html [--output FILE]`, and the reports of scenario runs.

Reads the process's stream from the event store only (no Temporal), verifies its hash
chain, and renders `readmodel.report`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from domain.vocabulary import PROCESS_STREAM_PREFIX
from readmodel.report import build_report, to_html, to_markdown
from store import EventStore

FORMATS = {"md": to_markdown, "html": to_html}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="the process's chronology as a readable document")
    p.add_argument("id", help="process id or workflow id")
    p.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="md or html (default: from the -o file's suffix, else md)",
    )
    p.add_argument(
        "--output", "-o", metavar="FILE", help="write here instead of stdout (.md or .html)"
    )


async def render(store: EventStore, workflow_id: str, fmt: str) -> str | None:
    """The document, or None when the store has no such process."""
    events = await store.read_stream(workflow_id)
    if not events:
        return None
    verified = await store.verify(workflow_id)
    report = build_report(events, chain_ok=verified.ok, generated_at=datetime.now(UTC))
    return FORMATS[fmt](report)


async def run(args: argparse.Namespace) -> int:
    from cli.operations import as_workflow_id
    from store.embedded import database_url

    fmt = args.format
    if args.output:
        suffix = Path(args.output).suffix.lower().lstrip(".")
        if suffix not in FORMATS:
            print(
                "accord report: -o: the file must end in .md or .html",
                file=sys.stderr,
            )
            return 2
        if fmt is not None and fmt != suffix:
            print(f"accord report: -o: a .{suffix} file for --format {fmt}", file=sys.stderr)
            return 2
        fmt = suffix
    workflow_id = as_workflow_id(args.id)
    store = await EventStore.connect(database_url())
    try:
        text = await render(store, workflow_id, fmt or "md")
    finally:
        await store.close()
    if text is None:
        print(f"accord: no process with workflow id {workflow_id}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def write_reports(store: EventStore, workflow_ids: list[str], directory: Path) -> list[Path]:
    """`<process_id>.md` and `.html` per process in `directory` (`scenario run --report-dir`)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for workflow_id in workflow_ids:
        process_id = workflow_id.removeprefix(PROCESS_STREAM_PREFIX)
        for fmt in ("md", "html"):
            text = await render(store, workflow_id, fmt)
            if text is None:
                continue
            path = directory / f"{process_id}.{fmt}"
            path.write_text(text, encoding="utf-8")
            print(f"report: {path}", file=sys.stderr)
            written.append(path)
    return written
