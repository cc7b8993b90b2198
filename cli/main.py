"""`accord`: the command line for scripts and operators.

Every command that prints has a `--json` form for scripts. Exit codes: 0 success,
1 a rejected command / failed expectation / broken chain, 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import yaml
from temporalio.service import RPCError

from cli import (
    actor_token,
    cluster,
    codec_server,
    commands_cli,
    feed_server,
    report_cli,
    verification,
)
from cli import events as events_cli
from cli import schema as schema_cli
from cli.operations import (
    ProcessNotFound,
    as_workflow_id,
    list_processes,
    read_status,
    send_command,
    start_process,
    update_id_error,
)
from cli.session import open_session
from domain import Stage
from domain.parties import person
from domain.sources import cited
from domain.text import visible
from domain.vocabulary import SYSTEM
from security.keys import KeyConfigError
from workers.runtime import install_default_runtime


class UsageError(Exception):
    """A user's mistake in how `accord` was called: one line, exit 2, never a traceback."""


def _print_list(rows: list[dict[str, Any]], args: argparse.Namespace, human: str) -> None:
    output = args.output or ("json" if args.json else "text")
    if output == "jsonl":
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
    else:
        _print(rows, output == "json", human)


def _print(payload: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    else:
        print(human if human is not None else yaml.safe_dump(payload, sort_keys=False).rstrip())


def _actor(spec: str | None) -> dict[str, str] | None:
    """`party:role[:name]` -> an actor object."""
    if spec is None:
        return None
    parts = spec.split(":", 2)
    if len(parts) < 2:
        raise UsageError("--actor: expected party:role[:name]")
    actor = {"party": parts[0], "role": parts[1]}
    if len(parts) == 3:
        actor["name"] = parts[2]
    return actor


def _update_id(value: str) -> str:
    """`--update-id`, checked before anything is started (bad usage: exit 2)."""
    problem = update_id_error(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem.removeprefix("update_id: "))
    return value


def _coerce(value: str) -> Any:
    """A `--set key=value` value: JSON when it parses (numbers, lists, objects), else text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _command_payload(args: argparse.Namespace) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if args.data:
        source = _read_file("--data", args.data[1:]) if args.data.startswith("@") else args.data
        try:
            loaded = json.loads(source)
        except json.JSONDecodeError as err:
            raise UsageError(
                f"--data: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
            ) from None
        if not isinstance(loaded, dict):
            raise UsageError("--data: expected a JSON object")
        payload.update(loaded)
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError("--set: expected key=value")
        payload[key] = _coerce(value)
    actor = _actor(args.actor)
    if actor:
        payload["actor"] = actor
    if args.on:
        payload["occurred_on"] = args.on
    return payload


def _read_file(option: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{option}: no such file: {visible(path)[:200]}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(
            f"{option}: cannot read {visible(path)[:200]}: {type(err).__name__}"
        ) from None


async def _cmd_start(args: argparse.Namespace) -> int:
    from cli.scenario import read_yaml

    try:
        process = read_yaml(_read_file("file", args.file))
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "malformed"
        raise UsageError(f"file: not valid YAML or JSON ({visible(first)[:200]})") from None
    if isinstance(process, dict) and "process" in process:
        process = process["process"]
    if not isinstance(process, dict):
        raise UsageError("file: expected a mapping: a scenario's `process:` block, or just it")
    async with open_session() as session:
        outcome = await start_process(session, process, default_on=date.today())
    result = {"process_id": process.get("process_id"), **outcome.to_json()}
    if outcome.accepted:
        result["workflow_id"] = as_workflow_id(str(process.get("process_id")))
    _print(result, args.json)
    # A refused opening is bad input to `start`: nothing was started.
    return 0 if outcome.accepted else 2


async def _cmd_send(args: argparse.Namespace) -> int:
    payload = _command_payload(args)
    async with open_session() as session:
        outcome = await send_command(
            session, as_workflow_id(args.id), args.command, payload, update_id=args.update_id
        )
    _print(outcome.to_json(), args.json)
    return 0 if outcome.accepted else 1


async def _cmd_status(args: argparse.Namespace) -> int:
    from workflows import search

    workflow_id = as_workflow_id(args.id)
    async with open_session() as session:
        view = await read_status(session, workflow_id)  # ProcessNotFound: exit 2
        try:
            description = await session.client.get_workflow_handle(workflow_id).describe()
            due = description.typed_search_attributes.get(search.NEXT_DEADLINE)
        except RPCError:
            due = None
    view["next_deadline"] = due.isoformat() if due else None
    _print(view, args.json, _status_text(view))
    return 0


def _status_text(view: dict[str, Any]) -> str:
    """The short human status: stage, who is awaited for what since when, the next
    deadline, the last event (`--json` has the whole view)."""
    awaited = "; ".join(f"{a['party']}: {a['command']}" for a in view.get("awaiting", []))
    rows = [
        ("process", f"{view['process_id']} ({as_workflow_id(view['process_id'])})"),
        ("stage", f"{view['stage']} since {view.get('stage_since') or '-'}"),
        ("waiting on", awaited or "nobody"),
        ("next deadline", view.get("next_deadline") or "none running"),
        ("events", f"{view['version']}, the last on {view.get('last_occurred_on') or '-'}"),
    ]
    return "\n".join(visible(f"{label:<14} {value}") for label, value in rows)


async def _cmd_list(args: argparse.Namespace) -> int:
    async with open_session(in_process_worker=False) as session:
        rows = await list_processes(
            session, stage=args.stage, partner=args.partner, pending=args.pending
        )
    header = f"{'PROCESS':<28} {'WORKFLOW':<34} {'STATUS':<10} {'STAGE':<22} WAITING ON"
    human = "\n".join(
        [header]
        + [
            visible(
                f"{(r.get('process_id') or '-'):<28} {r['workflow_id']:<34} "
                f"{(r['status'] or '-').lower():<10} {r['stage'] or '-':<22} "
                f"{', '.join(r.get('awaiting') or r['pending_agencies']) or '-'}"
            )
            for r in rows
        ]
    )
    _print_list(rows, args, human if rows else "no processes match")
    return 0


def _by(actor: Any) -> str:
    """ " · by" whoever acted, by name and title when the record has them."""
    if not isinstance(actor, dict) or actor.get("party") in (None, SYSTEM):
        return ""
    shown = person(actor) or f"{actor['party']} {actor.get('role', '')}".strip()
    return f" · by {shown}"


async def _cmd_timeline(args: argparse.Namespace) -> int:
    from readmodel.projections import Projections

    workflow_id = as_workflow_id(args.id)
    async with open_session(in_process_worker=False) as session:
        entries = await Projections(session.store).timeline(workflow_id)
        if not entries and not await session.store.stream_version(workflow_id):
            raise ProcessNotFound(f"no process with workflow id {workflow_id}")
    # One line per event, whatever the recorded text holds (domain.text.visible): the date
    # as written, what happened, who acted (as the source names them); with --sources, the
    # source each fact cites on the line below it.
    lines = []
    for e in entries:
        lines.append(visible(f"{e['occurred_on']:<12}  {e['summary']}{_by(e.get('actor'))}"))
        if args.sources:
            lines.append(visible(f"{'':<12}  source: {cited(e.get('source'))}"))
    _print_list(entries, args, "\n".join(lines) or "no events")
    return 0


async def _cmd_verify(args: argparse.Namespace) -> int:
    # Export and comparison of anchored heads: cli/verification.py.
    return await verification.run(args, as_workflow_id(args.stream) if args.stream else None)


async def _cmd_scenario(args: argparse.Namespace) -> int:
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


async def _cmd_db_migrate(args: argparse.Namespace) -> int:
    from store import migrate
    from store.embedded import database_url

    applied = await migrate(database_url())
    _print({"applied": applied}, args.json, f"migrations applied: {applied or 'none (up to date)'}")
    return 0


async def _cmd_projections_rebuild(args: argparse.Namespace) -> int:
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
    _print(counts, args.json, f"rebuilt projections: {counts}")
    return 0


def _cmd_dev_server(args: argparse.Namespace) -> int:
    from cli.devserver import background_worker, embedded_dev_server

    server = embedded_dev_server()
    worker = background_worker(server)
    if args.action == "start":
        started = server.start()
        worker.start()  # so the UI's details and `status` answer between commands
        _print(
            {"address": server.address, "ui": server.ui_url, "started": started, "worker": True},
            args.json,
            f"Temporal dev server on {server.address}, UI at {server.ui_url}, with a worker"
            + ("" if started else " (already running)"),
        )
    elif args.action == "stop":
        worker.stop()
        server.stop()
        _print({"stopped": True}, args.json, "stopped (dev server and worker)")
    else:
        _print(
            {"running": server.running(), "address": server.address, "worker": worker.running()},
            args.json,
        )
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("accord")
    except PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="accord", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"accord {_version()}")
    p.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="Temporal frontend (default: TEMPORAL_ADDRESS, the client profile, or the "
        "embedded dev server)",
    )
    p.add_argument("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def with_json(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    def with_output(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Lists: a table for people, one JSON array, or one JSON object per line."""
        with_json(sp)
        sp.add_argument(
            "--output",
            choices=["text", "json", "jsonl"],
            help="text (default), json (like --json) or jsonl (one object per line)",
        )
        return sp

    sub.add_parser("worker", help="run the worker (configured by environment)")

    s = with_json(sub.add_parser("start", help="open a process from a YAML/JSON file"))
    s.add_argument("file", help="file with the `process:` block of a scenario, or just it")

    s = with_json(sub.add_parser("send", help="send a DOMAIN.md command to a process"))
    s.add_argument("id", help="process id or workflow id")
    s.add_argument("command", help="command name, e.g. grant_consent")
    s.add_argument("--data", help="fields as JSON, or @file.json")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="one field (repeatable)")
    s.add_argument("--actor", help="party:role[:name]")
    s.add_argument(
        "--on",
        help="business date (occurred_on) as the source gives it: 2022-04-04, 2021-11, 2021, "
        "2022-01~ (approximate), 2021? (uncertain), 2023-06-16/2025-03-10 (a range)",
    )
    s.add_argument(
        "--update-id",
        metavar="ID",
        type=_update_id,
        help="the Temporal update id (default: a new one, printed). Re-sending with the id of "
        "an earlier send returns that send's outcome and records nothing again: retry with it",
    )

    s = with_json(sub.add_parser("status", help="the process view"))
    s.add_argument("id")

    s = with_output(sub.add_parser("list", help="find processes"))
    s.add_argument(
        "--stage",
        choices=[str(stage) for stage in Stage],
        metavar="STAGE",
        help="one of: " + ", ".join(str(stage) for stage in Stage),
    )
    s.add_argument("--partner")
    s.add_argument("--pending", metavar="AGENCY", help="processes waiting on this agency")

    s = with_output(sub.add_parser("timeline", help="the process's events as read by a person"))
    s.add_argument("id")
    s.add_argument(
        "--sources", action="store_true", help="show the source each fact cites, below it"
    )

    s = with_json(sub.add_parser("verify", help="check every hash chain; export or compare heads"))
    verification.add_arguments(s)

    sc = sub.add_parser("scenario", help="scenario files")
    scs = sc.add_subparsers(dest="scenario_cmd", required=True)
    s = with_json(scs.add_parser("run", help="play scenario files"))
    s.add_argument("files", nargs="+")
    s.add_argument(
        "--keep-server",
        action="store_true",
        help="leave the embedded Temporal dev server running (so the UI stays open)",
    )
    s.add_argument("--report-dir", metavar="DIR", help="write <process_id>.md and .html here")

    db = sub.add_parser("db", help="database")
    dbs = db.add_subparsers(dest="db_cmd", required=True)
    with_json(dbs.add_parser("migrate", help="apply pending migrations"))

    pr = sub.add_parser("projections", help="read models")
    prs = pr.add_subparsers(dest="projections_cmd", required=True)
    with_json(prs.add_parser("rebuild", help="rebuild every projection from the events"))

    s = with_json(sub.add_parser("dev-server", help="the embedded Temporal dev server"))
    s.add_argument("action", choices=["start", "stop", "status"])
    codec_server.add_parser(sub)
    cluster.add_parser(sub)
    feed_server.add_parser(sub)
    actor_token.add_parser(sub)
    report_cli.add_parser(sub)
    events_cli.add_parser(sub)
    schema_cli.add_parser(sub)
    commands_cli.add_parser(sub)
    for name, example in EXAMPLES.items():
        sub.choices[name].epilog = f"example:\n  {example}"
        sub.choices[name].formatter_class = argparse.RawDescriptionHelpFormatter
    return p


# One example per subcommand, shown by `accord <command> --help`.
EXAMPLES = {
    "worker": "TEMPORAL_ADDRESS=temporal:7233 accord worker",
    "start": "accord start scenarios/azerbaijan-icmp.yaml --json",
    "send": "accord send az-icmp grant_consent --actor mfa:head --on 2023-04-10 "
    "--set tor_version=1",
    "status": "accord status az-icmp",
    "list": "accord list --stage mission_planning --pending mfa",
    "timeline": "accord timeline az-icmp",
    "verify": "accord verify --heads -o heads.json; accord verify --expect-heads heads.json",
    "scenario": "accord scenario run scenarios/azerbaijan-icmp.yaml --keep-server",
    "db": "accord db migrate",
    "projections": "accord projections rebuild",
    "dev-server": "accord dev-server stop",
    "codec-server": "accord codec-server --port 8888 --origin http://127.0.0.1:8233",
    "cluster": "accord cluster up; accord cluster status --json",
    "feed-server": "ACCORD_FEED_TOKEN_FILE=feed.token accord feed-server --port 8720",
    "actor-token": "accord actor-token --actor mfa:head --process az-icmp --ttl PT10M",
    "report": "accord report az-icmp -o az-icmp.html",
    "events": "accord events --after 0 --follow --json",
    "schema": "accord schema check contracts",
    "commands": "accord commands grant_consent",
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    install_default_runtime()  # the SDK's own log lines to stderr, never into --json output
    # The flags win over the environment and the profile file (temporalio.envconfig).
    if args.address:
        os.environ["TEMPORAL_ADDRESS"] = args.address
    if args.namespace:
        os.environ["TEMPORAL_NAMESPACE"] = args.namespace
    if args.cmd == "worker":
        from workers.main import main as worker_main

        try:
            return worker_main()
        except KeyConfigError as err:  # keys missing or unusable: a set-up mistake
            print(f"accord worker: {err}", file=sys.stderr)
            return 2
    from workers import logs

    logs.configure(os.environ.get("ACCORD_LOG_LEVEL", "WARNING"))
    if args.cmd == "dev-server":
        return _cmd_dev_server(args)
    if args.cmd == "codec-server":
        return codec_server.run(args)
    if args.cmd == "cluster":
        return cluster.run(args)
    if args.cmd == "feed-server":
        return feed_server.run(args)
    if args.cmd == "actor-token":
        return actor_token.run(args)
    if args.cmd == "commands":
        return commands_cli.run(args)
    handlers = {
        "start": _cmd_start,
        "send": _cmd_send,
        "status": _cmd_status,
        "list": _cmd_list,
        "timeline": _cmd_timeline,
        "verify": _cmd_verify,
        "scenario": _cmd_scenario,
        "report": report_cli.run,
        "db": _cmd_db_migrate,
        "projections": _cmd_projections_rebuild,
        "events": events_cli.run,
        "schema": schema_cli.run,
    }
    try:
        return asyncio.run(handlers[args.cmd](args))
    except (KeyConfigError, UsageError) as err:  # set-up or usage mistakes: exit 2, no trace
        return _fail("usage", str(err), args)
    except ProcessNotFound as err:
        return _fail("not_found", str(err), args)
    except (OSError, RuntimeError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        # Temporal or PostgreSQL unreachable or refusing us: a set-up problem, said in one
        # line (ACCORD_DEBUG=1 shows the traceback).
        if os.environ.get("ACCORD_DEBUG"):
            raise
        return _fail("unavailable", f"{type(err).__name__}: {str(err)[:300]}", args)
    except KeyboardInterrupt:
        return 130


def _fail(code: str, message: str, args: argparse.Namespace) -> int:
    """One line on stderr, or one JSON object on stdout under `--json`; exit 2."""
    if getattr(args, "json", False) or getattr(args, "output", None) in ("json", "jsonl"):
        print(json.dumps({"ok": False, "code": code, "message": message}, ensure_ascii=False))
    else:
        print(f"accord: {message}", file=sys.stderr)
    return 2


def entrypoint() -> NoReturn:
    """The `accord` command: `main`, then leave without finalizing the interpreter.

    Temporal's native runtime keeps threads of its own; one may still call into Python
    while the interpreter finalizes, which aborts the process ("Fatal Python error:
    PyGILState_Release ... finalizing", exit 134), seen when a worker could not connect.
    Everything is done by the time `main` returns: flush what was written and exit with its
    code. (`main` itself stays an ordinary function for the tests that call it.)"""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entrypoint()
