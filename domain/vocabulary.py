"""Closed vocabularies and bounded text types shared by commands, events and config.

Every free-text value is bounded (invariant 5): the process records what officials
did in their public role, never case files of missing persons or genetic data.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints

# Keys: agency keys, party references, language codes.
AgencyKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
PartyKey = AgencyKey  # "partner", "national_body" or an agency key
ProcessId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,62}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]

# Bounded free text.
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]  # names, titles, places
Line = Annotated[str, StringConstraints(min_length=1, max_length=500)]  # one condition/point
Text = Annotated[str, StringConstraints(max_length=2000)]  # summaries, reasons

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
