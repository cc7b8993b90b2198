"""Opening, contacts and negotiations: DOMAIN.md from the first contact to the
negotiations (and dormancy, when nobody moves)."""

from __future__ import annotations

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.parties import ProcessConfig
from domain.policy import party
from domain.rules.guards import guard, known
from domain.rules.recorded import recorded
from domain.rules.registry import command_rule
from domain.stages import AFTER_CONTACT, DORMANT_FROM
from domain.stages import Stage as S
from domain.state import ProcessState
from domain.vocabulary import NATIONAL_BODY, PARTNER


def _negotiations_open(state: ProcessState, opinion: str | None, representative: bool) -> bool:
    return state.stage == S.OPTIONS_REVIEW and opinion == "negotiate" and representative


@command_rule(
    cmd.LogContact,
    who=(party("national_body"), party("channel")),
    stages={S.CONTACT, S.OPTIONS_REVIEW},
)
def log_contact(
    s: ProcessState, c: ProcessConfig, x: cmd.LogContact, on: BusinessDate
) -> list[ev.Event]:
    return [recorded(ev.ContactLogged, x, on)]


@command_rule(
    cmd.SubmitOpinion,
    who=(party("national_body", "chair", "secretary"),),
    stages={S.OPTIONS_REVIEW},
)
def submit_opinion(
    s: ProcessState, c: ProcessConfig, x: cmd.SubmitOpinion, on: BusinessDate
) -> list[ev.Event]:
    guard(s.opinion is None, x.name, "the national body has already given its opinion")
    out: list[ev.Event] = [recorded(ev.OpinionSubmitted, x, on)]
    if _negotiations_open(s, x.recommendation, s.representative is not None):
        out.append(ev.NegotiationsOpened(occurred_on=on))
    return out


@command_rule(cmd.AssignRepresentative, who=(party("channel", "head"),), stages=AFTER_CONTACT)
def assign_representative(
    s: ProcessState, c: ProcessConfig, x: cmd.AssignRepresentative, on: BusinessDate
) -> list[ev.Event]:
    out: list[ev.Event] = [recorded(ev.RepresentativeAssigned, x, on, agency=c.channel.key)]
    recommendation = s.opinion.recommendation if s.opinion else None
    if _negotiations_open(s, recommendation, True):
        out.append(ev.NegotiationsOpened(occurred_on=on))
    return out


@command_rule(
    cmd.RecordMeeting, who=(party("national_body"), party("any_agency")), stages=AFTER_CONTACT
)
def record_meeting(
    s: ProcessState, c: ProcessConfig, x: cmd.RecordMeeting, on: BusinessDate
) -> list[ev.Event]:
    known(c, x.agencies_present, x.name, "agencies_present")
    known(c, [x.initiator], x.name, "initiator", parties=(PARTNER, NATIONAL_BODY))
    return [recorded(ev.MeetingRecorded, x, on)]


@command_rule(cmd.MarkDormant, who=(party("national_body"),), stages=DORMANT_FROM)
def mark_dormant(
    s: ProcessState, c: ProcessConfig, x: cmd.MarkDormant, on: BusinessDate
) -> list[ev.Event]:
    return [recorded(ev.ProcessWentDormant, x, on, automatic=False)]


@command_rule(
    cmd.ReEngage, who=(party("national_body"), party("escalation_target")), stages={S.DORMANT}
)
def re_engage(
    s: ProcessState, c: ProcessConfig, x: cmd.ReEngage, on: BusinessDate
) -> list[ev.Event]:
    known(c, [x.initiator], x.name, "initiator", parties=(PARTNER, NATIONAL_BODY))
    return [recorded(ev.ProcessReengaged, x, on)]
