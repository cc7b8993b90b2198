"""What operators see of a process without asking it: search attributes, and the current
details the Temporal UI shows.

Published at the start of every run and after every accepted command, from the state, the
clocks and when the current stage began. Upserting search attributes is a command in
history: it is made at exactly those points, never more often.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from domain import Event, ProcessState, ProcessView, describe, process_view
from workflows import clocks, search
from workflows.clocks import Clock


def publish(
    state: ProcessState, running: dict[str, Clock], stage_since_at: float, last: Event | None
) -> None:
    """Search attributes and current details after `last` (None: at the start of a run)."""
    view = process_view(state)
    upcoming = clocks.next_due(running)
    due = (
        datetime.fromtimestamp(upcoming.due_at, UTC)
        if upcoming is not None and upcoming.due_at is not None
        else None
    )
    updates: list[SearchAttributeUpdate[Any]] = [
        search.STAGE.value_set(str(view.stage)),
        search.PENDING_AGENCIES.value_set(list(view.pending_agencies)),
        search.AWAITING.value_set([f"{a.party}:{a.command}" for a in view.awaiting]),
        search.STAGE_SINCE.value_set(datetime.fromtimestamp(stage_since_at, UTC)),
        search.NEXT_DEADLINE.value_set(due) if due else search.NEXT_DEADLINE.value_unset(),
    ]
    if last is None:
        # At the start of every run: whoever started the workflow, the process is
        # findable by its partner, country and id.
        partner = view.partner.short_name or view.partner.name
        updates += [
            search.PARTNER.value_set(partner),
            search.COUNTRY.value_set(view.country),
            search.PROCESS_ID.value_set(view.process_id),
        ]
    workflow.upsert_search_attributes(updates)
    workflow.set_current_details(_details(view, state, last, upcoming, due))


def _details(
    view: ProcessView,
    state: ProcessState,
    last: Event | None,
    upcoming: Clock | None,
    due: datetime | None,
) -> str:
    """The UI shows current details in a box three lines high: two short paragraphs, the
    last event cut short (its full sentence is in the timeline and the report)."""
    # Parties by name, with the key and command an operator filters on (AccordAwaiting).
    names = {a.key: a.name or a.key for a in view.agencies}
    names["partner"] = view.partner.short_name or view.partner.name
    names["national_body"] = view.national_body.short_name or view.national_body.name
    waiting = "; ".join(
        f"{names.get(a.party, a.party)} (`{a.party}`): {a.command}" for a in view.awaiting
    )
    since = str(view.stage_since) if view.stage_since else "-"
    lines = [f"**Stage:** {view.stage} since {since} · **Waiting on:** {waiting or 'nobody'}"]
    on = str(view.last_occurred_on) if view.last_occurred_on else "-"
    if last is not None:
        sentence = describe(last, state.config)
        if len(sentence) > 120:
            sentence = sentence[:119].rstrip(" ,;") + "…"
        lines.append(f"**Last event** ({on}, no. {view.version}): {sentence}")
    else:
        lines.append(f"**Events recorded:** {view.version}, the last on {on}")
    if upcoming is not None and due is not None:
        lines[-1] += f" · **Next timer:** {clocks.label(upcoming)}, {due:%Y-%m-%d %H:%M} UTC"
    return "\n\n".join(lines)
