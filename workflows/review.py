"""The inter-agency review of one report version: one branch per reviewer agency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.contracts import ReviewWatch, WatchOutcome
from workflows.timers import SYSTEM_ACTOR, business_date, report_timer


@workflow.defn(name="ReportReview")
class ReportReviewWorkflow:
    """Reminds each reviewer agency until it answers, and reports it overdue at the deadline.

    Each branch runs on its own so that one agency's answer stops only its own reminders.
    The process records `ReviewReminderSent`, `ReviewOverdue` and `Escalated`.
    """

    @workflow.init
    def __init__(self, watch: ReviewWatch) -> None:
        self._pending = set(watch.reviewers)
        self._closed = False
        self._outcomes: dict[str, str] = {}

    @workflow.signal
    def review_recorded(self, agency: str) -> None:
        self._pending.discard(agency)

    @workflow.signal
    def close(self) -> None:
        self._closed = True

    @workflow.query
    def pending(self) -> list[str]:
        return sorted(self._pending)

    @workflow.run
    async def run(self, watch: ReviewWatch) -> WatchOutcome:
        started = workflow.time()
        try:
            await asyncio.gather(
                *(self._branch(watch, agency, started) for agency in sorted(watch.reviewers))
            )
        except asyncio.CancelledError:
            return WatchOutcome(still_pending=sorted(self._pending), closed_by="cancelled")
        overdue = any(o == "deadline" for o in self._outcomes.values())
        closed_by = "deadline" if overdue else ("closed" if self._pending else "complete")
        return WatchOutcome(still_pending=sorted(self._pending), closed_by=closed_by)

    async def _branch(self, watch: ReviewWatch, agency: str, started: float) -> None:
        deadline_at = started + watch.deadline_seconds
        reminders = 0

        def answered() -> bool:
            return agency not in self._pending or self._closed

        while not answered():
            remaining = deadline_at - workflow.time()
            if remaining <= 0:
                self._outcomes[agency] = "deadline"
                await report_timer(
                    watch.process_workflow_id,
                    "review_deadline_reached",
                    self._timer_data(watch, agency, started),
                )
                return
            wait = min(watch.reminder_every_seconds, remaining)
            due_is_deadline = wait >= remaining
            label = "review deadline" if due_is_deadline else f"reminder {reminders + 1}"
            try:
                await workflow.wait_condition(
                    answered,
                    timeout=timedelta(seconds=wait),
                    timeout_summary=f"{agency}: {label}, report v{watch.report_version}",
                )
            except TimeoutError:
                if due_is_deadline:
                    continue  # the loop reports the deadline
                reminders += 1
                await report_timer(
                    watch.process_workflow_id,
                    "review_reminder_due",
                    self._timer_data(watch, agency, started),
                )
        self._outcomes[agency] = "answered"

    @staticmethod
    def _timer_data(watch: ReviewWatch, agency: str, started: float) -> dict[str, object]:
        return {
            "actor": SYSTEM_ACTOR,
            "occurred_on": business_date(watch.delivered_on, started).isoformat(),
            "report_version": watch.report_version,
            "agency": agency,
        }
