"""decide: check a command against the state and say which events it causes.

Checks run in a fixed order so callers always get the most fundamental reason first:
future date -> terminal -> not_allowed -> wrong_stage -> out_of_order -> guard_failed (and
invalid_input for values that name parties or agencies the process does not have).

The future-date check (`today` given) comes first, where a malformed value is caught: it
judges the command alone, like `parse_command`'s checks that run before `decide`, so a
command dated in the future is `invalid_input` whatever the process's state, exactly as a
malformed date would be. Timer (system) commands are exempt: the workflow builds them
itself, and refusing one would lose a deadline; it never dates them in the future.
"""

from __future__ import annotations

from datetime import date
from typing import assert_never, cast

from domain import commands as cmd
from domain import events as ev
from domain.corrections import FUTURE_TOLERANCE, decide_correction
from domain.dates import BusinessDate
from domain.errors import DomainError
from domain.evolve import evolve, fold
from domain.parties import ProcessConfig
from domain.policy import authorize
from domain.rules import RULES, instrument, mission, opening, process, report, timers
from domain.stages import ALLOWED_IN
from domain.state import ProcessState

__all__ = ["decide", "evolve", "fold"]


def decide(
    state: ProcessState, command: cmd.Command, *, today: date | None = None
) -> list[ev.Event]:
    """The events `command` causes in `state`, or DomainError. Pure: nothing is changed.

    With `today` (the caller's current UTC date: the workflow passes
    `workflow.now().date()`), a business date later than today plus FUTURE_TOLERANCE is
    refused `invalid_input` (invariant 1: a fact is recorded once it has happened; the day
    of tolerance covers a caller whose local date is ahead of UTC). Without `today` there
    is no such check (replays of recorded facts, tests, tools without a clock).
    """
    name = command.name
    if (
        today is not None
        and name not in cmd.SYSTEM_COMMANDS
        and command.occurred_on.earliest > today + FUTURE_TOLERANCE
    ):
        # An imprecise date is refused only when even its earliest possible day is to come.
        raise DomainError(
            "invalid_input",
            f"{name}: occurred_on {command.occurred_on} is later than today "
            f"(UTC) plus one day of tolerance ({(today + FUTURE_TOLERANCE).isoformat()}); "
            "a fact is recorded once it has happened",
            "occurred_on",
        )
    source = command.source
    if today is not None and source is not None and source.date.earliest > today + FUTURE_TOLERANCE:
        raise DomainError(
            "invalid_input",
            f"{name}: field 'source.date': {source.date} is later than today (UTC) plus one "
            "day of tolerance; a source is cited once it exists",
            "source.date",
        )
    if state.is_terminal:
        raise DomainError(
            "terminal", f"{name}: the process is {state.stage} (terminal) and accepts no command"
        )
    config = state.config
    if config is None:
        if not isinstance(command, cmd.OpenProcess):
            raise DomainError(
                "wrong_stage", f"{name}: the process is not opened; only open_process is accepted"
            )
        authorize(name, command.actor, None)
        return [ev.ProcessOpened(occurred_on=command.occurred_on, process=command.process)]
    authorize(name, command.actor, config)
    also_allowed = RULES[name].also_allowed
    if also_allowed is not None:
        also_allowed(state, command)
    if isinstance(command, cmd.OpenProcess):
        raise DomainError("wrong_stage", "open_process: the process is already opened")
    allowed = ALLOWED_IN[name]
    if state.stage not in allowed:
        stages = ", ".join(sorted(allowed))
        raise DomainError(
            "wrong_stage", f"{name}: not accepted in stage {state.stage}; accepted in: {stages}"
        )
    if isinstance(command, cmd.CorrectRecord):
        # Its own order of checks (domain/corrections.py): the out_of_order check compares
        # with the last business date as corrected, so a wrong latest date can be undone.
        return [decide_correction(state, command, today)]
    on = command.occurred_on
    last = state.last_occurred_on
    # Invariant 1 on the earliest possible days (DOMAIN.md): "2021-11" may follow "2021",
    # "2021-01/2021-12" may follow "2021-01"; "2021" may not follow "2021-11-15", nor
    # "2021-10" follow "2021-11".
    if last is not None and on.earliest < last.earliest:
        if name in cmd.SYSTEM_COMMANDS:
            on = last  # a timer firing is never "late": it happens at the latest known date
        else:
            raise DomainError(
                "out_of_order",
                f"{name}: occurred_on {on} is earlier than the last recorded "
                f"business date {last}; dates never go backwards",
                "occurred_on",
            )
    # Every command class is in the union (tests/domain checks it), so the cast states a
    # fact; what it buys is the exhaustive match below.
    return _decision(state, config, cast(cmd.AnyCommand, command), on)


def _decision(
    s: ProcessState, c: ProcessConfig, x: cmd.AnyCommand, on: BusinessDate
) -> list[ev.Event]:
    """The rule of `x`'s command (domain/rules/), which guards it and says what it causes."""
    match x:
        case cmd.LogContact():
            return opening.log_contact(s, c, x, on)
        case cmd.SubmitOpinion():
            return opening.submit_opinion(s, c, x, on)
        case cmd.AssignRepresentative():
            return opening.assign_representative(s, c, x, on)
        case cmd.RecordMeeting():
            return opening.record_meeting(s, c, x, on)
        case cmd.MarkDormant():
            return opening.mark_dormant(s, c, x, on)
        case cmd.ReEngage():
            return opening.re_engage(s, c, x, on)
        case cmd.ProposeInstrument():
            return instrument.propose_instrument(s, c, x, on)
        case cmd.ClearInstrument():
            return instrument.clear_instrument(s, c, x, on)
        case cmd.SignInstrument():
            return instrument.sign_instrument(s, c, x, on)
        case cmd.ProposeMission():
            return mission.propose_mission(s, c, x, on)
        case cmd.GrantConsent():
            return mission.grant_consent(s, c, x, on)
        case cmd.RefuseConsent():
            return mission.refuse_consent(s, c, x, on)
        case cmd.RescheduleMission():
            return mission.reschedule_mission(s, c, x, on)
        case cmd.StartMission():
            return mission.start_mission(s, c, x, on)
        case cmd.RecordMissionMeeting():
            return mission.record_mission_meeting(s, c, x, on)
        case cmd.CompleteMission():
            return mission.complete_mission(s, c, x, on)
        case cmd.DeliverReport():
            return report.deliver_report(s, c, x, on)
        case cmd.SubmitReview():
            return report.submit_review(s, c, x, on)
        case cmd.SubmitConclusions():
            return report.submit_conclusions(s, c, x, on)
        case cmd.RequestRevision():
            return report.request_revision(s, c, x, on)
        case cmd.ReviseReport():
            return report.revise_report(s, c, x, on)
        case cmd.AcceptReport():
            return report.accept_report(s, c, x, on)
        case cmd.HoldPresentation():
            return report.hold_presentation(s, c, x, on)
        case cmd.ClearPublication():
            return report.clear_publication(s, c, x, on)
        case cmd.PublishReport():
            return report.publish_report(s, c, x, on)
        case cmd.Suspend():
            return process.suspend(s, c, x, on)
        case cmd.Resume():
            return process.resume(s, c, x, on)
        case cmd.Withdraw():
            return process.withdraw(s, c, x, on)
        case cmd.CloseProcess():
            return process.close_process(s, c, x, on)
        case cmd.ConsentDeadlineReached():
            return timers.consent_deadline(s, c, x, on)
        case cmd.ReviewReminderDue():
            return timers.review_reminder(s, c, x, on)
        case cmd.ReviewDeadlineReached():
            return timers.review_deadline(s, c, x, on)
        case cmd.DormancyDue():
            return timers.dormancy(s, c, x, on)
        case cmd.OpenProcess() | cmd.CorrectRecord():
            # Decided above, before the stage checks (open) and in domain/corrections.py.
            raise AssertionError(f"{x.name} is decided before dispatch")
        case _:
            assert_never(x)
