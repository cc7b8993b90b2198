"""The seed story as the domain sees it, read from `scenarios/azerbaijan-icmp.yaml`.

Decider specifications start from the story's own facts: `before(name)` is every event
recorded before the story's first `name` command, `command(name)` that command as the file
gives it. Nothing here restates the story; a change to the scenario file shows in every
test that uses it.
"""

from __future__ import annotations

from functools import cache

from domain import Command, Event, decode_event
from tests.report.story import scenario_recorder

Recorded = tuple[Event, str | None]


@cache
def _played() -> tuple[tuple[Recorded, ...], tuple[tuple[int, str, Command], ...]]:
    """The story's events (with the party that recorded each) and, for each command, how
    many events had been recorded before it."""
    recorder = scenario_recorder()
    events = tuple(
        (
            decode_event(r.event_type, r.schema_version, r.data),
            str(r.metadata.actor["party"]) if r.metadata.actor else None,
        )
        for r in recorder.events
    )
    return events, tuple(recorder.commands)


def events() -> tuple[Recorded, ...]:
    return _played()[0]


def before(name: str) -> tuple[Recorded, ...]:
    """Every event the story records before its first `name` command."""
    recorded, commands = _played()
    for count, command_name, _ in commands:
        if command_name == name:
            return recorded[:count]
    raise KeyError(f"the story has no {name} command")


def command(name: str) -> Command:
    """The story's first `name` command, as parsed from the scenario file."""
    for _, command_name, parsed in _played()[1]:
        if command_name == name:
            return parsed
    raise KeyError(f"the story has no {name} command")
