"""DOMAIN.md's rules for submit_conclusions and resume as decider specifications: one rule
per test, each starting from the story's own recorded facts (tests/domain/story.py).

The older domain tests drive a runner through the happy path and check several rules at
once; new rules are written here, in this form (tests/domain/decider_spec.py).
"""

from __future__ import annotations

from domain import (
    Actor,
    ConclusionsSubmitted,
    Escalated,
    ProcessResumed,
    ProcessSuspended,
    ReviewOverdue,
    Stage,
)
from domain.commands import Resume, SubmitConclusions
from domain.dates import BusinessDate
from tests.domain import story
from tests.domain.decider_spec import given

ON = BusinessDate.parse("2025-01")  # within the story's undated span of the review


def conclusions(**changes: object) -> SubmitConclusions:
    command = story.command("submit_conclusions")
    assert isinstance(command, SubmitConclusions)
    return command.model_copy(update={"occurred_on": ON, **changes})


def submitted(command: SubmitConclusions, missing: tuple[str, ...] = ()) -> ConclusionsSubmitted:
    return ConclusionsSubmitted(
        occurred_on=command.occurred_on,
        agency="mfa",
        report_version=command.report_version,
        summary=command.summary,
        proposals=command.proposals,
        missing_reviews=missing,
    )


# --- submit_conclusions ------------------------------------------------------------------


def test_conclusions_follow_the_last_review() -> None:
    command = conclusions()
    state = given(*story.before("submit_conclusions")).when(command).then(submitted(command))
    assert state.stage == Stage.CONCLUSIONS_SUBMITTED


def test_conclusions_wait_for_every_review() -> None:
    error = given(*story.before("submit_review")).when(conclusions()).then_rejects("guard_failed")
    assert "mfa, state_security_service" in str(error)


def test_an_overdue_escalated_review_no_longer_holds_conclusions_up() -> None:
    overdue = (
        ReviewOverdue(occurred_on=ON, agency="state_security_service", report_version=1),
        Escalated(
            occurred_on=ON,
            agency="state_security_service",
            matter="review",
            version=1,
            targets=("presidential_administration",),
        ),
    )
    mfa_review = story.events()[len(story.before("submit_conclusions")) - 1]
    command = conclusions()
    given(*story.before("submit_review"), *overdue, mfa_review).when(command).then(
        submitted(command, missing=("state_security_service",))
    )


def test_only_the_channel_submits_conclusions() -> None:
    stranger = Actor(party="state_security_service", role="head")
    given(*story.before("submit_conclusions")).when(conclusions(actor=stranger)).then_rejects(
        "not_allowed", "actor.party"
    )


def test_conclusions_are_on_the_latest_report_version() -> None:
    given(*story.before("submit_conclusions")).when(conclusions(report_version=2)).then_rejects(
        "guard_failed", "report_version"
    )


def test_conclusions_come_only_while_the_report_is_under_review() -> None:
    given(*story.before("deliver_report")).when(conclusions()).then_rejects("wrong_stage")


# --- resume ------------------------------------------------------------------------------

PARTNER_DG = Actor(party="partner", role="director_general")
CHAIR = Actor(party="national_body", role="chair")


def suspended_by(party: str) -> tuple[ProcessSuspended, str]:
    return ProcessSuspended(occurred_on=ON, party=party, reason="elections"), party


def resume(actor: Actor) -> Resume:
    return Resume(actor=actor, occurred_on=ON, reason="after the elections")


def test_the_party_that_suspended_resumes() -> None:
    state = (
        given(*story.before("submit_conclusions"), suspended_by("partner"))
        .when(resume(PARTNER_DG))
        .then(ProcessResumed(occurred_on=ON, party="partner", reason="after the elections"))
    )
    assert state.stage == Stage.UNDER_REVIEW  # back where it was suspended


def test_the_other_party_may_not_resume() -> None:
    given(*story.before("submit_conclusions"), suspended_by("partner")).when(
        resume(CHAIR)
    ).then_rejects("not_allowed", "actor.party")


def test_only_a_suspended_process_is_resumed() -> None:
    given(*story.before("submit_conclusions")).when(resume(PARTNER_DG)).then_rejects("wrong_stage")


def test_resuming_is_for_the_heads_of_the_parties() -> None:
    given(*story.before("submit_conclusions"), suspended_by("partner")).when(
        resume(Actor(party="partner", role="program_manager"))
    ).then_rejects("not_allowed", "actor.role")
