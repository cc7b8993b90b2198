"""`recorded`: the event that records a command, built from the facts the command gives.

An event and the command it records name a fact the same way (DOMAIN.md's vocabulary:
`venue`, `draft_version`, `planned_start`, ...), so a rule only spells out what does not
come from the command: what the state knows (the instrument's type, the channel's key), the
acting party, a round counted by the process. The event model still validates every field.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate

E = TypeVar("E", bound=ev.Event)


def recorded(event: type[E], command: cmd.Command, on: BusinessDate, **values: Any) -> E:
    """`event` on `on`, each of its fields the command also has taken from the command;
    `values` give the others and win over the command's."""
    facts = {name: getattr(command, name) for name in _shared(event, type(command))}
    facts.update(values)
    return event(occurred_on=on, **facts)


@cache
def _shared(event: type[ev.Event], command: type[cmd.Command]) -> tuple[str, ...]:
    return tuple(
        name
        for name in event.model_fields
        if name in command.model_fields and name != "occurred_on"
    )
