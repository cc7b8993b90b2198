"""What every `accord` command shares with the person or script at the terminal: how a
usage mistake is said (`UsageError`, exit 2), how a result is printed (YAML for people,
JSON under `--json`, one object per line under `--output jsonl`) and how a named file is
read (a missing or unreadable file is a usage mistake, never a traceback)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from domain.text import visible


class UsageError(Exception):
    """A user's mistake in how `accord` was called: one line, exit 2, never a traceback."""


def print_list(rows: list[dict[str, Any]], args: argparse.Namespace, human: str) -> None:
    """A list: the `human` table, one JSON array, or one JSON object per line."""
    output = args.output or ("json" if args.json else "text")
    if output == "jsonl":
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
    else:
        print_payload(rows, output == "json", human)


def print_payload(payload: Any, as_json: bool, human: str | None = None) -> None:
    """One result: JSON under `--json`, else `human` (or the payload as YAML)."""
    if as_json:
        print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    else:
        print(human if human is not None else yaml.safe_dump(payload, sort_keys=False).rstrip())


def read_file(option: str, path: str) -> str:
    """The text of the file an option names; a missing or unreadable one is a UsageError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{option}: no such file: {visible(path)[:200]}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(
            f"{option}: cannot read {visible(path)[:200]}: {type(err).__name__}"
        ) from None
