"""Small builders for workflow tests: a process like the story's, driven to a stage."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from cli.operations import CommandOutcome, send_command, start_process
from cli.session import Session
from tests.story_process import story_process
from workflows.contracts import ProcessStart
from workflows.process import workflow_id_for

NB_CHAIR = {"party": "national_body", "role": "chair"}
NB_SECRETARY = {"party": "national_body", "role": "secretary"}
ICMP_DG = {"party": "partner", "role": "director_general"}
ICMP_POLICY = {"party": "partner", "role": "policy_director"}
MFA_HEAD = {"party": "mfa", "role": "head"}
SSS_HEAD = {"party": "state_security_service", "role": "head"}

SLOW = {
    "consent_deadline": "P90D",
    "review_reminder_every": "P30D",
    "review_deadline": "P180D",
    "dormancy_after": "P730D",
}


def process_block(process_id: str, **durations: str) -> dict[str, Any]:
    """The story's parties and agencies (tests/story_process.py), slow clocks by default."""
    return story_process(process_id, {**SLOW, **durations}, max_revisions=1)


def opening(
    process_id: str, on: str = "2018-05-17", actor: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `open_process` command of a process like the story's, as a starter sends it."""
    return {"actor": actor or NB_CHAIR, "occurred_on": on, "process": process_block(process_id)}


class Driver:
    """Opens one process and sends it commands, failing loudly on unexpected rejections."""

    def __init__(self, session: Session, process_id: str) -> None:
        self.session = session
        self.process_id = process_id
        self.workflow_id = workflow_id_for(process_id)

    async def open(self, **durations: str) -> None:
        outcome = await start_process(
            self.session, process_block(self.process_id, **durations), default_on=date(2018, 5, 17)
        )
        assert outcome.accepted, outcome

    async def open_with_short_runs(self, continue_as_new_after: int) -> str:
        """Open with a low continue-as-new threshold; the first run's id."""
        handle = await self.session.client.start_workflow(
            "CooperationProcess",
            ProcessStart(
                open_process=opening(self.process_id),
                continue_as_new_after=continue_as_new_after,
            ),
            id=self.workflow_id,
            task_queue=self.session.task_queue,
        )
        return (await handle.describe()).run_id

    async def send(
        self, name: str, on: str, actor: dict[str, Any], **fields: Any
    ) -> CommandOutcome:
        return await send_command(
            self.session, self.workflow_id, name, {**fields, "actor": actor, "occurred_on": on}
        )

    async def ok(self, name: str, on: str, actor: dict[str, Any], **fields: Any) -> CommandOutcome:
        outcome = await self.send(name, on, actor, **fields)
        assert outcome.accepted, (name, outcome)
        return outcome

    async def meet_online(self, days: range) -> None:
        """An online meeting on each of `days` of January 2019: history for a run to grow."""
        for day in days:
            await self.ok(
                "record_meeting",
                f"2019-01-{day:02d}",
                NB_SECRETARY,
                format="online",
                initiator="national_body",
            )

    async def to_negotiating(self) -> None:
        await self.ok(
            "log_contact", "2018-05-17", MFA_HEAD, venue="The Hague", modalities=["membership"]
        )
        await self.ok("submit_opinion", "2018-06-01", NB_SECRETARY, recommendation="negotiate")
        await self.ok(
            "assign_representative", "2018-06-02", MFA_HEAD, representative="MFA representative"
        )

    async def to_instrument_signed(self) -> None:
        await self.to_negotiating()
        await self.ok(
            "propose_instrument",
            "2021-11-15",
            ICMP_POLICY,
            type="protocol_of_intent",
            draft_version=1,
        )
        await self.ok("clear_instrument", "2022-03-01", MFA_HEAD, draft_version=1)
        await self.ok(
            "sign_instrument",
            "2022-04-04",
            NB_CHAIR,
            draft_version=1,
            place="Baku",
            signatories=[{**NB_CHAIR, "name": "Chair"}, {**ICMP_DG, "name": "Kathryne Bomberger"}],
        )

    async def to_mission_planning(self) -> None:
        await self.to_instrument_signed()
        await self.ok(
            "propose_mission",
            "2023-03-01",
            ICMP_POLICY,
            tor_version=1,
            planned_start="2023-06-05",
            planned_end="2023-06-16",
            team=["Andreas Kleiser"],
            agencies_to_meet=["mfa"],
        )

    async def to_mission_started_late(self) -> int:
        """Consents granted, then the mission's start recorded on the day the record was
        made (20 June), not the day it began: the version of that event, to correct it."""
        await self.to_mission_planning()
        await self.ok("grant_consent", "2023-04-01", MFA_HEAD, tor_version=1)
        await self.ok("grant_consent", "2023-04-02", SSS_HEAD, tor_version=1)
        started = await self.ok("start_mission", "2023-06-20", ICMP_POLICY)
        (event,) = started.events
        return int(event["version"])

    async def to_under_review(self) -> None:
        await self.to_mission_planning()
        await self.ok("grant_consent", "2023-04-01", MFA_HEAD, tor_version=1)
        await self.ok("grant_consent", "2023-04-02", SSS_HEAD, tor_version=1)
        await self.ok("start_mission", "2023-06-05", ICMP_POLICY)
        await self.ok(
            "complete_mission",
            "2023-06-16",
            ICMP_POLICY,
            actual_start="2023-06-05",
            actual_end="2023-06-16",
            mode="in_person",
        )
        await self.ok(
            "deliver_report",
            "2024-05-15",
            ICMP_DG,
            title="Assessment Report",
            version=1,
            recipient="mfa",
            classification="restricted",
        )


async def opened(session: Session, name: str) -> Driver:
    """A driver on a process of its own (`name` and a random suffix), opened."""
    driver = Driver(session, f"{name}-{uuid.uuid4().hex[:6]}")
    await driver.open()
    return driver
