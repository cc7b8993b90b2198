"""Read models: process_view, pending_agencies, describe; and the policy table."""

from __future__ import annotations

import json

import pytest

from domain import (
    COMMANDS,
    POLICY,
    SYSTEM_COMMANDS,
    DomainError,
    Stage,
    describe,
    initial_state,
    pending_agencies,
    process_view,
)
from domain.policy import allowed_text
from tests.domain.domain_scenario import DG, MFA_HEAD, SYSTEM, Run, run_to


@pytest.mark.parametrize(
    ("stage", "pending"),
    [
        (Stage.CONTACT, ("mfa",)),  # the channel, like the national body, may log contact
        (Stage.OPTIONS_REVIEW, ("mfa",)),  # the channel's representative is awaited
        (Stage.NEGOTIATING, ()),
        (Stage.MISSION_PLANNING, ("mfa", "state_security_service")),
        (Stage.MISSION_READY, ()),
        (Stage.UNDER_REVIEW, ("mfa", "state_security_service")),
        (Stage.CONCLUSIONS_SUBMITTED, ()),
    ],
)
def test_pending_agencies_by_stage(stage: Stage, pending: tuple[str, ...]) -> None:
    assert pending_agencies(run_to(stage).state) == pending


def test_pending_agencies_follow_the_process() -> None:
    run = run_to(Stage.NEGOTIATING)
    run.do("propose_instrument", DG, type="mou", draft_version=1)
    assert pending_agencies(run.state) == ("mfa",)  # clearance awaited
    review = run_to(Stage.UNDER_REVIEW)
    review.do("submit_review", MFA_HEAD, report_version=1, conclusions="ok")
    view = process_view(review.state)
    assert view.pending_reviews == ("state_security_service",)
    assert view.pending_agencies == ("state_security_service",)
    review.do("review_deadline_reached", SYSTEM, report_version=1)
    # The silent reviewer is overdue and escalated: the channel's conclusions are now due.
    assert pending_agencies(review.state) == ("mfa", "state_security_service")


def test_view_is_json_serialisable_at_every_stage() -> None:
    for stage in (Stage.CONTACT, Stage.MISSION_PLANNING, Stage.UNDER_REVIEW, Stage.CLOSED):
        run = run_to(stage)
        view = process_view(run.state)
        data = json.loads(view.model_dump_json())
        assert data["process_id"] == "az-icmp-2018"
        assert data["stage"] == stage.value
        assert data["version"] == run.state.version
        assert data["last_occurred_on"] == str(run.state.last_occurred_on)
    planning = process_view(run_to(Stage.MISSION_PLANNING).state)
    assert planning.pending_consents == ("mfa", "state_security_service")
    assert planning.mission.consents == {"mfa": "pending", "state_security_service": "pending"}


def test_view_of_an_unopened_process_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        process_view(initial_state())
    assert caught.value.code == "wrong_stage"


def test_describe_without_configuration_uses_keys() -> None:
    run: Run = run_to(Stage.UNDER_REVIEW)
    sentences = [describe(e) for e in run.events]
    assert "Review of report v1 requested from state_security_service." in sentences
    assert all(s and s[0].isupper() and s.endswith(".") for s in sentences)


def test_policy_table_covers_every_command_and_reads_well() -> None:
    assert set(POLICY) == set(COMMANDS) | set(SYSTEM_COMMANDS)
    assert allowed_text("grant_consent") == "the consenting agency itself"
    assert allowed_text("suspend") == "national_body (chair); partner (director_general)"
    assert allowed_text("submit_opinion") == "national_body (chair, secretary)"
