"""Who may issue each command: the table (filled by domain/rules/), `authorize` over it.

Party references are resolved against the process configuration:
- `partner`, `national_body`, `system`: those parties;
- `channel` / `escalation_target`: the agency flagged so;
- `any_agency`: any configured agency;
- `consenting_agency` / `reviewing_agency`: the agency acting for itself, if it has the flag
  (its key is taken from the actor, so an agency can never answer for another).
A rule with no roles admits every role of that party.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.errors import DomainError
from domain.parties import Actor, ProcessConfig
from domain.vocabulary import NATIONAL_BODY, PARTNER, SYSTEM

PartyRef = Literal[
    "partner",
    "national_body",
    "system",
    "channel",
    "escalation_target",
    "any_agency",
    "consenting_agency",
    "reviewing_agency",
]


@dataclass(frozen=True, slots=True)
class Rule:
    party: PartyRef
    roles: frozenset[str] = frozenset()  # empty = any role

    def describe(self) -> str:
        who = _PARTY_TEXT[self.party]
        return f"{who} ({', '.join(sorted(self.roles))})" if self.roles else who


_PARTY_TEXT: dict[PartyRef, str] = {
    "partner": "partner",
    "national_body": "national_body",
    "system": "system (timers)",
    "channel": "the channel agency",
    "escalation_target": "an escalation_target agency",
    "any_agency": "any agency",
    "consenting_agency": "the consenting agency itself",
    "reviewing_agency": "the reviewing agency itself",
}


def party(ref: PartyRef, *roles: str) -> Rule:
    """A rule admitting `ref`'s actors in `roles` (all its roles if none are given)."""
    return Rule(ref, frozenset(roles))


# The heads of the two parties: the national_body chair and the partner's director general.
HEADS = (party("national_body", "chair"), party("partner", "director_general"))

# Command name -> who may issue it. Filled by the rules themselves: each command's function
# in domain/rules/ declares its who (`@command_rule`), so this table is what the decider
# checks by construction; `import domain` loads every rule.
POLICY: dict[str, tuple[Rule, ...]] = {}


def _party_matches(ref: PartyRef, party: str, config: ProcessConfig | None) -> bool:
    if ref in (PARTNER, NATIONAL_BODY, SYSTEM):
        return party == ref
    agency = config.agency(party) if config is not None else None
    if agency is None:
        return False
    if ref == "channel":
        return agency.channel
    if ref == "escalation_target":
        return agency.escalation_target
    if ref == "consenting_agency":
        return agency.consent_required
    if ref == "reviewing_agency":
        return agency.reviewer
    return ref == "any_agency"


def may_issue(command: str, actor: Actor, config: ProcessConfig | None) -> bool:
    """Whether the policy lets this actor issue this command in this process."""
    return any(
        _party_matches(rule.party, actor.party, config)
        and (not rule.roles or actor.role in rule.roles)
        for rule in POLICY.get(command, ())
    )


def party_may_issue(command: str, party: str, config: ProcessConfig | None) -> bool:
    """Whether some role of `party` may issue this command in this process."""
    return any(_party_matches(rule.party, party, config) for rule in POLICY.get(command, ()))


def allowed_text(command: str) -> str:
    return "; ".join(rule.describe() for rule in POLICY.get(command, ())) or "nobody"


def authorize(command: str, actor: Actor, config: ProcessConfig | None) -> None:
    """Raise DomainError("not_allowed") unless the policy lets this actor issue the command."""
    if may_issue(command, actor, config):
        return
    rules = POLICY.get(command, ())
    if config is not None and actor.party != SYSTEM and not config.knows_party(actor.party):
        problem = f"actor party {actor.party!r} is not a party of this process"
        field = "actor.party"
    elif any(_party_matches(r.party, actor.party, config) for r in rules):
        problem = f"actor role {actor.role!r} of party {actor.party!r} may not issue this command"
        field = "actor.role"
    else:
        problem = f"actor party {actor.party!r} may not issue this command"
        field = "actor.party"
    raise DomainError(
        "not_allowed", f"{command}: {problem}; allowed: {allowed_text(command)}", field
    )
