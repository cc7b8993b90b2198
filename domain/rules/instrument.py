"""The instrument: drafts proposed by the partner, cleared by the channel, signed by
both heads."""

from __future__ import annotations

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.parties import ProcessConfig
from domain.policy import party
from domain.rules.guards import guard, known
from domain.rules.recorded import recorded
from domain.rules.registry import command_rule
from domain.stages import Stage as S
from domain.state import ProcessState
from domain.vocabulary import NATIONAL_BODY, PARTNER


@command_rule(cmd.ProposeInstrument, who=(party("partner"),), stages={S.NEGOTIATING})
def propose_instrument(
    s: ProcessState, c: ProcessConfig, x: cmd.ProposeInstrument, on: BusinessDate
) -> list[ev.Event]:
    current = s.instrument.draft_version
    guard(
        x.draft_version > current,
        x.name,
        f"draft_version {x.draft_version} must be greater than the current draft ({current})",
        "draft_version",
    )
    return [recorded(ev.InstrumentProposed, x, on)]


@command_rule(cmd.ClearInstrument, who=(party("channel"),), stages={S.NEGOTIATING})
def clear_instrument(
    s: ProcessState, c: ProcessConfig, x: cmd.ClearInstrument, on: BusinessDate
) -> list[ev.Event]:
    current = s.instrument.draft_version
    guard(current > 0, x.name, "no instrument draft has been proposed", "draft_version")
    guard(
        x.draft_version == current,
        x.name,
        f"only the current draft ({current}) can be cleared, not {x.draft_version}",
        "draft_version",
    )
    guard(
        s.instrument.cleared_version != current,
        x.name,
        f"draft {current} is already cleared",
        "draft_version",
    )
    return [recorded(ev.InstrumentCleared, x, on, agency=c.channel.key, draft_version=current)]


@command_rule(cmd.SignInstrument, who=(party("national_body"),), stages={S.NEGOTIATING})
def sign_instrument(
    s: ProcessState, c: ProcessConfig, x: cmd.SignInstrument, on: BusinessDate
) -> list[ev.Event]:
    instrument = s.instrument
    guard(instrument.draft_version > 0, x.name, "no instrument draft has been proposed")
    guard(
        x.draft_version == instrument.draft_version,
        x.name,
        f"only the current draft ({instrument.draft_version}) can be signed",
        "draft_version",
    )
    guard(
        instrument.cleared_version == x.draft_version,
        x.name,
        f"draft {x.draft_version} has not been cleared by the channel ({c.channel.key})",
        "draft_version",
    )
    known(
        c, (p.party for p in x.signatories), x.name, "signatories", parties=(PARTNER, NATIONAL_BODY)
    )
    signers = {(p.party, p.role) for p in x.signatories}
    for side, role in ((NATIONAL_BODY, "chair"), (PARTNER, "director_general")):
        guard(
            (side, role) in signers,
            x.name,
            f"signatories must include the {side} {role}",
            "signatories",
        )
    assert instrument.type is not None  # set with the first draft
    return [recorded(ev.InstrumentSigned, x, on, type=instrument.type)]
