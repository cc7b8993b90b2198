"""The mission's report: delivery, the agencies' reviews, the consolidated conclusions,
revisions, acceptance, presentation and publication."""

from __future__ import annotations

from domain import commands as cmd
from domain import events as ev
from domain.dates import BusinessDate
from domain.parties import ProcessConfig
from domain.policy import HEADS, party
from domain.rules.guards import guard, latest
from domain.rules.recorded import recorded
from domain.rules.registry import command_rule
from domain.stages import Stage as S
from domain.state import ProcessState
from domain.vocabulary import NATIONAL_BODY, PARTNER


def _review_requests(c: ProcessConfig, version: int, on: BusinessDate) -> list[ev.Event]:
    return [
        ev.ReviewRequested(occurred_on=on, agency=k, report_version=version) for k in c.reviewers
    ]


@command_rule(cmd.DeliverReport, who=(party("partner"),), stages={S.MISSION_COMPLETED})
def deliver_report(
    s: ProcessState, c: ProcessConfig, x: cmd.DeliverReport, on: BusinessDate
) -> list[ev.Event]:
    channel = c.channel.key
    guard(
        x.recipient == channel,
        x.name,
        f"the report must be delivered to the channel ({channel}), not {x.recipient}",
        "recipient",
    )
    delivered = recorded(ev.ReportDelivered, x, on)
    return [delivered, *_review_requests(c, x.version, on)]


@command_rule(cmd.SubmitReview, who=(party("reviewing_agency"),), stages={S.UNDER_REVIEW})
def submit_review(
    s: ProcessState, c: ProcessConfig, x: cmd.SubmitReview, on: BusinessDate
) -> list[ev.Event]:
    agency = x.actor.party
    latest(s, x.name, x.report_version)
    review = s.report.reviews.get(agency)
    guard(
        review is None or review.status != "submitted",
        x.name,
        f"{agency} has already reviewed version {x.report_version}",
    )
    return [recorded(ev.ReviewSubmitted, x, on, agency=agency)]


@command_rule(cmd.SubmitConclusions, who=(party("channel"),), stages={S.UNDER_REVIEW})
def submit_conclusions(
    s: ProcessState, c: ProcessConfig, x: cmd.SubmitConclusions, on: BusinessDate
) -> list[ev.Event]:
    latest(s, x.name, x.report_version)
    waiting = s.report.awaited_reviews()
    guard(
        not waiting,
        x.name,
        "reviews still awaited (neither submitted nor overdue and escalated): "
        + ", ".join(waiting),
    )
    return [
        recorded(
            ev.ConclusionsSubmitted,
            x,
            on,
            agency=c.channel.key,
            missing_reviews=s.report.reviews_with("overdue"),
        )
    ]


@command_rule(
    cmd.RequestRevision, who=(party("national_body", "chair"),), stages={S.CONCLUSIONS_SUBMITTED}
)
def request_revision(
    s: ProcessState, c: ProcessConfig, x: cmd.RequestRevision, on: BusinessDate
) -> list[ev.Event]:
    latest(s, x.name, x.report_version)
    used = s.report.revision_rounds
    guard(
        used < c.max_revisions,
        x.name,
        f"revision limit reached: {used} of max_revisions {c.max_revisions} rounds used",
    )
    return [recorded(ev.RevisionRequested, x, on, round=used + 1)]


@command_rule(cmd.ReviseReport, who=(party("partner"),), stages={S.REVISION})
def revise_report(
    s: ProcessState, c: ProcessConfig, x: cmd.ReviseReport, on: BusinessDate
) -> list[ev.Event]:
    latest = s.report.version
    guard(
        x.version > latest,
        x.name,
        f"version {x.version} must be greater than the latest report version ({latest})",
        "version",
    )
    revised = recorded(ev.ReportRevised, x, on)
    return [revised, *_review_requests(c, x.version, on)]


@command_rule(
    cmd.AcceptReport, who=(party("national_body", "chair"),), stages={S.CONCLUSIONS_SUBMITTED}
)
def accept_report(
    s: ProcessState, c: ProcessConfig, x: cmd.AcceptReport, on: BusinessDate
) -> list[ev.Event]:
    latest(s, x.name, x.report_version)
    guard(
        s.report.conclusions_version == x.report_version,
        x.name,
        f"no conclusions were submitted on version {x.report_version}",
        "report_version",
    )
    return [recorded(ev.ReportAccepted, x, on)]


@command_rule(cmd.HoldPresentation, who=(party("national_body"),), stages={S.ACCEPTED})
def hold_presentation(
    s: ProcessState, c: ProcessConfig, x: cmd.HoldPresentation, on: BusinessDate
) -> list[ev.Event]:
    return [recorded(ev.PresentationHeld, x, on)]


@command_rule(cmd.ClearPublication, who=HEADS, stages={S.ACCEPTED, S.PRESENTED})
def clear_publication(
    s: ProcessState, c: ProcessConfig, x: cmd.ClearPublication, on: BusinessDate
) -> list[ev.Event]:
    party = x.actor.party
    guard(
        party not in s.report.clearances,
        x.name,
        f"{party} has already cleared publication",
    )
    version = s.report.accepted_version
    assert version is not None  # stages accepted/presented imply acceptance
    return [recorded(ev.PublicationCleared, x, on, party=party, report_version=version)]


@command_rule(cmd.PublishReport, who=(party("national_body"),), stages={S.ACCEPTED, S.PRESENTED})
def publish_report(
    s: ProcessState, c: ProcessConfig, x: cmd.PublishReport, on: BusinessDate
) -> list[ev.Event]:
    missing = [p for p in (NATIONAL_BODY, PARTNER) if p not in s.report.clearances]
    guard(not missing, x.name, f"publication not cleared by: {', '.join(missing)}")
    version = s.report.accepted_version
    assert version is not None
    return [recorded(ev.ReportPublished, x, on, report_version=version)]
