"""The evaluation mission's consent round: one child workflow per ToR version."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.contracts import MissionWatch, WatchOutcome
from workflows.timers import SYSTEM_ACTOR, business_date, report_timer


@workflow.defn(name="EvaluationMission")
class EvaluationMissionWorkflow:
    """Waits for the consents of one ToR version until the consent deadline.

    The process signals each consent decision; if any is still missing when the deadline
    passes, the process is told (`consent_deadline_reached`) and records `ConsentOverdue`
    and `Escalated` for each missing agency.
    """

    @workflow.init
    def __init__(self, watch: MissionWatch) -> None:
        self._pending = set(watch.agencies)
        self._closed = False

    @workflow.signal
    def consent_recorded(self, agency: str) -> None:
        self._pending.discard(agency)

    @workflow.signal
    def close(self) -> None:
        self._closed = True

    @workflow.query
    def pending(self) -> list[str]:
        return sorted(self._pending)

    @workflow.run
    async def run(self, watch: MissionWatch) -> WatchOutcome:
        started = workflow.time()
        try:
            await workflow.wait_condition(
                lambda: not self._pending or self._closed,
                timeout=timedelta(seconds=watch.consent_deadline_seconds),
                timeout_summary=f"consent deadline, ToR v{watch.tor_version}",
            )
        except TimeoutError:
            await report_timer(
                watch.process_workflow_id,
                "consent_deadline_reached",
                {
                    "actor": SYSTEM_ACTOR,
                    "occurred_on": business_date(watch.proposed_on, started).isoformat(),
                    "tor_version": watch.tor_version,
                },
            )
            return WatchOutcome(still_pending=sorted(self._pending), closed_by="deadline")
        except asyncio.CancelledError:
            return WatchOutcome(still_pending=sorted(self._pending), closed_by="cancelled")
        return WatchOutcome(
            still_pending=sorted(self._pending),
            closed_by="closed" if self._pending else "complete",
        )
