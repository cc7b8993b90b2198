"""Who takes part in a process and how it is configured (fixed at `open_process`).

Text here is `domain.text`'s: checked for hygiene when parsed from input, read back from
storage as it was recorded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.text import ConfigName as Name
from domain.text import ConfigShortName as ShortName
from domain.vocabulary import (
    AGENCY_ROLES,
    NATIONAL_BODY,
    NATIONAL_BODY_ROLES,
    PARTNER,
    PARTNER_ROLES,
    RESERVED_PARTIES,
    SYSTEM,
    SYSTEM_ROLES,
    AgencyKey,
    PartyKey,
    ProcessId,
    Role,
)

_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


def roles_of(party: str) -> frozenset[str]:
    """The roles a party kind has; every other key is an agency."""
    if party == PARTNER:
        return PARTNER_ROLES
    if party == NATIONAL_BODY:
        return NATIONAL_BODY_ROLES
    if party == SYSTEM:
        return SYSTEM_ROLES
    return AGENCY_ROLES


class Actor(BaseModel):
    """Who issues a command. `party` is partner, national_body, an agency key or system."""

    model_config = _STRICT

    party: PartyKey
    role: Role
    name: Name | None = None
    # The title as the source gives it ("Assistant to the President - Head of the Foreign
    # Policy Department of the Presidential Administration"), beside the domain's `role`,
    # which is what the rules check. Free text, shown wherever the person is.
    title: Name | None = None

    @field_validator("role")
    @classmethod
    def _role_fits_party(cls, role: str, info: ValidationInfo) -> str:
        party = info.data.get("party")
        if party is not None and role not in roles_of(party):
            allowed = ", ".join(sorted(roles_of(party)))
            raise ValueError(f"role {role!r} does not exist for party {party!r}; roles: {allowed}")
        return role

    @classmethod
    def system(cls) -> Actor:
        """The actor of timer-driven commands."""
        return cls(party=SYSTEM, role="timer")


def person(actor: Mapping[str, Any] | Actor | None) -> str | None:
    """A recorded actor as the source names them: "name, title", the name or the title
    alone, or None when the source gives neither (the caller then shows party and role)."""
    if actor is None:
        return None
    data = actor.model_dump() if isinstance(actor, Actor) else actor
    name, title = data.get("name"), data.get("title")
    shown = [str(v) for v in (name, title) if isinstance(v, str) and v]
    return ", ".join(shown) or None


class Signatory(Actor):
    """An official who signs an instrument, in their public role.

    The name is given whenever the source gives it; a signatory the source does not name
    is recorded by party and role only, and the record says "not named" rather than
    carrying a label in the name's place (DOMAIN.md, "Dates and sources")."""


class PartyInfo(BaseModel):
    """The partner organization or the national body."""

    model_config = _STRICT

    name: Name
    short_name: ShortName | None = None


class AgencyConfig(BaseModel):
    """A state agency taking part, with the flags that give it its duties."""

    model_config = _STRICT

    key: AgencyKey
    name: Name | None = None  # display name; the key stands in for it when absent
    channel: bool = False
    consent_required: bool = False
    reviewer: bool = False
    escalation_target: bool = False

    @field_validator("key")
    @classmethod
    def _not_reserved(cls, key: str) -> str:
        if key in RESERVED_PARTIES:
            raise ValueError(f"agency key {key!r} is reserved for a party")
        return key


class Durations(BaseModel):
    """Timer durations, ISO 8601 in JSON ("P30D", "PT3S") so tests can run in seconds."""

    model_config = _STRICT

    # Defaults for a real process; a scenario or test sets only the ones it exercises.
    consent_deadline: timedelta = timedelta(days=30)
    review_reminder_every: timedelta = timedelta(days=14)
    review_deadline: timedelta = timedelta(days=60)
    dormancy_after: timedelta = timedelta(days=365)

    @field_validator("*")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("duration must be greater than zero")
        return value


class ProcessConfig(BaseModel):
    """Everything fixed when a process opens."""

    model_config = _STRICT

    process_id: ProcessId
    country: Name
    partner: PartyInfo
    national_body: PartyInfo
    agencies: Annotated[
        tuple[AgencyConfig, ...], Field(fail_fast=True, min_length=1, max_length=30)
    ]
    durations: Durations = Durations()
    max_revisions: Annotated[int, Field(ge=0, le=10)] = 2

    @model_validator(mode="after")
    def _agencies_consistent(self) -> ProcessConfig:
        keys = [a.key for a in self.agencies]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"agency keys must be unique; duplicated: {', '.join(duplicates)}")
        channels = [a.key for a in self.agencies if a.channel]
        if len(channels) != 1:
            raise ValueError(f"exactly one agency must be the channel; found {len(channels)}")
        if not any(a.escalation_target for a in self.agencies):
            raise ValueError("at least one agency must be an escalation_target")
        return self

    # Lookups used by the policy, the decider and the views.

    def agency(self, key: str) -> AgencyConfig | None:
        for agency in self.agencies:
            if agency.key == key:
                return agency
        return None

    @property
    def channel(self) -> AgencyConfig:
        return next(a for a in self.agencies if a.channel)

    @property
    def agency_keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.agencies)

    @property
    def consent_agencies(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.agencies if a.consent_required)

    @property
    def reviewers(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.agencies if a.reviewer)

    @property
    def escalation_targets(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.agencies if a.escalation_target)

    def knows_party(self, party: str) -> bool:
        return party in (PARTNER, NATIONAL_BODY) or self.agency(party) is not None
