"""The commands that run or look after the installation rather than one process:
`scenario run` (play scenario files end to end), `db migrate`, `projections rebuild` and
`dev-server start|stop|status`. Handlers return the exit code; cli/main.py dispatches."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli import report_cli
from cli.console import print_payload
from cli.session import open_session


async def cmd_scenario(args: argparse.Namespace) -> int:
    from cli.scenario import ScenarioError, failure_line, load, render_story, run_scenario

    try:
        for file in args.files:  # a malformed file is reported before anything starts
            load(Path(file))
        async with open_session(stop_started_server=not args.keep_server) as session:
            runs = [await run_scenario(session, Path(f), quiet=args.json) for f in args.files]
            if args.report_dir:
                ids = [r.workflow_id for r in runs]
                await report_cli.write_reports(session.store, ids, Path(args.report_dir))
            if args.keep_server and session.embedded is not None:
                # The server stays for the UI: a worker stays with it (`make run`), stopped
                # by `accord dev-server stop`.
                from cli.devserver import background_worker

                background_worker(session.embedded).start()
    except ScenarioError as err:
        print(f"accord: {err}", file=sys.stderr)
        return 2
    if args.json:
        out: Any = runs[0].to_json() if len(runs) == 1 else [r.to_json() for r in runs]
        print(json.dumps(out, indent=2, default=str, ensure_ascii=False))
    else:
        print("\n\n".join(render_story(r) for r in runs))
    for run in runs:
        if (reason := failure_line(run)) is not None:
            print(f"accord: {reason}", file=sys.stderr)  # one line per failed file
    return 0 if all(r.ok and r.verify.get("ok") for r in runs) else 1


async def cmd_db_migrate(args: argparse.Namespace) -> int:
    from store import migrate
    from store.embedded import database_url

    applied = await migrate(database_url())
    print_payload(
        {"applied": applied}, args.json, f"migrations applied: {applied or 'none (up to date)'}"
    )
    return 0


async def cmd_projections_rebuild(args: argparse.Namespace) -> int:
    from readmodel.projections import Projections
    from store import EventStore
    from store.embedded import database_url

    store = await EventStore.connect(database_url())
    try:
        counts = await Projections(store).rebuild(
            progress=None if args.json else lambda n: print(f"  {n} events", file=sys.stderr)
        )
    finally:
        await store.close()
    print_payload(counts, args.json, f"rebuilt projections: {counts}")
    return 0


def cmd_dev_server(args: argparse.Namespace) -> int:
    from cli.devserver import background_worker, embedded_dev_server

    server = embedded_dev_server()
    worker = background_worker(server)
    if args.action == "start":
        started = server.start()
        worker.start()  # so the UI's details and `status` answer between commands
        print_payload(
            {"address": server.address, "ui": server.ui_url, "started": started, "worker": True},
            args.json,
            f"Temporal dev server on {server.address}, UI at {server.ui_url}, with a worker"
            + ("" if started else " (already running)"),
        )
    elif args.action == "stop":
        worker.stop()
        server.stop()
        print_payload({"stopped": True}, args.json, "stopped (dev server and worker)")
    else:
        print_payload(
            {"running": server.running(), "address": server.address, "worker": worker.running()},
            args.json,
        )
    return 0
