"""The real story (seed/story.txt): Azerbaijan's State Commission and ICMP, 2018-2025."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain import Stage, decode_event, describe, encode_event, fold, process_view
from tests.domain.domain_scenario import (
    CHAIR,
    CONFIG,
    DG,
    MFA_HEAD,
    MFA_REP,
    PA_HEAD,
    POLICY_DIRECTOR,
    SECRETARY,
    SSS_HEAD,
    SYSTEM,
    WORKING_GROUP,
    Run,
    actor,
)

AMBASSADOR = actor("mfa", "representative", "Ambassador of Azerbaijan to the Netherlands")
TITLE = "Assessment Report: Accounting for Missing Persons in the Republic of Azerbaijan"

# (date, command, actor, fields) exactly as a scenario file would list them.
STORY: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("2018-05-17", "open_process", SECRETARY, {"process": CONFIG}),
    (
        "2018-05-17",
        "log_contact",
        MFA_REP,
        {
            "venue": "Embassy of the Republic of Azerbaijan in the Netherlands",
            "participants": ["ICMP Director of Policy and Cooperation", "Embassy staff"],
            "modalities": ["membership", "bilateral_agreement"],
            "summary": "Possibilities for cooperation discussed; opinion requested.",
        },
    ),
    (
        "2018-06-20",
        "submit_opinion",
        SECRETARY,
        {
            "recommendation": "negotiate",
            "conditions": ["with the participation of a representative of the Foreign Ministry"],
        },
    ),
    ("2018-07-10", "assign_representative", MFA_HEAD, {"representative": "MFA representative"}),
    ("2019-01-06", "dormancy_due", SYSTEM, {}),
    ("2021-03-01", "re_engage", PA_HEAD, {"initiator": "presidential_administration"}),
    (
        "2021-11-15",
        "record_meeting",
        AMBASSADOR,
        {
            "format": "in_person",
            "location": "The Hague",
            "agencies_present": ["mfa"],
            "initiator": "partner",
            "summary": "ICMP proposed cooperation and signing an appropriate document.",
        },
    ),
    (
        "2021-11-15",
        "propose_instrument",
        POLICY_DIRECTOR,
        {"type": "protocol_of_intent", "draft_version": 1},
    ),
    (
        "2022-01-25",
        "record_meeting",
        WORKING_GROUP,
        {
            "format": "online",
            "agencies_present": ["presidential_administration", "mfa", "state_security_service"],
            "initiator": "partner",
        },
    ),
    ("2022-03-01", "clear_instrument", MFA_HEAD, {"draft_version": 1}),
    (
        "2022-04-04",
        "sign_instrument",
        CHAIR,
        {
            "draft_version": 1,
            "place": "Baku",
            "signatories": [
                {"party": "partner", "role": "director_general", "name": "Kathryne Bomberger"},
                {
                    "party": "national_body",
                    "role": "chair",
                    "name": "Chair of the State Commission",
                },
            ],
        },
    ),
    (
        "2023-02-01",
        "propose_mission",
        POLICY_DIRECTOR,
        {
            "tor_version": 1,
            "planned_start": "2023-06-05",
            "planned_end": "2023-06-16",
            "team": ["Andreas Kleiser", "Carmen Osorno Solis"],
            "agencies_to_meet": ["mfa", "presidential_administration", "state_security_service"],
            "purpose": "Evaluation mission",
        },
    ),
    ("2023-04-10", "grant_consent", MFA_HEAD, {"tor_version": 1}),
    ("2023-04-24", "grant_consent", SSS_HEAD, {"tor_version": 1}),
    ("2023-06-05", "start_mission", POLICY_DIRECTOR, {}),
    (
        "2023-06-06",
        "record_mission_meeting",
        POLICY_DIRECTOR,
        {"received_by": ["national_body"], "location": "Baku"},
    ),
    (
        "2023-06-08",
        "record_mission_meeting",
        POLICY_DIRECTOR,
        {"received_by": ["mfa", "presidential_administration", "state_security_service"]},
    ),
    (
        "2023-06-16",
        "complete_mission",
        POLICY_DIRECTOR,
        {"actual_start": "2023-06-05", "actual_end": "2023-06-16", "mode": "in_person"},
    ),
    (
        "2024-02-15",
        "deliver_report",
        DG,
        {"title": TITLE, "version": 1, "recipient": "mfa", "classification": "restricted"},
    ),
    (
        "2024-05-20",
        "submit_review",
        SSS_HEAD,
        {"report_version": 1, "conclusions": "Conclusions and proposals."},
    ),
    (
        "2024-06-03",
        "submit_review",
        MFA_REP,
        {"report_version": 1, "conclusions": "Conclusions and proposals."},
    ),
    ("2024-07-01", "submit_conclusions", MFA_HEAD, {"report_version": 1}),
    ("2024-12-02", "accept_report", CHAIR, {"report_version": 1}),
    (
        "2025-03-10",
        "hold_presentation",
        SECRETARY,
        {
            "venue": "Baku",
            "attendee_categories": [
                "State Commission working group",
                "ICMP representatives",
                "members of parliament",
                "government officials",
                "NGOs",
                "media",
            ],
        },
    ),
]


def replay() -> Run:
    run = Run()
    for on, name, who, fields in STORY:
        run.do(name, who, on=date.fromisoformat(on), **fields)
    return run


def test_story_replays_to_presented() -> None:
    run = replay()
    state = run.state
    assert state.stage == Stage.PRESENTED
    dates = state.dates
    assert dates.first_contact == date(2018, 5, 17)
    assert dates.opinion == date(2018, 6, 20)
    assert dates.negotiations_opened == date(2018, 7, 10)
    assert dates.signed == date(2022, 4, 4)
    assert dates.mission_start == date(2023, 6, 5)
    assert dates.mission_end == date(2023, 6, 16)
    assert dates.delivered == date(2024, 2, 15)
    assert dates.conclusions == date(2024, 7, 1)
    assert dates.accepted == date(2024, 12, 2)
    assert dates.presented == date(2025, 3, 10)
    assert state.instrument.type == "protocol_of_intent"
    assert state.instrument.signed_place == "Baku"
    assert state.report.title == TITLE
    assert state.report.classification == "restricted"
    assert state.mission.received_by == (
        "national_body",
        "mfa",
        "presidential_administration",
        "state_security_service",
    )
    assert state.version == len(run.events)
    assert fold(run.events, by=run.parties) == state


def test_story_timeline_and_view() -> None:
    run = replay()
    config = run.state.config
    sentences = [describe(e, config) for e in run.events]
    assert all(s.endswith(".") for s in sentences)
    assert (
        "Protocol of intent signed in Baku by Kathryne Bomberger (ICMP director general) and "
        "Chair of the State Commission (State Commission chair)."
    ) in sentences
    assert "The process went dormant (no progress): no progress within P180D." in sentences
    assert (
        "The process was re-engaged at the initiative of Presidential Administration."
    ) in sentences
    view = process_view(run.state)
    assert view.stage == Stage.PRESENTED
    assert view.pending_agencies == ()
    assert view.key_dates["presented"] == date(2025, 3, 10)
    assert view.model_dump(mode="json")["key_dates"]["signed"] == "2022-04-04"


def test_story_survives_storage_round_trip() -> None:
    run = replay()
    stored = [encode_event(e) for e in run.events]
    assert fold((decode_event(*row) for row in stored), by=run.parties) == run.state
