"""The whole process: suspension, resumption, withdrawal, closing, and the declarations of
the two commands decided outside this package (open_process in `decide`, correct_record
in domain/corrections.py)."""

from __future__ import annotations

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.errors import DomainError
from domain.parties import ProcessConfig
from domain.policy import HEADS, party
from domain.rules.recorded import recorded
from domain.rules.registry import command_rule, declare
from domain.stages import NON_TERMINAL
from domain.stages import Stage as S
from domain.state import ProcessState


def _only_the_suspending_party(s: ProcessState, x: cmd.Command) -> None:
    # DOMAIN.md: a suspension is lifted by the party that suspended, not by the other.
    suspended_by = s.suspended_by
    if suspended_by not in (None, x.actor.party):
        raise DomainError(
            "not_allowed",
            f"resume: only the party that suspended ({suspended_by}) may resume",
            "actor.party",
        )


@command_rule(cmd.Suspend, who=HEADS, stages=NON_TERMINAL - {S.SUSPENDED})
def suspend(s: ProcessState, c: ProcessConfig, x: cmd.Suspend, on: BusinessDate) -> list[ev.Event]:
    return [recorded(ev.ProcessSuspended, x, on, party=x.actor.party)]


@command_rule(cmd.Resume, who=HEADS, stages={S.SUSPENDED}, also_allowed=_only_the_suspending_party)
def resume(s: ProcessState, c: ProcessConfig, x: cmd.Resume, on: BusinessDate) -> list[ev.Event]:
    return [recorded(ev.ProcessResumed, x, on, party=x.actor.party)]


@command_rule(cmd.Withdraw, who=HEADS, stages=NON_TERMINAL)
def withdraw(
    s: ProcessState, c: ProcessConfig, x: cmd.Withdraw, on: BusinessDate
) -> list[ev.Event]:
    return [recorded(ev.ProcessWithdrawn, x, on, party=x.actor.party)]


@command_rule(
    cmd.CloseProcess, who=(party("national_body", "chair"),), stages={S.PRESENTED, S.PUBLISHED}
)
def close_process(
    s: ProcessState, c: ProcessConfig, x: cmd.CloseProcess, on: BusinessDate
) -> list[ev.Event]:
    return [recorded(ev.ProcessClosed, x, on)]


# Decided in `decide` itself: the first command, before there is a configuration.
declare(cmd.OpenProcess, who=(party("national_body"), party("partner")), stages=None)
# Decided in domain/corrections.py (its own order of checks). Any party may ask; the
# decider admits only the party that recorded the corrected event, or the national_body
# chair.
declare(
    cmd.CorrectRecord,
    who=(party("partner"), party("national_body"), party("any_agency")),
    stages=NON_TERMINAL,
)
