"""Timers: deadlines, reminders and dormancy, issued by the workflow as the `system` party.

Stale or irrelevant firings are no-ops, never errors: a timer armed for a ToR or report
version that has since been replaced decides nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.parties import ProcessConfig
from domain.policy import party
from domain.rules.registry import command_rule
from domain.stages import DORMANT_FROM, NON_TERMINAL
from domain.stages import Stage as S
from domain.state import ProcessState
from domain.vocabulary import EscalationMatter


def _targets(c: ProcessConfig, agency: str) -> tuple[str, ...]:
    # Escalate above the silent agency, not to itself (unless it is the only target).
    others = tuple(k for k in c.escalation_targets if k != agency)
    return others or c.escalation_targets


def _missed(
    c: ProcessConfig,
    agencies: Iterable[str],
    matter: EscalationMatter,
    version: int,
    overdue: Callable[[str], ev.Event],
) -> list[ev.Event]:
    """A missed deadline: each silent agency's answer is overdue, and escalated above it."""
    out: list[ev.Event] = []
    for agency in agencies:
        late = overdue(agency)
        out.append(late)
        out.append(
            ev.Escalated(
                occurred_on=late.occurred_on,
                agency=agency,
                matter=matter,
                version=version,
                targets=_targets(c, agency),
            )
        )
    return out


@command_rule(cmd.ConsentDeadlineReached, who=(party("system"),), stages=NON_TERMINAL)
def consent_deadline(
    s: ProcessState, c: ProcessConfig, x: cmd.ConsentDeadlineReached, on: BusinessDate
) -> list[ev.Event]:
    if s.stage != S.MISSION_PLANNING or x.tor_version != s.mission.tor_version:
        return []
    version = x.tor_version
    pending = s.mission.consents_with("pending")
    return _missed(
        c,
        pending,
        "consent",
        version,
        lambda a: ev.ConsentOverdue(occurred_on=on, agency=a, tor_version=version),
    )


@command_rule(cmd.ReviewReminderDue, who=(party("system"),), stages=NON_TERMINAL)
def review_reminder(
    s: ProcessState, c: ProcessConfig, x: cmd.ReviewReminderDue, on: BusinessDate
) -> list[ev.Event]:
    if s.stage != S.UNDER_REVIEW or x.report_version != s.report.version:
        return []
    return [
        ev.ReviewReminderSent(occurred_on=on, agency=agency, report_version=x.report_version)
        for agency in s.report.reviews_with("pending", "overdue")
        if x.agency in (None, agency)
    ]


@command_rule(cmd.ReviewDeadlineReached, who=(party("system"),), stages=NON_TERMINAL)
def review_deadline(
    s: ProcessState, c: ProcessConfig, x: cmd.ReviewDeadlineReached, on: BusinessDate
) -> list[ev.Event]:
    if s.stage != S.UNDER_REVIEW or x.report_version != s.report.version:
        return []
    version = x.report_version
    pending = [a for a in s.report.reviews_with("pending") if x.agency in (None, a)]
    return _missed(
        c,
        pending,
        "review",
        version,
        lambda a: ev.ReviewOverdue(occurred_on=on, agency=a, report_version=version),
    )


@command_rule(cmd.DormancyDue, who=(party("system"),), stages=NON_TERMINAL)
def dormancy(
    s: ProcessState, c: ProcessConfig, x: cmd.DormancyDue, on: BusinessDate
) -> list[ev.Event]:
    if s.stage not in DORMANT_FROM:
        return []
    after = c.durations.model_dump(mode="json")["dormancy_after"]  # ISO 8601, as configured
    reason = f"no progress within {after}"
    return [ev.ProcessWentDormant(occurred_on=on, reason=reason, automatic=True)]
