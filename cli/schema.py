"""`accord schema export DIR` / `accord schema check DIR`: the JSON Schema contracts.

Generated from the domain's pydantic models, for services that send commands or read the
feed without Python:

    DIR/index.json                          what is where, error codes, how commands travel
    DIR/commands/<command>.json             a command's JSON input (e.g. grant_consent)
    DIR/events/<EventType>.v<N>.json        an event's `data` at schema_version N
    DIR/feed_event.json                     one line of `accord events --json`
    DIR/command_result.json                 what an accepted command (update) returns
    DIR/cli/<output>.json                   what the CLI prints under --json (cli/outputs.py)

An event's schema may change only together with a bump of its `schema_version` (and an
upcaster): events already recorded keep their version forever, so every published
`events/X.vN.json` stays true. `check` compares DIR with a fresh export and says what to
do; the committed snapshot is `contracts/` (tests/contracts).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

from cli.outputs import OUTPUTS
from domain import COMMANDS, EDTF_PATTERN, ERROR_CODES, EVENTS
from domain.text import Name, Text
from domain.vocabulary import Modality
from store.feed import FeedEventJson
from workflows.contracts import CommandResult

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
FORMAT = 1
_EVENT_FILE = re.compile(r"^(?P<type>[A-Za-z]+)\.v(?P<version>\d+)\.json$")

Document = dict[str, Any]


class _ContactLoggedV1(BaseModel):
    """`ContactLogged` as recorded at schema_version 1 (one optional `modality`); read
    through `domain.codec.UPCASTERS`. Kept for the contract of events already in the log."""

    model_config = ConfigDict(title="ContactLogged", extra="forbid")

    occurred_on: date
    venue: Name
    participants: tuple[Name, ...] = ()
    modality: Modality | None = None
    summary: Text = ""


LEGACY_EVENTS: dict[tuple[str, int], type[BaseModel]] = {("ContactLogged", 1): _ContactLoggedV1}


def _with_header(schema: Document, path: str, **extra: Any) -> Document:
    return {"$schema": JSON_SCHEMA, "$id": path, **extra, **schema}


def command_path(name: str) -> str:
    return f"commands/{name}.json"


def event_path(event_type: str, schema_version: int) -> str:
    return f"events/{event_type}.v{schema_version}.json"


def _feed_event_schema() -> Document:
    schema = TypeAdapter(FeedEventJson).json_schema()
    fields = schema["properties"]
    # store.feed stays free of pydantic; the formats its JSON values have are added here.
    fields["event_id"]["format"] = "uuid"
    # The store keeps the business date as written; what Accord writes is the domain's EDTF.
    fields["occurred_on"]["pattern"] = EDTF_PATTERN
    fields["occurred_on"]["description"] = (
        "The business date as written (EDTF): a day, a month or a year, optionally ~ "
        "(approximate), ? (uncertain) or % (both), or a range of two joined by /."
    )
    fields["source"] = {
        "title": "Source",
        "description": "Where the fact is written; present only when the event cites one.",
        "type": "object",
        "properties": {
            name: {"title": name.capitalize(), "type": "string"}
            for name in ("title", "publisher", "date", "locator")
        },
        "required": ["title", "date"],
        "additionalProperties": False,
    }
    fields["source"]["properties"]["date"]["pattern"] = EDTF_PATTERN  # the source's own date
    fields["recorded_at"]["format"] = "date-time"
    fields["position"]["description"] = "The checkpoint: resume with --after <position>."
    fields["data"]["description"] = "Valid against events/<type>.v<schema_version>.json."
    return schema


def documents() -> dict[str, Document]:
    """Every contract file of the current code, by path relative to the export directory
    (the index excluded: it also lists older event versions found in the directory)."""
    docs: dict[str, Document] = {}
    for name, command in sorted(COMMANDS.items()):
        # Commands are inputs: the schema of what the strict validator accepts.
        docs[command_path(name)] = _with_header(
            command.model_json_schema(mode="validation"), command_path(name), **{"x-command": name}
        )
    for event_type, event in sorted(EVENTS.items()):
        # Events are outputs: the schema of `data` exactly as recorded.
        path = event_path(event_type, event.schema_version)
        docs[path] = _with_header(
            event.model_json_schema(mode="serialization"),
            path,
            **{"x-event-type": event_type, "x-schema-version": event.schema_version},
        )
    # Older versions still in the log: their shape as recorded (the upcaster reads them).
    for (event_type, version), legacy in LEGACY_EVENTS.items():
        path = event_path(event_type, version)
        docs[path] = _with_header(
            legacy.model_json_schema(mode="serialization"),
            path,
            **{"x-event-type": event_type, "x-schema-version": version},
        )
    for path, model in OUTPUTS.items():
        docs[path] = _with_header(model.model_json_schema(mode="serialization"), path)
    docs["feed_event.json"] = _with_header(_feed_event_schema(), "feed_event.json")
    docs["command_result.json"] = _with_header(
        CommandResult.model_json_schema(mode="serialization"), "command_result.json"
    )
    return docs


def _event_versions(directory: Path, current: dict[str, Document]) -> dict[str, list[int]]:
    versions: dict[str, set[int]] = {t: {e.schema_version} for t, e in EVENTS.items()}
    events_dir = directory / "events"
    names = [p.name for p in events_dir.glob("*.json")] if events_dir.is_dir() else []
    for name in [*names, *(Path(p).name for p in current if p.startswith("events/"))]:
        match = _EVENT_FILE.match(name)
        if match:
            versions.setdefault(match["type"], set()).add(int(match["version"]))
    return {t: sorted(v) for t, v in sorted(versions.items())}


def index_document(directory: Path, current: dict[str, Document]) -> Document:
    return {
        "$id": "index.json",
        "format": FORMAT,
        "commands": {
            name: {
                "schema": command_path(name),
                "sent_as": (
                    "the start of workflow CooperationProcess, id coop-<process_id>, input"
                    " {open_process: <this>}"
                    if name == "open_process"
                    else f"Temporal update {name!r} to workflow coop-<process_id>, input <this>"
                ),
            }
            for name in sorted(COMMANDS)
        },
        "events": {
            event_type: {
                "schema_version": EVENTS[event_type].schema_version
                if event_type in EVENTS
                else None,
                "schemas": {str(v): event_path(event_type, v) for v in found},
            }
            for event_type, found in _event_versions(directory, current).items()
        },
        "error_codes": list(ERROR_CODES),
        "feed_event": "feed_event.json",
        "command_result": "command_result.json",
        "cli_outputs": sorted(OUTPUTS),
    }


def render(document: Document) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered(directory: Path) -> dict[str, str]:
    """Every file an export into `directory` writes, rendered, by relative path."""
    current = documents()
    current["index.json"] = index_document(directory, current)
    return {path: render(document) for path, document in current.items()}


def export(directory: Path) -> list[str]:
    """Write every contract into `directory`; returns the files written (relative paths).

    Older versions' event schemas already in the directory are kept and indexed: events of
    those versions stay in the log, and on the feed, forever.
    """
    files = rendered(directory)
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(files)


def _shape(node: Any, *, in_properties: bool = False) -> Any:
    """A schema without its prose: `description` keywords removed (not properties of
    that name), so rewording a docstring is not mistaken for a change of shape."""
    if isinstance(node, dict):
        return {
            key: _shape(value, in_properties=key == "properties" and not in_properties)
            for key, value in node.items()
            if in_properties or key != "description"
        }
    if isinstance(node, list):
        return [_shape(item) for item in node]
    return node


def problems(snapshot: Path) -> list[str]:
    """What differs between `snapshot` and the contracts the code exports now, each with
    what to do about it. Empty when the snapshot is up to date."""
    exported = rendered(snapshot)
    committed = {
        str(p.relative_to(snapshot)): p.read_text(encoding="utf-8")
        for p in snapshot.rglob("*.json")
    }
    found: list[str] = []
    reexport = "update the snapshot deliberately with `accord schema export contracts`"
    for path, text in sorted(exported.items()):
        old = committed.get(path)
        if old == text:
            continue
        event = _EVENT_FILE.match(Path(path).name) if path.startswith("events/") else None
        if old is None:
            found.append(f"{path}: new contract, not in the snapshot: {reexport}")
        elif event and _shape(json.loads(old)) != _shape(json.loads(text)):
            found.append(
                f"{path}: the schema of {event['type']} v{event['version']} changed, but "
                f"recorded events keep version {event['version']} forever. Bump "
                f"{event['type']}.schema_version to {int(event['version']) + 1} in "
                "domain/events.py, add the upcaster UPCASTERS"
                f"[({event['type']!r}, {event['version']})] in domain/codec.py, then run "
                "`accord schema export contracts` (the old file stays)"
            )
        elif event:
            found.append(f"{path}: only descriptions changed: {reexport}")
        else:
            found.append(f"{path}: differs from the snapshot: {reexport}")
    for path in sorted(set(committed) - set(exported)):
        event = _EVENT_FILE.match(Path(path).name) if path.startswith("events/") else None
        model = EVENTS.get(event["type"]) if event else None
        if event and model and int(event["version"]) < model.schema_version:
            continue  # an older version of a live event type: kept on purpose
        if event:
            found.append(
                f"{path}: {event['type']} v{event['version']} is no longer produced, but "
                "recorded events of it stay in the log: keep the event type (and this version "
                "readable through an upcaster)"
            )
        else:
            found.append(f"{path}: no longer exported: {reexport}")
    return found


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schema", help="JSON Schema contracts of commands and events")
    actions = p.add_subparsers(dest="schema_cmd", required=True)
    e = actions.add_parser("export", help="write the contracts into DIR (e.g. contracts)")
    e.add_argument("dir", type=Path)
    c = actions.add_parser("check", help="compare DIR with the contracts of this code")
    c.add_argument("dir", type=Path)


async def run(args: argparse.Namespace) -> int:
    if args.schema_cmd == "export":
        written = export(args.dir)
        print(f"wrote {len(written)} contract files into {args.dir}")
        return 0
    if not args.dir.is_dir():
        print(f"accord schema check: {args.dir} is not a directory", file=sys.stderr)
        return 2
    found = problems(args.dir)
    for problem in found:
        print(problem)
    if not found:
        print(f"{args.dir}: up to date")
    return 1 if found else 0
