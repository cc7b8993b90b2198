"""Party keys and actor metadata as the names a reader knows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain import ProcessConfig
from domain.parties import person
from domain.vocabulary import NATIONAL_BODY, PARTNER, SYSTEM


class Names:
    """Party keys and actor metadata as the names a reader knows."""

    def __init__(self, config: ProcessConfig) -> None:
        self.config = config

    def party(self, key: str) -> str:
        if key == PARTNER:
            return self.config.partner.short_name or self.config.partner.name
        if key == NATIONAL_BODY:
            return self.config.national_body.short_name or self.config.national_body.name
        if key == SYSTEM:
            return "Accord (timer)"
        agency = self.config.agency(key)
        return (agency.name or key) if agency else key

    def parties(self, keys: Iterable[str]) -> str:
        return ", ".join(self.party(k) for k in keys) or "none"

    def actor(self, actor: Any) -> str | None:
        """By name and the title the source gives; the domain's party and role only where
        the record has neither (a label is never put in a person's place)."""
        if not isinstance(actor, dict) or "party" not in actor:
            return None
        party = self.party(str(actor["party"]))
        role = str(actor.get("role", "")).replace("_", " ")
        if actor["party"] == SYSTEM:
            return party
        named = person(actor)
        if named and actor.get("title"):
            return named
        return f"{named}, {party} {role}" if named else f"{party}, {role}"
