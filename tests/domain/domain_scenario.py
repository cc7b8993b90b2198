"""Test helpers: the story's configuration, actors, and a runner that drives the Decider.

Commands are built from JSON-like dicts through `parse_command`, as scenario files do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from domain import (
    Command,
    DomainError,
    ErrorCode,
    Event,
    ProcessState,
    Stage,
    decide,
    fold,
    initial_state,
    parse_command,
)
from domain.dates import BusinessDate
from tests.story_process import story_agencies, story_process

Json = dict[str, Any]

AGENCIES: list[Json] = story_agencies()

# The story's parties (tests/story_process.py), with deadlines short enough to reach.
CONFIG: Json = story_process(
    "az-icmp-2018",
    {
        "consent_deadline": "P30D",
        "review_reminder_every": "P14D",
        "review_deadline": "P60D",
        "dormancy_after": "P180D",
    },
    max_revisions=2,
)


def actor(party: str, role: str, name: str | None = None) -> Json:
    return {"party": party, "role": role} | ({"name": name} if name else {})


CHAIR = actor("national_body", "chair", "Chair of the State Commission")
SECRETARY = actor("national_body", "secretary", "Gazanfar Ahmadov")
WORKING_GROUP = actor("national_body", "working_group_member")
DG = actor("partner", "director_general", "Kathryne Bomberger")
POLICY_DIRECTOR = actor("partner", "policy_director", "Andreas Kleiser")
PROGRAM_MANAGER = actor("partner", "program_manager", "Carmen Osorno Solis")
MISSION_MEMBER = actor("partner", "mission_member")
MFA_HEAD = actor("mfa", "head")
MFA_REP = actor("mfa", "representative")
PA_HEAD = actor("presidential_administration", "head", "Hikmet Hajiyev")
SSS_HEAD = actor("state_security_service", "head")
SYSTEM = actor("system", "timer")

SIGNATORIES: list[Json] = [
    {"party": "partner", "role": "director_general", "name": "Kathryne Bomberger"},
    {"party": "national_body", "role": "chair", "name": "Chair of the State Commission"},
]


def command(name: str, who: Json, on: date | BusinessDate, **fields: Any) -> Command:
    payload = {"actor": who, "occurred_on": str(on), **fields}
    return parse_command(name, payload, include_system=True)


class Run:
    """A process driven command by command; keeps the state and every event emitted."""

    def __init__(self, start: date = date(2020, 1, 1), config: Json | None = None) -> None:
        self.state: ProcessState = initial_state()
        self.events: list[Event] = []
        self.parties: list[str | None] = []  # each event's recording party
        self.today = start
        self.config = config or CONFIG

    def tick(self, days: int = 1) -> date:
        self.today += timedelta(days=days)
        return self.today

    def do(
        self, name: str, who: Json, on: date | BusinessDate | None = None, **fields: Any
    ) -> list[Event]:
        """Issue `name` on `on` (a day, or a date as a source writes it; the run's clock then
        moves to its latest possible day) or on the run's current day."""
        written: date | BusinessDate = self.today
        if isinstance(on, BusinessDate):
            written, self.today = on, on.latest
        elif on is not None:
            written = self.today = on
        issued = command(name, who, written, **fields)
        emitted = decide(self.state, issued)
        # With the issuing party, as the workflow and the store fold (correct_record's rule).
        self.state = fold(emitted, self.state, by=[issued.actor.party] * len(emitted))
        self.events.extend(emitted)
        self.parties.extend([issued.actor.party] * len(emitted))
        return emitted

    def rejects(
        self, code: ErrorCode, name: str, who: Json, on: date | None = None, **fields: Any
    ) -> DomainError:
        before = self.state
        with pytest.raises(DomainError) as caught:
            decide(before, command(name, who, on or self.today, **fields))
        assert caught.value.code == code, caught.value.message
        assert self.state is before
        return caught.value

    def stage(self) -> Stage | None:
        """A method, not a property, so type checkers do not narrow it across commands."""
        return self.state.stage

    def types(self, events: list[Event]) -> list[str]:
        return [e.event_type for e in events]


Step = tuple[str, Json, Callable[[Run], Json]]


def _fixed(fields: Json) -> Callable[[Run], Json]:
    return lambda run: fields


# The happy path through every main-line stage, one day apart.
HAPPY_PATH: list[Step] = [
    ("open_process", CHAIR, lambda run: {"process": run.config}),
    ("log_contact", MFA_REP, _fixed({"venue": "The Hague", "modalities": ["membership"]})),
    ("submit_opinion", CHAIR, _fixed({"recommendation": "negotiate"})),
    ("assign_representative", MFA_HEAD, _fixed({"representative": "MFA representative"})),
    ("propose_instrument", DG, _fixed({"type": "protocol_of_intent", "draft_version": 1})),
    ("clear_instrument", MFA_HEAD, _fixed({"draft_version": 1})),
    (
        "sign_instrument",
        CHAIR,
        _fixed({"draft_version": 1, "place": "Baku", "signatories": SIGNATORIES}),
    ),
    (
        "propose_mission",
        DG,
        lambda run: {
            "tor_version": 1,
            "planned_start": (run.today + timedelta(days=10)).isoformat(),
            "planned_end": (run.today + timedelta(days=20)).isoformat(),
            "team": ["Andreas Kleiser", "Carmen Osorno Solis"],
            "agencies_to_meet": ["mfa", "state_security_service"],
        },
    ),
    ("grant_consent", MFA_HEAD, _fixed({"tor_version": 1})),
    ("grant_consent", SSS_HEAD, _fixed({"tor_version": 1})),
    ("start_mission", POLICY_DIRECTOR, _fixed({})),
    (
        "complete_mission",
        POLICY_DIRECTOR,
        lambda run: {
            "actual_start": str(run.state.mission.started_on),
            "actual_end": run.today.isoformat(),
            "mode": "in_person",
        },
    ),
    (
        "deliver_report",
        DG,
        _fixed(
            {"title": "Assessment Report", "version": 1, "recipient": "mfa"}
            | {"classification": "restricted"}
        ),
    ),
    ("submit_review", MFA_REP, _fixed({"report_version": 1, "conclusions": "Agreed."})),
    ("submit_review", SSS_HEAD, _fixed({"report_version": 1, "conclusions": "Agreed."})),
    ("submit_conclusions", MFA_HEAD, _fixed({"report_version": 1, "summary": "Consolidated."})),
    ("accept_report", CHAIR, _fixed({"report_version": 1})),
    ("hold_presentation", SECRETARY, _fixed({"venue": "Baku"})),
    ("clear_publication", CHAIR, _fixed({})),
    ("clear_publication", DG, _fixed({})),
    ("publish_report", SECRETARY, _fixed({"languages": ["en", "az"]})),
    ("close_process", CHAIR, _fixed({})),
]


def run_to(stage: Stage | str, *, config: Json | None = None) -> Run:
    """A fresh run advanced along the happy path until it first reaches `stage`."""
    run = Run(config=config)
    for name, who, fields in HAPPY_PATH:
        run.do(name, who, **fields(run))
        run.tick()
        if run.stage() == stage:
            return run
    raise AssertionError(f"the happy path never reaches {stage}")
