"""Closed vocabularies and bounded text types shared by commands, events and config.

Every free-text value is bounded (invariant 5): the process records what officials
did in their public role, never case files of missing persons or genetic data.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, StringConstraints

# Keys: agency keys, party references, language codes.
AgencyKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
PartyKey = AgencyKey  # "partner", "national_body" or an agency key
ProcessId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,62}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


def no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in jsonb: refuse it at parse time (invalid_input),
    or an accepted command would fail to append forever and block its process."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


NoNul = AfterValidator(no_nul)

# Bounded free text: names/titles/places, one condition/point, summaries/reasons.
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), NoNul]
Line = Annotated[str, StringConstraints(min_length=1, max_length=500), NoNul]
Text = Annotated[str, StringConstraints(max_length=2000), NoNul]

Version = Annotated[int, Field(ge=1, le=1000)]

PARTNER = "partner"
NATIONAL_BODY = "national_body"
SYSTEM = "system"
RESERVED_PARTIES = frozenset({PARTNER, NATIONAL_BODY, SYSTEM})

PartnerRole = Literal["director_general", "policy_director", "program_manager", "mission_member"]
NationalBodyRole = Literal["chair", "secretary", "working_group_member"]
AgencyRole = Literal["head", "representative"]
SystemRole = Literal["timer"]
Role = Literal[
    "director_general",
    "policy_director",
    "program_manager",
    "mission_member",
    "chair",
    "secretary",
    "working_group_member",
    "head",
    "representative",
    "timer",
]

PARTNER_ROLES: frozenset[str] = frozenset(get_args(PartnerRole))
NATIONAL_BODY_ROLES: frozenset[str] = frozenset(get_args(NationalBodyRole))
AGENCY_ROLES: frozenset[str] = frozenset(get_args(AgencyRole))
SYSTEM_ROLES: frozenset[str] = frozenset(get_args(SystemRole))

Modality = Literal["membership", "bilateral_agreement"]
Recommendation = Literal["negotiate", "decline"]
MeetingFormat = Literal["online", "in_person"]
InstrumentType = Literal[
    "protocol_of_intent",
    "mou",
    "cooperation_agreement",
    "exchange_of_notes",
    "membership_accession",
]
MissionMode = Literal["in_person", "remote", "hybrid"]
Classification = Literal["restricted", "public"]
EscalationMatter = Literal["consent", "review"]


# A process's workflow id and event stream id are this prefix plus its process id; other
# streams in the same store (other services' events) are not processes.
PROCESS_STREAM_PREFIX = "coop-"
