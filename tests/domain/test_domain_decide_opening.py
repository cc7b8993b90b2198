"""Decider: opening, contacts, opinion, negotiations, dormancy, the instrument."""

from __future__ import annotations

from datetime import date, timedelta

from domain import (
    ContactLogged,
    InstrumentCleared,
    InstrumentProposed,
    InstrumentSigned,
    MeetingRecorded,
    NegotiationsOpened,
    OpinionSubmitted,
    ProcessOpened,
    ProcessReengaged,
    ProcessWentDormant,
    RepresentativeAssigned,
    Stage,
)
from domain.dates import BusinessDate
from tests.domain.domain_scenario import (
    CHAIR,
    CONFIG,
    DG,
    MFA_HEAD,
    MFA_REP,
    PA_HEAD,
    POLICY_DIRECTOR,
    SECRETARY,
    SIGNATORIES,
    SSS_HEAD,
    SYSTEM,
    WORKING_GROUP,
    Json,
    Run,
    run_to,
)

CONTACT: Json = {"venue": "The Hague", "modalities": ["membership", "bilateral_agreement"]}


# --- open_process ----------------------------------------------------------------------


def test_open_process_by_national_body_or_partner() -> None:
    for who in (CHAIR, DG):
        run = Run()
        events = run.do("open_process", who, process=CONFIG)
        assert [type(e) for e in events] == [ProcessOpened]
        assert run.stage() == Stage.CONTACT
        assert run.state.config is not None and run.state.config.process_id == "az-icmp-2018"
        assert run.state.version == 1


def test_open_process_rejections() -> None:
    run = Run()
    run.rejects("not_allowed", "open_process", MFA_HEAD, process=CONFIG)
    run.rejects("not_allowed", "open_process", SYSTEM, process=CONFIG)
    error = run.rejects("wrong_stage", "log_contact", CHAIR, **CONTACT)
    assert "not opened" in error.message
    run.do("open_process", CHAIR, process=CONFIG)
    run.rejects("wrong_stage", "open_process", CHAIR, process=CONFIG)


# --- log_contact -----------------------------------------------------------------------


def test_log_contact_moves_to_options_review_and_may_repeat() -> None:
    run = run_to(Stage.CONTACT)
    first = run.today
    events = run.do("log_contact", MFA_REP, **CONTACT)
    assert events == [
        ContactLogged(
            occurred_on=BusinessDate.of(first),
            venue="The Hague",
            modalities=("membership", "bilateral_agreement"),
        )
    ]
    assert run.stage() == Stage.OPTIONS_REVIEW
    run.do("log_contact", SECRETARY, on=run.tick(), venue="Baku")
    assert run.stage() == Stage.OPTIONS_REVIEW
    assert run.state.dates.first_contact == first


def test_log_contact_rejections() -> None:
    run = run_to(Stage.CONTACT)
    run.rejects("not_allowed", "log_contact", DG, **CONTACT)
    error = run.rejects("not_allowed", "log_contact", SSS_HEAD, **CONTACT)
    assert "allowed: national_body; the channel agency" in error.message
    run.rejects("not_allowed", "log_contact", {"party": "ministry_x", "role": "head"}, **CONTACT)
    negotiating = run_to(Stage.NEGOTIATING)
    negotiating.rejects("wrong_stage", "log_contact", CHAIR, **CONTACT)


# --- submit_opinion / assign_representative / NegotiationsOpened --------------------------


def test_opinion_then_representative_opens_negotiations() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    events = run.do("submit_opinion", SECRETARY, recommendation="negotiate", conditions=["c"])
    assert events == [
        OpinionSubmitted(
            occurred_on=BusinessDate.of(run.today), recommendation="negotiate", conditions=("c",)
        )
    ]
    assert run.stage() == Stage.OPTIONS_REVIEW
    events = run.do("assign_representative", MFA_HEAD, on=run.tick(), representative="R. Aliyev")
    assert events == [
        RepresentativeAssigned(
            occurred_on=BusinessDate.of(run.today), agency="mfa", representative="R. Aliyev"
        ),
        NegotiationsOpened(occurred_on=BusinessDate.of(run.today)),
    ]
    assert run.stage() == Stage.NEGOTIATING
    assert run.state.dates.negotiations_opened == run.today


def test_representative_then_opinion_opens_negotiations() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    events = run.do("assign_representative", MFA_HEAD, representative="R")
    assert run.types(events) == ["RepresentativeAssigned"]
    events = run.do("submit_opinion", CHAIR, recommendation="negotiate")
    assert run.types(events) == ["OpinionSubmitted", "NegotiationsOpened"]
    assert run.stage() == Stage.NEGOTIATING


def test_reassigning_representative_later_does_not_reopen_negotiations() -> None:
    run = run_to(Stage.INSTRUMENT_SIGNED)
    events = run.do("assign_representative", MFA_HEAD, representative="New", title="Ambassador")
    assert run.types(events) == ["RepresentativeAssigned"]
    assert run.state.representative == "New"
    assert run.stage() == Stage.INSTRUMENT_SIGNED


def test_decline_withdraws() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    events = run.do("submit_opinion", CHAIR, recommendation="decline")
    assert run.types(events) == ["OpinionSubmitted"]
    assert run.stage() == Stage.WITHDRAWN
    assert run.state.dates.withdrawn == run.today
    run.rejects("terminal", "assign_representative", MFA_HEAD, representative="R")


def test_opinion_rejections() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    error = run.rejects("not_allowed", "submit_opinion", WORKING_GROUP, recommendation="negotiate")
    assert "role 'working_group_member'" in error.message
    assert "national_body (chair, secretary)" in error.message
    run.rejects("not_allowed", "submit_opinion", MFA_HEAD, recommendation="negotiate")
    run.do("submit_opinion", CHAIR, recommendation="negotiate")
    error = run.rejects("guard_failed", "submit_opinion", CHAIR, recommendation="decline")
    assert "already given" in error.message
    contact = run_to(Stage.CONTACT)
    contact.rejects("wrong_stage", "submit_opinion", CHAIR, recommendation="negotiate")


def test_assign_representative_rejections() -> None:
    run = run_to(Stage.OPTIONS_REVIEW)
    error = run.rejects("not_allowed", "assign_representative", MFA_REP, representative="R")
    assert error.field == "actor.role"
    run.rejects("not_allowed", "assign_representative", PA_HEAD, representative="R")
    run.rejects("not_allowed", "assign_representative", CHAIR, representative="R")
    run_to(Stage.CONTACT).rejects(
        "wrong_stage", "assign_representative", MFA_HEAD, representative="R"
    )


# --- record_meeting ----------------------------------------------------------------------


def test_record_meeting() -> None:
    run = run_to(Stage.NEGOTIATING)
    events = run.do(
        "record_meeting",
        WORKING_GROUP,
        format="online",
        agencies_present=["presidential_administration", "mfa", "state_security_service"],
        initiator="partner",
        summary="Online discussion with ICMP leadership.",
    )
    assert events == [
        MeetingRecorded(
            occurred_on=BusinessDate.of(run.today),
            format="online",
            agencies_present=("presidential_administration", "mfa", "state_security_service"),
            initiator="partner",
            summary="Online discussion with ICMP leadership.",
        )
    ]
    assert run.stage() == Stage.NEGOTIATING
    run.do("record_meeting", SSS_HEAD, format="in_person", location="Baku", initiator="mfa")


def test_record_meeting_rejections() -> None:
    run = run_to(Stage.NEGOTIATING)
    run.rejects("not_allowed", "record_meeting", DG, format="online", initiator="partner")
    error = run.rejects(
        "invalid_input",
        "record_meeting",
        CHAIR,
        format="online",
        agencies_present=["ministry_of_magic"],
        initiator="partner",
    )
    assert error.field == "agencies_present"
    error = run.rejects("invalid_input", "record_meeting", CHAIR, format="online", initiator="x1")
    assert error.field == "initiator"
    contact = run_to(Stage.CONTACT)
    contact.rejects("wrong_stage", "record_meeting", CHAIR, format="online", initiator="partner")


# --- dormancy ------------------------------------------------------------------------------


def test_mark_dormant_and_re_engage_return_to_the_stage_left() -> None:
    for stage in (Stage.OPTIONS_REVIEW, Stage.NEGOTIATING):
        run = run_to(stage)
        events = run.do("mark_dormant", CHAIR, reason="no progress")
        assert events == [
            ProcessWentDormant(occurred_on=BusinessDate.of(run.today), reason="no progress")
        ]
        assert run.stage() == Stage.DORMANT
        assert run.state.dormant_from == stage
        run.rejects("wrong_stage", "record_meeting", CHAIR, format="online", initiator="partner")
        events = run.do(
            "re_engage", PA_HEAD, on=date(2021, 3, 1), initiator="presidential_administration"
        )
        assert events == [
            ProcessReengaged(
                occurred_on=BusinessDate.of(date(2021, 3, 1)),
                initiator="presidential_administration",
            )
        ]
        assert run.stage() == stage
        assert run.state.dormant_from is None


def test_dormancy_rejections() -> None:
    run = run_to(Stage.NEGOTIATING)
    run.rejects("not_allowed", "mark_dormant", DG)
    run.rejects("not_allowed", "mark_dormant", MFA_HEAD)
    run.rejects("wrong_stage", "re_engage", CHAIR, initiator="national_body")
    run.do("mark_dormant", SECRETARY)
    run.rejects("not_allowed", "re_engage", MFA_HEAD, initiator="mfa")
    run.rejects("not_allowed", "re_engage", DG, initiator="partner")
    run.rejects("invalid_input", "re_engage", CHAIR, initiator="nobody")
    run.do("re_engage", CHAIR, initiator="national_body")
    run_to(Stage.INSTRUMENT_SIGNED).rejects("wrong_stage", "mark_dormant", CHAIR)


# --- the instrument --------------------------------------------------------------------------


def test_propose_clear_and_sign_instrument() -> None:
    run = run_to(Stage.NEGOTIATING)
    events = run.do(
        "propose_instrument", POLICY_DIRECTOR, type="protocol_of_intent", draft_version=1
    )
    assert events == [
        InstrumentProposed(
            occurred_on=BusinessDate.of(run.today), type="protocol_of_intent", draft_version=1
        )
    ]
    assert run.do("clear_instrument", MFA_REP, draft_version=1) == [
        InstrumentCleared(occurred_on=BusinessDate.of(run.today), agency="mfa", draft_version=1)
    ]
    events = run.do(
        "sign_instrument", CHAIR, draft_version=1, place="Baku", signatories=SIGNATORIES
    )
    assert len(events) == 1 and isinstance(events[0], InstrumentSigned)
    assert events[0].place == "Baku" and events[0].type == "protocol_of_intent"
    assert run.stage() == Stage.INSTRUMENT_SIGNED
    assert run.state.instrument.signed_on == run.today
    assert run.state.dates.signed == run.today


def test_instrument_rejections() -> None:
    run = run_to(Stage.NEGOTIATING)
    sign: Json = {"draft_version": 1, "place": "Baku", "signatories": SIGNATORIES}
    assert (
        "no instrument draft"
        in run.rejects("guard_failed", "clear_instrument", MFA_HEAD, draft_version=1).message
    )
    run.rejects("guard_failed", "sign_instrument", CHAIR, **sign)
    run.rejects("not_allowed", "propose_instrument", CHAIR, type="mou", draft_version=1)
    run.do("propose_instrument", DG, type="mou", draft_version=1)
    error = run.rejects("guard_failed", "propose_instrument", DG, type="mou", draft_version=1)
    assert error.field == "draft_version"
    run.rejects("not_allowed", "clear_instrument", SSS_HEAD, draft_version=1)
    run.rejects("guard_failed", "clear_instrument", MFA_HEAD, draft_version=2)
    error = run.rejects("guard_failed", "sign_instrument", CHAIR, **sign)
    assert "not been cleared" in error.message
    run.do("clear_instrument", MFA_HEAD, draft_version=1)
    run.rejects("guard_failed", "clear_instrument", MFA_HEAD, draft_version=1)
    # A new draft voids the clearance of the previous one.
    run.do("propose_instrument", DG, type="protocol_of_intent", draft_version=2)
    run.rejects("guard_failed", "sign_instrument", CHAIR, **sign)
    run.rejects("guard_failed", "sign_instrument", CHAIR, **(sign | {"draft_version": 2}))
    run.do("clear_instrument", MFA_HEAD, draft_version=2)
    sign = sign | {"draft_version": 2}
    run.rejects("not_allowed", "sign_instrument", DG, **sign)
    only_dg = [SIGNATORIES[0]]
    error = run.rejects(
        "guard_failed", "sign_instrument", CHAIR, **(sign | {"signatories": only_dg})
    )
    assert "national_body chair" in error.message
    only_chair = [SIGNATORIES[1]]
    error = run.rejects(
        "guard_failed", "sign_instrument", CHAIR, **(sign | {"signatories": only_chair})
    )
    assert "partner director_general" in error.message
    stranger = [*SIGNATORIES, {"party": "ministry_x", "role": "head", "name": "X"}]
    run.rejects("invalid_input", "sign_instrument", CHAIR, **(sign | {"signatories": stranger}))
    run.do("sign_instrument", SECRETARY, **sign)
    run.rejects("wrong_stage", "propose_instrument", DG, type="mou", draft_version=3)
    run_to(Stage.OPTIONS_REVIEW).rejects(
        "wrong_stage", "propose_instrument", DG, type="mou", draft_version=1
    )


def test_out_of_order_dates_rejected_equal_dates_accepted() -> None:
    run = run_to(Stage.NEGOTIATING)
    last = run.state.last_occurred_on
    assert last is not None
    yesterday = last.earliest - timedelta(days=1)
    error = run.rejects(
        "out_of_order", "propose_instrument", DG, on=yesterday, type="mou", draft_version=1
    )
    assert error.field == "occurred_on"
    assert "never go backwards" in error.message
    run.do("propose_instrument", DG, on=last.earliest, type="mou", draft_version=1)


def test_check_order_terminal_policy_stage_date_guard() -> None:
    run = run_to(Stage.NEGOTIATING)
    past = date(2000, 1, 1)
    # not_allowed wins over wrong_stage and out_of_order
    run.rejects("not_allowed", "start_mission", CHAIR, on=past)
    # wrong_stage wins over out_of_order
    run.rejects("wrong_stage", "start_mission", DG, on=past)
    # out_of_order wins over guard_failed (no draft to clear)
    run.rejects("out_of_order", "clear_instrument", MFA_HEAD, on=past, draft_version=9)
    run.do("withdraw", CHAIR, reason="no longer pursued")
    # terminal wins over everything
    run.rejects("terminal", "start_mission", CHAIR, on=past)
