"""The commands on one process or the set of them: `start`, `send`, `status`, `list`,
`timeline` and `verify`. Each handler takes the parsed arguments and returns the exit code
(0 done, 1 a refused command or broken chain, 2 bad input); the dispatch and the one-line
failures are cli/main.py's."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

import yaml
from temporalio.service import RPCError

from cli import verification
from cli.console import UsageError, print_list, print_payload, read_file
from cli.operations import (
    ProcessNotFound,
    as_workflow_id,
    list_processes,
    read_status,
    send_command,
    start_process,
)
from cli.session import open_session
from domain.parties import person
from domain.sources import cited
from domain.text import visible
from domain.vocabulary import SYSTEM


async def cmd_start(args: argparse.Namespace) -> int:
    from cli.scenario import read_yaml

    try:
        process = read_yaml(read_file("file", args.file))
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
    print_payload(result, args.json)
    # A refused opening is bad input to `start`: nothing was started.
    return 0 if outcome.accepted else 2


async def cmd_send(args: argparse.Namespace) -> int:
    payload = _command_payload(args)
    async with open_session() as session:
        outcome = await send_command(
            session, as_workflow_id(args.id), args.command, payload, update_id=args.update_id
        )
    print_payload(outcome.to_json(), args.json)
    return 0 if outcome.accepted else 1


def _command_payload(args: argparse.Namespace) -> dict[str, Any]:
    """The command's fields from `--data` (JSON or @file), each `--set`, `--actor`, `--on`."""
    payload: dict[str, Any] = {}
    if args.data:
        source = read_file("--data", args.data[1:]) if args.data.startswith("@") else args.data
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


def _coerce(value: str) -> Any:
    """A `--set key=value` value: JSON when it parses (numbers, lists, objects), else text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


async def cmd_status(args: argparse.Namespace) -> int:
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
    print_payload(view, args.json, _status_text(view))
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


async def cmd_list(args: argparse.Namespace) -> int:
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
    print_list(rows, args, human if rows else "no processes match")
    return 0


async def cmd_timeline(args: argparse.Namespace) -> int:
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
    print_list(entries, args, "\n".join(lines) or "no events")
    return 0


def _by(actor: Any) -> str:
    """ " · by" whoever acted, by name and title when the record has them."""
    if not isinstance(actor, dict) or actor.get("party") in (None, SYSTEM):
        return ""
    shown = person(actor) or f"{actor['party']} {actor.get('role', '')}".strip()
    return f" · by {shown}"


async def cmd_verify(args: argparse.Namespace) -> int:
    # Export and comparison of anchored heads: cli/verification.py.
    return await verification.run(args, as_workflow_id(args.stream) if args.stream else None)
