"""How child workflows report a due timer to their process.

A child never changes the process itself: it sends a `timer_fired` signal naming a domain
system command, and the process runs it through `decide`, which ignores stale ones (a
consent that arrived meanwhile, a superseded ToR or report version).
"""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow

from workflows.contracts import TimerFired

SYSTEM_ACTOR = {"party": "system", "role": "timer"}


def business_date(start: date, started_at_seconds: float) -> date:
    """The business date a timer falls on: the trigger's date plus the elapsed days.

    With durations of seconds (tests, scenario replays) this is the trigger's date; with
    real durations it is the date the deadline actually expired.
    """
    elapsed = workflow.time() - started_at_seconds
    return start + timedelta(days=int(elapsed // 86400))


async def report_timer(process_workflow_id: str, command: str, data: dict[str, object]) -> bool:
    """Signal the process; False when it has already finished (nothing left to remind)."""
    handle = workflow.get_external_workflow_handle(process_workflow_id)
    try:
        await handle.signal("timer_fired", TimerFired(command=command, data=dict(data)))
    except Exception as err:  # the process completed or was terminated meanwhile
        workflow.logger.info("process no longer reachable for %s: %s", command, err)
        return False
    return True
