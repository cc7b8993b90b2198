"""Decider: report delivery, reviews (incl. timers), conclusions, revisions, acceptance,
presentation, publication, and whole-process commands (suspend, resume, withdraw, close)."""

from __future__ import annotations

from datetime import date

import pytest

from domain import (
    ConclusionsSubmitted,
    Escalated,
    PresentationHeld,
    ProcessClosed,
    ProcessResumed,
    ProcessSuspended,
    ProcessWentDormant,
    ProcessWithdrawn,
    PublicationCleared,
    ReportAccepted,
    ReportDelivered,
    ReportPublished,
    ReportRevised,
    ReviewOverdue,
    ReviewReminderSent,
    ReviewRequested,
    ReviewSubmitted,
    RevisionRequested,
    Stage,
)
from domain.dates import BusinessDate
from tests.domain.domain_scenario import (
    AGENCIES,
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
    Json,
    Run,
    run_to,
)

REPORT: Json = {
    "title": "Assessment Report: Accounting for Missing Persons in the Republic of Azerbaijan",
    "version": 1,
    "recipient": "mfa",
    "classification": "restricted",
}


def review(version: int = 1) -> Json:
    return {"report_version": version, "conclusions": "Agreed with proposals.", "proposals": ["p"]}


def concluded(version: int = 1) -> Run:
    run = run_to(Stage.UNDER_REVIEW)
    for version_ in range(2, version + 1):
        run.do("submit_review", MFA_REP, **review(version_ - 1))
        run.do("submit_review", SSS_HEAD, **review(version_ - 1))
        run.do("submit_conclusions", MFA_HEAD, report_version=version_ - 1)
        run.do("request_revision", CHAIR, report_version=version_ - 1, points=["fix"])
        run.do("revise_report", DG, version=version_)
    run.do("submit_review", MFA_REP, **review(version))
    run.do("submit_review", SSS_HEAD, **review(version))
    run.do("submit_conclusions", MFA_HEAD, report_version=version)
    return run


def test_deliver_report_requests_every_review() -> None:
    run = run_to(Stage.MISSION_COMPLETED)
    events = run.do("deliver_report", POLICY_DIRECTOR, **REPORT)
    on = run.today
    assert events == [
        ReportDelivered(occurred_on=BusinessDate.of(on), **REPORT),
        ReviewRequested(occurred_on=BusinessDate.of(on), agency="mfa", report_version=1),
        ReviewRequested(
            occurred_on=BusinessDate.of(on), agency="state_security_service", report_version=1
        ),
    ]
    assert run.stage() == Stage.UNDER_REVIEW
    assert run.state.report.reviews_with("pending") == ("mfa", "state_security_service")
    assert run.state.dates.delivered == on


def test_deliver_report_rejections() -> None:
    run = run_to(Stage.MISSION_COMPLETED)
    error = run.rejects(
        "guard_failed", "deliver_report", DG, **(REPORT | {"recipient": "state_security_service"})
    )
    assert error.field == "recipient" and "channel (mfa)" in error.message
    run.rejects("not_allowed", "deliver_report", CHAIR, **REPORT)
    run.rejects("invalid_input", "deliver_report", DG, **(REPORT | {"classification": "secret"}))
    run_to(Stage.MISSION_IN_PROGRESS).rejects("wrong_stage", "deliver_report", DG, **REPORT)


def test_no_reviewers_means_conclusions_right_away() -> None:
    agencies = [dict(a, reviewer=False) for a in AGENCIES]
    run = run_to(Stage.MISSION_COMPLETED, config=CONFIG | {"agencies": agencies})
    assert run.types(run.do("deliver_report", DG, **REPORT)) == ["ReportDelivered"]
    run.do("submit_conclusions", MFA_HEAD, report_version=1)
    assert run.stage() == Stage.CONCLUSIONS_SUBMITTED


def test_reviews_then_conclusions() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    events = run.do("submit_review", SSS_HEAD, **review())
    assert events == [
        ReviewSubmitted(
            occurred_on=BusinessDate.of(run.today),
            agency="state_security_service",
            report_version=1,
            conclusions="Agreed with proposals.",
            proposals=("p",),
        )
    ]
    error = run.rejects("guard_failed", "submit_conclusions", MFA_HEAD, report_version=1)
    assert "reviews still awaited" in error.message and "mfa" in error.message
    run.do("submit_review", MFA_REP, **review())
    run.rejects("not_allowed", "submit_conclusions", SSS_HEAD, report_version=1)
    run.rejects("guard_failed", "submit_conclusions", MFA_HEAD, report_version=2)
    events = run.do("submit_conclusions", MFA_REP, report_version=1, summary="Consolidated.")
    assert events == [
        ConclusionsSubmitted(
            occurred_on=BusinessDate.of(run.today),
            agency="mfa",
            report_version=1,
            summary="Consolidated.",
        )
    ]
    assert run.stage() == Stage.CONCLUSIONS_SUBMITTED
    assert run.state.report.conclusions_version == 1


def test_review_rejections() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    error = run.rejects("not_allowed", "submit_review", PA_HEAD, **review())
    assert "the reviewing agency itself" in error.message
    run.rejects("not_allowed", "submit_review", DG, **review())
    error = run.rejects("guard_failed", "submit_review", MFA_HEAD, **review(2))
    assert "not the latest report version (1)" in error.message
    run.do("submit_review", MFA_HEAD, **review())
    assert (
        "already reviewed"
        in run.rejects("guard_failed", "submit_review", MFA_REP, **review()).message
    )
    run_to(Stage.MISSION_COMPLETED).rejects("wrong_stage", "submit_review", MFA_HEAD, **review())


def test_review_timers_reminders_overdue_escalation_and_conclusions_without_it() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    run.do("submit_review", MFA_REP, **review())
    events = run.do("review_reminder_due", SYSTEM, report_version=1)
    assert events == [
        ReviewReminderSent(
            occurred_on=BusinessDate.of(run.today),
            agency="state_security_service",
            report_version=1,
        )
    ]
    assert run.state.report.reviews["state_security_service"].reminders == 1
    assert run.do("review_reminder_due", SYSTEM, report_version=9) == []
    events = run.do("review_deadline_reached", SYSTEM, report_version=1)
    assert events == [
        ReviewOverdue(
            occurred_on=BusinessDate.of(run.today),
            agency="state_security_service",
            report_version=1,
        ),
        Escalated(
            occurred_on=BusinessDate.of(run.today),
            agency="state_security_service",
            matter="review",
            version=1,
            targets=("presidential_administration",),
        ),
    ]
    assert run.do("review_deadline_reached", SYSTEM, report_version=1) == []
    # Reminders continue for an overdue reviewer.
    assert run.types(run.do("review_reminder_due", SYSTEM, report_version=1)) == [
        "ReviewReminderSent"
    ]
    events = run.do("submit_conclusions", MFA_HEAD, report_version=1)
    assert events[0] == ConclusionsSubmitted(
        occurred_on=BusinessDate.of(run.today),
        agency="mfa",
        report_version=1,
        missing_reviews=("state_security_service",),
    )
    assert run.do("review_deadline_reached", SYSTEM, report_version=1) == []


def test_late_review_after_overdue_is_accepted() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    run.do("review_deadline_reached", SYSTEM, report_version=1)
    run.do("submit_review", SSS_HEAD, **review())
    assert run.state.report.reviews["state_security_service"].status == "submitted"
    assert run.state.report.reviews["state_security_service"].escalated


def test_revision_round_and_re_review() -> None:
    run = concluded()
    run.rejects("not_allowed", "request_revision", SECRETARY, report_version=1, points=["x"])
    run.rejects("invalid_input", "request_revision", CHAIR, report_version=1, points=[])
    events = run.do("request_revision", CHAIR, report_version=1, points=["Add annex", "Fix data"])
    assert events == [
        RevisionRequested(
            occurred_on=BusinessDate.of(run.today),
            report_version=1,
            points=("Add annex", "Fix data"),
            round=1,
        )
    ]
    assert run.stage() == Stage.REVISION
    run.rejects("not_allowed", "revise_report", CHAIR, version=2)
    assert run.rejects("guard_failed", "revise_report", DG, version=1).field == "version"
    events = run.do("revise_report", DG, version=2, changes="Annex added.")
    on = run.today
    assert events == [
        ReportRevised(occurred_on=BusinessDate.of(on), version=2, changes="Annex added."),
        ReviewRequested(occurred_on=BusinessDate.of(on), agency="mfa", report_version=2),
        ReviewRequested(
            occurred_on=BusinessDate.of(on), agency="state_security_service", report_version=2
        ),
    ]
    assert run.stage() == Stage.UNDER_REVIEW
    assert run.state.report.version == 2
    assert run.state.report.reviews_with("pending") == ("mfa", "state_security_service")
    run.rejects("guard_failed", "submit_review", MFA_HEAD, **review(1))


def test_revision_limit() -> None:
    run = concluded(version=3)  # two rounds used
    assert run.state.report.revision_rounds == 2
    error = run.rejects("guard_failed", "request_revision", CHAIR, report_version=3, points=["x"])
    assert "revision limit reached" in error.message
    run.do("accept_report", CHAIR, report_version=3)
    assert run.state.report.accepted_version == 3


def test_accept_report() -> None:
    run = concluded()
    run.rejects("not_allowed", "accept_report", SECRETARY, report_version=1)
    run.rejects("guard_failed", "accept_report", CHAIR, report_version=2)
    assert run.do("accept_report", CHAIR, report_version=1) == [
        ReportAccepted(occurred_on=BusinessDate.of(run.today), report_version=1)
    ]
    assert run.stage() == Stage.ACCEPTED
    run_to(Stage.UNDER_REVIEW).rejects("wrong_stage", "accept_report", CHAIR, report_version=1)


def test_accept_requires_conclusions_on_the_latest_version() -> None:
    run = concluded()
    run.do("request_revision", CHAIR, report_version=1, points=["x"])
    run.do("revise_report", DG, version=2)
    run.rejects("wrong_stage", "accept_report", CHAIR, report_version=1)


def test_presentation_publication_and_close() -> None:
    run = run_to(Stage.ACCEPTED)
    run.rejects("wrong_stage", "close_process", CHAIR)
    run.rejects("not_allowed", "hold_presentation", DG, venue="Baku")
    events = run.do(
        "hold_presentation",
        SECRETARY,
        on=date(2025, 3, 10),
        venue="Baku",
        attendee_categories=["media", "NGOs"],
    )
    assert events == [
        PresentationHeld(
            occurred_on=BusinessDate.of(date(2025, 3, 10)),
            venue="Baku",
            attendee_categories=("media", "NGOs"),
        )
    ]
    assert run.stage() == Stage.PRESENTED
    run.rejects("not_allowed", "clear_publication", MFA_HEAD)
    run.rejects("not_allowed", "clear_publication", SECRETARY)
    assert run.do("clear_publication", CHAIR) == [
        PublicationCleared(
            occurred_on=BusinessDate.of(run.today), party="national_body", report_version=1
        )
    ]
    run.rejects("guard_failed", "clear_publication", CHAIR)
    error = run.rejects("guard_failed", "publish_report", SECRETARY, languages=["en"])
    assert "not cleared by: partner" in error.message
    run.do("clear_publication", DG)
    run.rejects("not_allowed", "publish_report", DG, languages=["en"])
    run.rejects("invalid_input", "publish_report", CHAIR, languages=["english"])
    assert run.do("publish_report", CHAIR, languages=["en", "az"]) == [
        ReportPublished(
            occurred_on=BusinessDate.of(run.today), report_version=1, languages=("en", "az")
        )
    ]
    assert run.stage() == Stage.PUBLISHED
    assert run.state.report.classification == "public"
    run.rejects("not_allowed", "close_process", SECRETARY)
    assert run.do("close_process", CHAIR, summary="Done.") == [
        ProcessClosed(occurred_on=BusinessDate.of(run.today), summary="Done.")
    ]
    assert run.stage() == Stage.CLOSED
    run.rejects("terminal", "withdraw", CHAIR, reason="late")
    run.rejects("terminal", "dormancy_due", SYSTEM)


def test_publication_without_presentation_and_close_after_presentation() -> None:
    run = run_to(Stage.ACCEPTED)
    run.do("clear_publication", DG)
    run.do("clear_publication", CHAIR)
    run.do("publish_report", SECRETARY, languages=["en"])
    assert run.stage() == Stage.PUBLISHED
    presented = run_to(Stage.PRESENTED)
    presented.do("close_process", CHAIR)
    assert presented.stage() == Stage.CLOSED


def test_suspend_and_resume_return_to_the_stage_left() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    run.rejects("not_allowed", "suspend", SECRETARY, reason="x")
    run.rejects("not_allowed", "suspend", MFA_HEAD, reason="x")
    run.rejects("wrong_stage", "resume", CHAIR)
    events = run.do("suspend", DG, reason="funding")
    assert events == [
        ProcessSuspended(occurred_on=BusinessDate.of(run.today), party="partner", reason="funding")
    ]
    assert (run.stage(), run.state.suspended_from) == (Stage.SUSPENDED, Stage.UNDER_REVIEW)
    run.rejects("wrong_stage", "submit_review", MFA_HEAD, **review())
    run.rejects("wrong_stage", "suspend", CHAIR, reason="again")
    assert run.do("review_deadline_reached", SYSTEM, report_version=1) == []  # timers pause
    error = run.rejects("not_allowed", "resume", CHAIR)
    assert "only the party that suspended (partner)" in error.message
    assert run.do("resume", DG, reason="funded") == [
        ProcessResumed(occurred_on=BusinessDate.of(run.today), party="partner", reason="funded")
    ]
    assert run.stage() == Stage.UNDER_REVIEW
    assert run.state.suspended_from is None


def test_suspend_a_dormant_process() -> None:
    run = run_to(Stage.NEGOTIATING)
    run.do("mark_dormant", CHAIR)
    run.do("suspend", CHAIR, reason="review of policy")
    run.do("resume", CHAIR)
    assert run.stage() == Stage.DORMANT
    run.do("re_engage", CHAIR, initiator="national_body")
    assert run.stage() == Stage.NEGOTIATING


@pytest.mark.parametrize("stage", [Stage.CONTACT, Stage.UNDER_REVIEW, Stage.SUSPENDED])
def test_withdraw_from_any_open_stage(stage: Stage) -> None:
    run = run_to(Stage.UNDER_REVIEW if stage == Stage.SUSPENDED else stage)
    if stage == Stage.SUSPENDED:
        run.do("suspend", CHAIR, reason="pause")
    run.rejects("not_allowed", "withdraw", SECRETARY, reason="x")
    run.rejects("not_allowed", "withdraw", MFA_HEAD, reason="x")
    run.rejects("invalid_input", "withdraw", DG, reason="")
    assert run.do("withdraw", DG, reason="mandate ended") == [
        ProcessWithdrawn(
            occurred_on=BusinessDate.of(run.today), party="partner", reason="mandate ended"
        )
    ]
    assert run.stage() == Stage.WITHDRAWN
    assert run.state.dates.withdrawn == run.today
    error = run.rejects("terminal", "submit_review", MFA_HEAD, **review())
    assert "withdrawn (terminal)" in error.message


def test_dormancy_timer() -> None:
    run = run_to(Stage.NEGOTIATING)
    events = run.do("dormancy_due", SYSTEM)
    assert len(events) == 1 and isinstance(events[0], ProcessWentDormant)
    assert events[0].automatic and "P180D" in events[0].reason
    assert run.stage() == Stage.DORMANT
    assert run.do("dormancy_due", SYSTEM) == []
    assert run_to(Stage.MISSION_PLANNING).do("dormancy_due", SYSTEM) == []


def test_review_timers_for_one_reviewer_branch() -> None:
    """The review child reports per reviewer; only that reviewer is reminded or overdue."""
    run = run_to(Stage.UNDER_REVIEW)
    assert run.do("review_reminder_due", SYSTEM, report_version=1, agency="mfa") == [
        ReviewReminderSent(occurred_on=BusinessDate.of(run.today), agency="mfa", report_version=1)
    ]
    run.do("submit_review", MFA_REP, **review())
    assert run.do("review_reminder_due", SYSTEM, report_version=1, agency="mfa") == []
    events = run.do("review_deadline_reached", SYSTEM, report_version=1, agency="mfa")
    assert events == []
    events = run.do(
        "review_deadline_reached", SYSTEM, report_version=1, agency="state_security_service"
    )
    assert run.types(events) == ["ReviewOverdue", "Escalated"]
    assert events[0] == ReviewOverdue(
        occurred_on=BusinessDate.of(run.today), agency="state_security_service", report_version=1
    )
