"""`@command_rule`: a command's who and where, declared on the function that decides it.

Each command of DOMAIN.md has one home, a function in `domain/rules/` that holds its guard
and the events it causes, decorated with who may issue it and in which stages it is
accepted. The decorator fills the two tables the rest of the project reads, so they can
never disagree with the code: `domain.policy.POLICY` (printed by `accord commands`, checked
by SECURITY.md's test and `authorize`) and `domain.stages.ALLOWED_IN` (checked by `decide`,
shown by `accord commands`).

The decorator does not dispatch: `decide` matches on the command's class, so a command
without a case fails mypy (`assert_never`), and a test checks that every command class is
registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from domain import commands as cmd
from domain.policy import POLICY, Rule
from domain.stages import ALLOWED_IN, Stage
from domain.state import ProcessState

F = TypeVar("F", bound=Callable[..., object])

# An extra check of who may issue a command, run where `authorize` runs (the not_allowed
# step of `decide`'s order), for rules the policy table cannot say: resume is for the party
# that suspended.
Authorization = Callable[[ProcessState, cmd.Command], None]


@dataclass(frozen=True, slots=True)
class CommandRule:
    command: type[cmd.Command]
    who: tuple[Rule, ...]
    stages: frozenset[Stage] | None  # None: only an unopened process (open_process)
    also_allowed: Authorization | None = None


RULES: dict[str, CommandRule] = {}


def declare(
    command: type[cmd.Command],
    *,
    who: Iterable[Rule],
    stages: Iterable[Stage] | None,
    also_allowed: Authorization | None = None,
) -> CommandRule:
    """Register a command's who and stages (for commands decided elsewhere, e.g.
    correct_record in domain/corrections.py)."""
    name = command.name
    if name in RULES:
        raise ValueError(f"{name}: declared twice")
    rule = CommandRule(
        command, tuple(who), frozenset(stages) if stages is not None else None, also_allowed
    )
    RULES[name] = rule
    POLICY[name] = rule.who
    if rule.stages is not None:
        ALLOWED_IN[name] = rule.stages
    return rule


def command_rule(
    command: type[cmd.Command],
    *,
    who: Iterable[Rule],
    stages: Iterable[Stage],
    also_allowed: Authorization | None = None,
) -> Callable[[F], F]:
    """Declare `command`'s who and stages on the function that decides it."""

    def register(decision: F) -> F:
        declare(command, who=who, stages=stages, also_allowed=also_allowed)
        return decision

    return register


def in_command_order() -> None:
    """Reorder the registered tables as the domain lists its commands (COMMANDS, then the
    timers), and check that every command has a rule."""
    order = [*cmd.COMMANDS, *cmd.SYSTEM_COMMANDS]
    missing = [name for name in order if name not in RULES]
    if missing:
        raise RuntimeError(f"commands without a rule: {', '.join(missing)}")
    tables: tuple[dict[str, Any], ...] = (RULES, POLICY, ALLOWED_IN)
    for table in tables:
        entries = dict(table)
        table.clear()
        table.update({name: entries[name] for name in order if name in entries})
