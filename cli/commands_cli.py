"""`accord commands [NAME] [--json]`: every DOMAIN.md command, who may send it, in which
stages, and its fields, read from the same JSON Schemas as `contracts/commands/`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from domain import COMMANDS, EDTF_PATTERN
from domain.policy import allowed_text
from domain.stages import ALLOWED_IN


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "commands",
        help="every command with who may send it, its stages and its fields",
        description="Example: accord commands grant_consent",
    )
    p.add_argument("name", nargs="?", help="one command (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def describe(name: str) -> dict[str, Any]:
    schema = COMMANDS[name].model_json_schema(mode="validation")
    required = set(schema.get("required", []))
    fields = []
    for field, spec in schema.get("properties", {}).items():
        fields.append(
            {
                "name": field,
                "type": _type(spec),
                "required": field in required,
                **({"values": spec["enum"]} if "enum" in spec else {}),
            }
        )
    stages = ALLOWED_IN.get(name)
    return {
        "command": name,
        "who": allowed_text(name),
        "stages": sorted(stages) if stages is not None else ["(before the process exists)"],
        "fields": fields,
        "schema": f"contracts/commands/{name}.json",
    }


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        return str(spec["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in spec:
        return " | ".join(_type(s) for s in spec["anyOf"])
    kind = str(spec.get("type", "any"))
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if "format" in spec:
        return f"{kind} ({spec['format']})"
    if spec.get("pattern") == EDTF_PATTERN:
        return f"{kind} (EDTF date: 2022-04-04, 2021-11, 2021, 2022-01~, 2021?, a/b)"
    if "enum" in spec:
        return " | ".join(map(str, spec["enum"]))
    return kind


def run(args: argparse.Namespace) -> int:
    if args.name is not None and args.name not in COMMANDS:
        message = f"no command {args.name[:60]!r}; `accord commands` lists them"
        if args.json:
            print(json.dumps({"ok": False, "code": "not_found", "message": message}))
        else:
            print(f"accord: {message}", file=sys.stderr)
        return 2
    names = [args.name] if args.name else sorted(COMMANDS)
    described = [describe(n) for n in names]
    if args.json:
        print(json.dumps(described if args.name is None else described[0], indent=2))
        return 0
    for entry in described:
        print(f"{entry['command']}  (by {entry['who']}; in {', '.join(entry['stages'])})")
        for field in entry["fields"]:
            need = "required" if field["required"] else "optional"
            print(f"    {field['name']:<22} {need:<9} {field['type']}")
    return 0
