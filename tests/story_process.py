"""The story's process (parties, agencies and their flags) as `scenarios/azerbaijan-icmp.yaml`
gives it, for tests that build a process like the story's: written once, in the scenario
file, not copied into each suite. Durations and limits stay each suite's own (a test of
deadlines wants short ones; the replay, real ones)."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from cli.scenario import read_yaml

STORY = Path(__file__).resolve().parents[1] / "scenarios" / "azerbaijan-icmp.yaml"
# Keys of the scenario's `process` block that belong to the opening step, not the process.
_OPENING_KEYS = ("on", "actor", "source", "process_id", "durations", "max_revisions")


@cache
def _story() -> dict[str, Any]:
    # The scenario language's own reader: YAML 1.1 would read the key `on` as true.
    block: dict[str, Any] = read_yaml(STORY.read_text(encoding="utf-8"))["process"]
    return {k: v for k, v in block.items() if k not in _OPENING_KEYS}


def story_process(process_id: str, durations: dict[str, str], max_revisions: int) -> dict[str, Any]:
    """An `open_process` configuration with the story's parties and agencies."""
    return {
        "process_id": process_id,
        **copy.deepcopy(_story()),
        "durations": dict(durations),
        "max_revisions": max_revisions,
    }


def story_agencies() -> list[dict[str, Any]]:
    return copy.deepcopy(_story()["agencies"])
