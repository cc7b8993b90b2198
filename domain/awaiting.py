"""Who the process is waiting on, for what, since when (DOMAIN.md "Awaiting and clocks").

For each stage, the commands that move the process on, and who is expected to send them.
Every entry is then checked against the rules `decide` applies, so the read model can
never name a party the policy would refuse, or a command the stage would refuse:

- the party may issue the command (`policy.party_may_issue`, the table `authorize` reads);
- the command is accepted in the current stage (`stages.ALLOWED_IN`);
- its guard holds where the guard is a state predicate shared with `decide`
  (`conclusions_due`: every review in, or each missing one overdue and escalated).

Deadlines are the process's clocks (`workflows/clocks.py`): the workflow adds them where
it publishes this model (current details, search attributes).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from domain.dates import BusinessDate
from domain.parties import ProcessConfig
from domain.policy import party_may_issue
from domain.stages import ALLOWED_IN, Stage
from domain.state import ProcessState
from domain.vocabulary import NATIONAL_BODY, PARTNER


class Awaiting(BaseModel):
    """One party whose command is expected next: `partner: start_mission`."""

    model_config = ConfigDict(frozen=True)

    party: str  # partner, national_body or an agency key
    command: str
    since: BusinessDate | None  # the business date the wait began (the current stage's start)

    def label(self) -> str:
        return f"{self.party}: {self.command}"


def conclusions_due(state: ProcessState) -> bool:
    """The channel may submit the consolidated conclusions: every review submitted, or each
    missing one overdue and escalated (the guard of `submit_conclusions`)."""
    return not state.report.awaited_reviews()


def awaiting(state: ProcessState) -> tuple[Awaiting, ...]:
    """Every (party, command) the process waits for now, in a stable order."""
    config = state.config
    if config is None or state.stage is None or state.is_terminal:
        return ()
    since = state.stage_since
    wanted = [
        (party, command)
        for party, command in _expected(state, config)
        if state.stage in ALLOWED_IN.get(command, frozenset())
        and party_may_issue(command, party, config)
    ]
    return tuple(Awaiting(party=p, command=c, since=since) for p, c in wanted)


def _expected(state: ProcessState, config: ProcessConfig) -> list[tuple[str, str]]:
    channel = config.channel.key
    stage = state.stage
    instrument = state.instrument
    report = state.report
    out: list[tuple[str, str]] = []
    if stage == Stage.CONTACT:
        out += [(NATIONAL_BODY, "log_contact"), (channel, "log_contact")]
    elif stage == Stage.OPTIONS_REVIEW:
        if state.opinion is None:
            out.append((NATIONAL_BODY, "submit_opinion"))
        if state.representative is None:
            out.append((channel, "assign_representative"))
    elif stage == Stage.NEGOTIATING:
        if not instrument.draft_version:
            out.append((PARTNER, "propose_instrument"))
        elif instrument.cleared_version != instrument.draft_version:
            out.append((channel, "clear_instrument"))
        else:
            out.append((NATIONAL_BODY, "sign_instrument"))
    elif stage == Stage.INSTRUMENT_SIGNED:
        out.append((PARTNER, "propose_mission"))
    elif stage == Stage.MISSION_PLANNING:
        out += [(a, "grant_consent") for a in state.mission.consents_with("pending", "overdue")]
    elif stage == Stage.MISSION_READY:
        out.append((PARTNER, "start_mission"))
    elif stage == Stage.MISSION_IN_PROGRESS:
        out.append((PARTNER, "complete_mission"))
    elif stage == Stage.MISSION_COMPLETED:
        out.append((PARTNER, "deliver_report"))
    elif stage == Stage.UNDER_REVIEW:
        out += [(a, "submit_review") for a in report.reviews_with("pending", "overdue")]
        if conclusions_due(state):
            out.append((channel, "submit_conclusions"))
    elif stage == Stage.CONCLUSIONS_SUBMITTED:
        out.append((NATIONAL_BODY, "accept_report"))
    elif stage == Stage.REVISION:
        out.append((PARTNER, "revise_report"))
    elif stage == Stage.ACCEPTED:
        out.append((NATIONAL_BODY, "hold_presentation"))
    elif stage == Stage.PRESENTED:
        uncleared = [p for p in (NATIONAL_BODY, PARTNER) if p not in report.clearances]
        out += [(p, "clear_publication") for p in uncleared]
        if not uncleared:
            out.append((NATIONAL_BODY, "publish_report"))
        out.append((NATIONAL_BODY, "close_process"))
    elif stage == Stage.PUBLISHED:
        out.append((NATIONAL_BODY, "close_process"))
    elif stage == Stage.DORMANT:
        out.append((NATIONAL_BODY, "re_engage"))
        out += [(a.key, "re_engage") for a in config.agencies if a.escalation_target]
    elif stage == Stage.SUSPENDED and state.suspended_by is not None:
        out.append((state.suspended_by, "resume"))
    return out
