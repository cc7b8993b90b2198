"""Random command sequences (valid and invalid) against the Decider, checking invariants."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain import (
    Actor,
    ConclusionsSubmitted,
    DomainError,
    Event,
    MissionStarted,
    ProcessState,
    ReportAccepted,
    ReportPublished,
    ReviewSubmitted,
    RevisionRequested,
    Stage,
    decide,
    decode_event,
    describe,
    encode_event,
    fold,
    initial_state,
    may_issue,
    parse_command,
    process_view,
)
from domain.dates import BusinessDate
from domain.stages import ALLOWED_IN, TERMINAL
from tests.domain.domain_scenario import (
    CHAIR,
    CONFIG,
    DG,
    MFA_HEAD,
    MFA_REP,
    MISSION_MEMBER,
    PA_HEAD,
    POLICY_DIRECTOR,
    SECRETARY,
    SIGNATORIES,
    SSS_HEAD,
    SYSTEM,
    WORKING_GROUP,
    actor,
)
from tests.hypothesis_budget import examples

Draw = Callable[[st.SearchStrategy[Any]], Any]

ACTORS = [
    CHAIR,
    SECRETARY,
    WORKING_GROUP,
    DG,
    POLICY_DIRECTOR,
    MISSION_MEMBER,
    MFA_HEAD,
    MFA_REP,
    PA_HEAD,
    SSS_HEAD,
    SYSTEM,
    actor("ministry_of_nowhere", "head"),
]
PARTIES = ["partner", "national_body", "mfa", "presidential_administration", "nobody_here"]
AGENCY_KEYS = ["mfa", "presidential_administration", "state_security_service"]
COMMON_NAMES = sorted(set(ALLOWED_IN) - {"withdraw"})


def _near(draw: Draw, value: int) -> int:
    """Mostly the given version, sometimes a neighbour (to exercise the guards)."""
    step: int = draw(st.sampled_from([0, 0, 0, 0, 0, 1, -1]))
    return max(1, value + step)


def _day(on: date, draw: Draw, low: int, high: int) -> str:
    return (on + timedelta(days=draw(st.integers(low, high)))).isoformat()


def fields_for(name: str, s: ProcessState, on: date, draw: Draw) -> dict[str, Any]:
    mission, report, instrument = s.mission, s.report, s.instrument
    if name == "open_process":
        return {"process": CONFIG}
    if name == "log_contact":
        return {"venue": "The Hague", "modalities": ["membership"]}
    if name == "submit_opinion":
        return {"recommendation": draw(st.sampled_from(["negotiate"] * 15 + ["decline"]))}
    if name == "assign_representative":
        return {"representative": "R"}
    if name in ("record_meeting", "re_engage"):
        extra = (
            {"format": "online", "agencies_present": ["mfa"]} if name == "record_meeting" else {}
        )
        return {"initiator": draw(st.sampled_from(PARTIES))} | extra
    if name == "propose_instrument":
        return {"type": "mou", "draft_version": _near(draw, instrument.draft_version + 1)}
    if name == "clear_instrument":
        return {"draft_version": _near(draw, instrument.draft_version)}
    if name == "sign_instrument":
        signatories = draw(st.sampled_from([SIGNATORIES] * 5 + [SIGNATORIES[:1]]))
        draft = _near(draw, instrument.draft_version)
        return {"draft_version": draft, "place": "Baku", "signatories": signatories}
    if name in ("propose_mission", "reschedule_mission"):
        if s.stage == Stage.MISSION_IN_PROGRESS and mission.started_on and draw(st.booleans()):
            # A day the start may stand for (the earliest, when it was written imprecisely).
            start = mission.started_on.earliest.isoformat()
        else:
            start = _day(on, draw, -2, 40)
        planned = {
            "planned_start": start,
            "planned_end": _day(date.fromisoformat(start), draw, -1, 15),
        }
        if name == "reschedule_mission":
            return planned | {"reason": "postponed"}
        return planned | {"tor_version": _near(draw, mission.tor_version + 1), "team": ["A"]}
    if name in ("grant_consent", "consent_deadline_reached"):
        return {"tor_version": _near(draw, mission.tor_version)}
    if name == "refuse_consent":
        return {"tor_version": _near(draw, mission.tor_version), "reason": "scope"}
    if name == "record_mission_meeting":
        return {
            "received_by": draw(st.sampled_from([["national_body"], ["mfa", "x_y"], AGENCY_KEYS]))
        }
    if name == "complete_mission":
        started = mission.started_on.earliest if mission.started_on else on
        end = max(started, on - timedelta(days=draw(st.integers(-1, 3))))
        return {"actual_start": str(started), "actual_end": end.isoformat(), "mode": "hybrid"}
    if name == "deliver_report":
        recipient = draw(st.sampled_from(["mfa"] * 5 + ["state_security_service"]))
        return {"title": "Report", "version": 1, "recipient": recipient, "classification": "public"}
    if name == "submit_review":
        return {"report_version": _near(draw, report.version), "conclusions": "ok"}
    if name in (
        "submit_conclusions",
        "accept_report",
        "review_reminder_due",
        "review_deadline_reached",
    ):
        return {"report_version": _near(draw, report.version)}
    if name == "request_revision":
        return {"report_version": _near(draw, report.version), "points": ["p"]}
    if name == "revise_report":
        return {"version": _near(draw, report.version + 1)}
    if name == "hold_presentation":
        return {"venue": "Baku"}
    if name == "publish_report":
        return {"languages": ["en"]}
    if name in ("suspend", "withdraw"):
        return {"reason": "because"}
    return {}


def next_on_path(s: ProcessState) -> str:
    """The command that moves the process forward from here (the happy path)."""
    stage, report = s.stage, s.report
    if stage == Stage.OPTIONS_REVIEW:
        return "submit_opinion" if s.opinion is None else "assign_representative"
    if stage == Stage.NEGOTIATING:
        if s.instrument.draft_version == 0:
            return "propose_instrument"
        cleared = s.instrument.cleared_version == s.instrument.draft_version
        return "sign_instrument" if cleared else "clear_instrument"
    if stage == Stage.UNDER_REVIEW:
        return "submit_review" if report.reviews_with("pending") else "submit_conclusions"
    if stage == Stage.CONCLUSIONS_SUBMITTED:
        return "request_revision" if report.revision_rounds == 0 else "accept_report"
    if stage == Stage.PRESENTED:
        return "publish_report" if len(report.clearances) == 2 else "clear_publication"
    return _NEXT.get(stage, "log_contact") if stage else "open_process"


_NEXT: dict[Stage, str] = {
    Stage.CONTACT: "log_contact",
    Stage.INSTRUMENT_SIGNED: "propose_mission",
    Stage.MISSION_PLANNING: "grant_consent",
    Stage.MISSION_READY: "start_mission",
    Stage.MISSION_IN_PROGRESS: "complete_mission",
    Stage.MISSION_COMPLETED: "deliver_report",
    Stage.REVISION: "revise_report",
    Stage.ACCEPTED: "hold_presentation",
    Stage.PUBLISHED: "close_process",
    Stage.DORMANT: "re_engage",
    Stage.SUSPENDED: "resume",
}


def actor_for(name: str, s: ProcessState, draw: Draw) -> dict[str, Any]:
    allowed = [a for a in ACTORS if may_issue(name, Actor.model_validate(a), s.config)]
    if name == "resume" and s.suspended_by:
        allowed = [a for a in allowed if a["party"] == s.suspended_by]
    awaited = {
        "grant_consent": s.mission.consents_with("pending", "overdue"),
        "submit_review": s.report.reviews_with("pending", "overdue"),
    }.get(name)
    if awaited:
        allowed = [a for a in allowed if a["party"] in awaited]
    pool = allowed if allowed and draw(st.integers(0, 9)) < 8 else ACTORS
    chosen: dict[str, Any] = draw(st.sampled_from(pool))
    return chosen


def exact_fields(record: Any) -> None:
    """Every record holds exactly its declared fields (guards against typos in evolve)."""
    names = {f.name for f in dataclasses.fields(record)}
    assert set(vars(record)) == names, set(vars(record)) ^ names
    for value in vars(record).values():
        # A state record (a BusinessDate is a slotted value, not a record evolve copies).
        if dataclasses.is_dataclass(value) and not isinstance(value, type | BusinessDate):
            exact_fields(value)


def written(today: date, draw: Callable[..., Any]) -> str:
    """The business date as a source might give it: mostly a day, sometimes only the month
    or the year, approximate, or a range starting that day (DOMAIN.md, "Dates and sources")."""
    form: str = draw(st.sampled_from(["day"] * 6 + ["month", "year", "approximate", "range"]))
    if form == "month":
        return today.strftime("%Y-%m")
    if form == "year":
        return str(today.year)
    if form == "approximate":
        qualifier: str = draw(st.sampled_from("~?%"))
        return today.isoformat() + qualifier
    if form == "range":
        return (
            f"{today.isoformat()}/{(today + timedelta(days=draw(st.integers(0, 90)))).isoformat()}"
        )
    return today.isoformat()


class ProcessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = initial_state()
        self.events: list[Event] = []
        self.today = date(2018, 5, 17)

    @initialize()
    def open(self) -> None:
        self.apply("open_process", CHAIR, {"process": CONFIG})

    def apply(
        self, name: str, who: dict[str, Any], fields: dict[str, Any], on: str | None = None
    ) -> None:
        before = self.state
        payload = {"actor": who, "occurred_on": on or self.today.isoformat(), **fields}
        try:
            command = parse_command(name, payload, include_system=True)
        except DomainError as error:
            assert error.code == "invalid_input"
            return
        try:
            emitted = decide(before, command)
        except DomainError as error:
            if before.stage in TERMINAL:
                assert error.code == "terminal"
            assert self.state is before
            return
        assert before.stage not in TERMINAL
        self.check_events(before, emitted)
        self.state = fold(emitted, before)
        self.events.extend(emitted)

    def check_events(self, before: ProcessState, emitted: list[Event]) -> None:
        last = before.last_occurred_on
        for event in emitted:
            assert last is None or event.occurred_on.earliest >= last.earliest
            assert describe(event, before.config or None)
            if isinstance(event, MissionStarted):
                assert before.instrument.signed
                assert before.mission.all_consents_granted
                assert event.tor_version == before.mission.tor_version
            if isinstance(event, ReviewSubmitted | ConclusionsSubmitted | ReportAccepted):
                assert event.report_version == before.report.version
            if isinstance(event, RevisionRequested):
                assert event.report_version == before.report.version
                assert before.config is not None
                assert event.round <= before.config.max_revisions
            if isinstance(event, ReportPublished):
                assert {"partner", "national_body"} <= before.report.clearances

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        draw = data.draw
        stage = self.state.stage
        in_stage = [n for n in COMMON_NAMES if stage in ALLOWED_IN[n]]
        roll = draw(st.integers(0, 99))
        if roll < 60:
            name = next_on_path(self.state)
        elif roll < 61:
            name = "withdraw"
        elif roll < 85 and in_stage:
            name = draw(st.sampled_from(in_stage))
        else:
            name = draw(st.sampled_from([*COMMON_NAMES, "open_process", "withdraw"]))
        self.today += timedelta(days=draw(st.sampled_from([0, 1, 3, 30, 200, -1])))
        fields = fields_for(name, self.state, self.today, draw)
        if draw(st.integers(0, 19)) == 0:
            fields = fields | {"summary": "x" * 2001}  # unknown or oversized: invalid_input
        self.apply(name, actor_for(name, self.state, draw), fields, written(self.today, draw))

    @invariant()
    def state_is_the_fold_of_its_events(self) -> None:
        assert fold(self.events) == self.state
        assert self.state.version == len(self.events)
        exact_fields(self.state)

    @invariant()
    def dates_never_go_backwards(self) -> None:
        # Invariant 1 on the earliest possible days; the state keeps the last date as written.
        earliest = [e.occurred_on.earliest for e in self.events]
        assert earliest == sorted(earliest)
        if self.events:
            assert self.state.last_occurred_on == self.events[-1].occurred_on

    @invariant()
    def later_stages_need_a_signed_instrument(self) -> None:
        stage = self.state.stage
        if stage in (Stage.MISSION_IN_PROGRESS, Stage.MISSION_COMPLETED, Stage.UNDER_REVIEW):
            assert self.state.instrument.signed
            assert self.state.mission.started_on is not None

    @invariant()
    def view_is_serialisable(self) -> None:
        if self.state.config is not None:
            process_view(self.state).model_dump_json()

    def teardown(self) -> None:
        stored = [encode_event(e) for e in self.events]
        assert fold(decode_event(*row) for row in stored) == self.state


ProcessMachine.TestCase.settings = settings(
    max_examples=examples(150),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestProcessMachine = ProcessMachine.TestCase


def test_random_runs_reach_deep_stages() -> None:
    """A sanity check that the generator explores the process, not only its first stages."""
    reached: set[Stage] = set()

    class Recording(ProcessMachine):
        @invariant()
        def record(self) -> None:
            if self.state.stage is not None:
                reached.add(self.state.stage)

    Recording.TestCase.settings = settings(
        max_examples=max(20, examples(60)), stateful_step_count=60, deadline=None, database=None
    )
    Recording.TestCase().runTest()
    assert {Stage.MISSION_PLANNING, Stage.UNDER_REVIEW, Stage.ACCEPTED} <= reached
