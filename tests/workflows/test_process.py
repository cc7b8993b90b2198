"""The cooperation process on the real dev server, worker and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from cli.operations import read_status
from cli.session import Session
from readmodel.projections import Projections
from store import EventStore
from tests.workflows.builders import (
    ICMP_DG,
    ICMP_POLICY,
    MFA_HEAD,
    NB_CHAIR,
    NB_SECRETARY,
    SSS_HEAD,
    Driver,
)
from workers.main import build_worker
from workflows import search
from workflows.contracts import ProcessOutcome


def pid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


async def history_size(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


async def event_types(store: EventStore, workflow_id: str) -> list[str]:
    return [e.event_type for e in await store.read_stream(workflow_id)]


async def test_each_rejection_code_leaves_no_trace(session: Session, store: EventStore) -> None:
    p = Driver(session, pid("reject"))
    await p.open()
    await p.ok("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")
    before_history = await history_size(session.client, p.workflow_id)
    before_events = await store.read_stream(p.workflow_id)
    before_view = await Projections(store).view(p.workflow_id)

    cases: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "invalid_input",
            "submit_opinion",
            "2018-06-01",
            NB_SECRETARY,
            {"recommendation": "negotiate", "victim_names": ["x"]},
        ),
        (
            "invalid_input",
            "submit_opinion",
            "2018-06-01",
            NB_SECRETARY,
            {"recommendation": "negotiate", "summary": "x" * 100_000},
        ),
        ("invalid_input", "submit_opinion", "2018-06-01", NB_SECRETARY, {"recommendation": 7}),
        ("not_allowed", "submit_opinion", "2018-06-01", ICMP_DG, {"recommendation": "negotiate"}),
        ("wrong_stage", "start_mission", "2018-06-01", ICMP_POLICY, {}),
        (
            "out_of_order",
            "submit_opinion",
            "2017-01-01",
            NB_SECRETARY,
            {"recommendation": "negotiate"},
        ),
        ("guard_failed", "clear_instrument", "2018-06-01", MFA_HEAD, {"draft_version": 1}),
    ]
    for code, name, on, actor, fields in cases:
        outcome = await p.send(name, on, actor, **fields)
        assert not outcome.accepted, (name, fields)
        if code == "guard_failed" and outcome.code == "wrong_stage":
            continue  # clear_instrument before any proposal is refused by stage first
        assert outcome.code == code, (name, outcome)
        assert outcome.message
    field_outcome = await p.send(
        "submit_opinion", "2018-06-01", NB_SECRETARY, recommendation="negotiate", victim_names=["x"]
    )
    assert field_outcome.field and "victim_names" in field_outcome.field
    assert "victim_names" in (field_outcome.message or "")

    assert await history_size(session.client, p.workflow_id) == before_history
    assert await store.read_stream(p.workflow_id) == before_events
    assert await Projections(store).view(p.workflow_id) == before_view


async def test_terminal_process_accepts_nothing(session: Session, store: EventStore) -> None:
    p = Driver(session, pid("terminal"))
    await p.open()
    await p.ok("log_contact", "2018-05-17", MFA_HEAD, venue="The Hague")
    await p.ok("withdraw", "2018-06-01", ICMP_DG, reason="No mandate")
    handle = session.client.get_workflow_handle(p.workflow_id, result_type=ProcessOutcome)
    assert (await handle.result()).stage == "withdrawn"
    outcome = await p.send("submit_opinion", "2018-06-02", NB_SECRETARY, recommendation="negotiate")
    assert outcome.code == "terminal"
    assert (await event_types(store, p.workflow_id))[-1] == "ProcessWithdrawn"


async def test_withdrawal_stops_every_clock(session: Session, store: EventStore) -> None:
    p = Driver(session, pid("withdraw"))
    await p.open(consent_deadline="PT3S")
    await p.to_mission_planning()
    await p.ok("withdraw", "2023-03-05", NB_CHAIR, reason="Government decision")
    handle = session.client.get_workflow_handle(p.workflow_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    await asyncio.sleep(4)  # past the consent deadline: nothing may fire any more
    assert (await event_types(store, p.workflow_id))[-1] == "ProcessWithdrawn"


async def test_suspension_stops_the_clock_and_resume_keeps_the_time_left(
    session: Session, store: EventStore
) -> None:
    """DOMAIN.md "Awaiting and clocks": a clock stopped a moment before its deadline goes on
    with what it had left, not with a fresh period."""
    p = Driver(session, pid("stopped-clock"))
    await p.open(consent_deadline="PT6S")
    await p.to_mission_planning()
    proposed = asyncio.get_running_loop().time()
    await asyncio.sleep(3)
    await p.ok("suspend", "2023-03-02", NB_CHAIR, reason="Elections")
    await asyncio.sleep(5)  # longer than the time left: a running clock would have fired
    assert "ConsentOverdue" not in await event_types(store, p.workflow_id)
    await p.ok("resume", "2023-03-03", NB_CHAIR, reason="Government formed")
    resumed = asyncio.get_running_loop().time()

    async def overdue() -> bool:
        return "ConsentOverdue" in await event_types(store, p.workflow_id)

    await eventually(overdue, within=10)
    fired = asyncio.get_running_loop().time()
    # About 3 s were left at the suspension; a fresh period would have taken 6 s.
    assert fired - resumed < 5.5, fired - resumed
    assert fired - proposed > 8
    events = await store.read_stream(p.workflow_id)
    overdue_event = next(e for e in events if e.event_type == "ConsentOverdue")
    assert overdue_event.metadata.occurred_on == "2023-03-03"


async def test_consent_deadline_overdue_and_escalated(session: Session, store: EventStore) -> None:
    p = Driver(session, pid("consent"))
    await p.open(consent_deadline="PT2S")
    await p.to_mission_planning()
    await p.ok("grant_consent", "2023-04-01", MFA_HEAD, tor_version=1)

    async def escalated() -> bool:
        return "Escalated" in await event_types(store, p.workflow_id)

    await eventually(escalated)
    events = await store.read_stream(p.workflow_id)
    overdue = [e for e in events if e.event_type == "ConsentOverdue"]
    assert [e.data["agency"] for e in overdue] == ["state_security_service"]
    assert all(e.metadata.actor and e.metadata.actor["party"] == "system" for e in overdue)


async def test_silent_reviewer_reminded_overdue_then_conclusions(
    session: Session, store: EventStore
) -> None:
    p = Driver(session, pid("review"))
    await p.open(review_reminder_every="PT1S", review_deadline="PT6S")
    await p.to_under_review()
    await p.ok("submit_review", "2024-06-01", MFA_HEAD, report_version=1, conclusions="Agreed")
    early = await p.send("submit_conclusions", "2024-06-02", MFA_HEAD, report_version=1)
    assert early.code == "guard_failed"

    async def overdue() -> bool:
        types = await event_types(store, p.workflow_id)
        return "ReviewOverdue" in types and "Escalated" in types

    await eventually(overdue)
    events = await store.read_stream(p.workflow_id)
    reminders = [e.data["agency"] for e in events if e.event_type == "ReviewReminderSent"]
    assert reminders and set(reminders) == {"state_security_service"}
    await p.ok("submit_conclusions", "2024-06-10", MFA_HEAD, report_version=1)
    assert (await read_status(session, p.workflow_id))["stage"] == "conclusions_submitted"
    settled = len(await event_types(store, p.workflow_id))
    await asyncio.sleep(2)  # two reminder periods: the settled review reminds nobody
    assert len(await event_types(store, p.workflow_id)) == settled


async def test_dormancy_timer(session: Session, store: EventStore) -> None:
    p = Driver(session, pid("dormant"))
    await p.open(dormancy_after="PT2S")
    await p.to_negotiating()

    async def dormant() -> bool:
        return bool((await read_status(session, p.workflow_id))["stage"] == "dormant")

    await eventually(dormant)
    assert "ProcessWentDormant" in await event_types(store, p.workflow_id)
    await p.ok(
        "re_engage",
        "2021-03-01",
        {"party": "presidential_administration", "role": "head"},
        initiator="presidential_administration",
    )
    assert (await read_status(session, p.workflow_id))["stage"] == "negotiating"


async def test_worker_restarted_mid_process(
    client: Client, store: EventStore, task_queue: str, worker: Worker, session: Session
) -> None:
    p = Driver(session, pid("restart"))
    await p.open()
    await p.to_negotiating()
    await worker.shutdown()
    replacement = build_worker(client, store, task_queue)
    async with replacement:
        await p.ok(
            "propose_instrument",
            "2021-11-15",
            ICMP_POLICY,
            type="protocol_of_intent",
            draft_version=1,
        )
        assert (await read_status(session, p.workflow_id))["stage"] == "negotiating"
    versions = [e.version for e in await store.read_stream(p.workflow_id)]
    assert versions == list(range(1, len(versions) + 1))
    assert (await store.verify(p.workflow_id)).ok


async def test_continue_as_new_carries_state(session: Session, store: EventStore) -> None:

    process_id = pid("can")
    workflow_id = f"coop-{process_id}"
    p = Driver(session, process_id)
    first_run = await p.open_with_short_runs(60)
    await p.to_negotiating()
    await p.meet_online(range(1, 16))

    async def new_run() -> bool:
        return (
            await session.client.get_workflow_handle(workflow_id).describe()
        ).run_id != first_run

    await eventually(new_run)
    view = await read_status(session, workflow_id)
    assert view["stage"] == "negotiating"
    assert view["version"] == await store.stream_version(workflow_id)
    await p.ok(
        "propose_instrument", "2021-11-15", ICMP_POLICY, type="protocol_of_intent", draft_version=1
    )
    versions = [e.version for e in await store.read_stream(workflow_id)]
    assert versions == list(range(1, len(versions) + 1))
    history = await session.client.get_workflow_handle(
        workflow_id, run_id=first_run
    ).fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW


async def test_projection_equals_status_query(session: Session, store: EventStore) -> None:
    p = Driver(session, pid("view"))
    await p.open()
    await p.to_mission_planning()
    await p.ok("grant_consent", "2023-04-01", SSS_HEAD, tor_version=1)
    projected = await Projections(store).view(p.workflow_id)
    queried = await read_status(session, p.workflow_id)
    assert projected == queried
    assert queried["pending_consents"] == ["mfa"]


async def test_projections_rebuild_equals_fold(session: Session, store: EventStore) -> None:
    from domain import decode_event, fold, process_view

    p = Driver(session, pid("rebuild"))
    await p.open()
    await p.to_under_review()
    projections = Projections(store)
    before_view = await projections.view(p.workflow_id)
    before_timeline = await projections.timeline(p.workflow_id)
    counts = await projections.rebuild()
    assert counts["events"] >= len(before_timeline)
    assert await projections.view(p.workflow_id) == before_view
    assert await projections.timeline(p.workflow_id) == before_timeline
    events = await store.read_stream(p.workflow_id)
    folded = fold(decode_event(e.event_type, e.schema_version, e.data) for e in events)
    assert before_view == process_view(folded).model_dump(mode="json")
    assert [t["version"] for t in before_timeline] == [e.version for e in events]


async def test_operators_find_who_is_awaited_and_what_is_due(
    session: Session, store: EventStore
) -> None:
    p = Driver(session, pid("awaiting"))
    await p.open()
    await p.to_mission_planning()
    view = await read_status(session, p.workflow_id)
    assert [(a["party"], a["command"]) for a in view["awaiting"]] == [
        ("mfa", "grant_consent"),
        ("state_security_service", "grant_consent"),
    ]
    assert view["stage_since"] == "2023-03-01"
    await p.ok("grant_consent", "2023-04-01", MFA_HEAD, tor_version=1)
    await p.ok("grant_consent", "2023-04-02", SSS_HEAD, tor_version=1)
    view = await read_status(session, p.workflow_id)
    assert [(a["party"], a["command"]) for a in view["awaiting"]] == [("partner", "start_mission")]

    async def listed(query: str) -> list[str]:
        return [wf.id async for wf in session.client.list_workflows(query)]

    async def findable() -> bool:
        ids = await listed(
            f"AccordAwaiting = 'partner:start_mission' AND WorkflowId = '{p.workflow_id}'"
        )
        return ids == [p.workflow_id]

    await eventually(findable)
    # mission_ready runs no clock: no deadline; the stage began a moment ago.
    description = await session.client.get_workflow_handle(p.workflow_id).describe()
    attrs = description.typed_search_attributes
    assert attrs.get(search.NEXT_DEADLINE) is None
    since = attrs.get(search.STAGE_SINCE)
    assert since is not None and datetime.now(UTC) - since < timedelta(minutes=5)
    await p.ok("withdraw", "2023-04-03", NB_CHAIR, reason="Test over")


async def test_the_next_deadline_is_searchable(session: Session, store: EventStore) -> None:
    p = Driver(session, pid("deadline"))
    await p.open()
    await p.to_mission_planning()  # the consent deadline runs: P90D
    description = await session.client.get_workflow_handle(p.workflow_id).describe()
    due = description.typed_search_attributes.get(search.NEXT_DEADLINE)
    assert due is not None
    now = datetime.now(UTC)
    assert timedelta(days=89) < due - now <= timedelta(days=90)
    query = (
        f"AccordNextDeadline < '{(now + timedelta(days=91)).isoformat()}' "
        f"AND WorkflowId = '{p.workflow_id}'"
    )

    async def findable() -> bool:
        return [wf.id async for wf in session.client.list_workflows(query)] == [p.workflow_id]

    await eventually(findable)
