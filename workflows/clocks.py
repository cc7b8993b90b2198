"""The process's own clocks: which timers run, when each is due, and what it then says.

Every timer of DOMAIN.md belongs to the process and is computed from its state and its
own clock (`workflow.now()`); nothing from outside can arm, fire or date one. After each
event the workflow reconciles its clocks with the state:

- a clock the state wants and the process does not run yet is armed for its full period;
- a clock the state no longer wants (the consent arrived, the version was superseded, the
  stage moved on) is dropped, so a stale timer can never fire;
- while the process is `suspended` every clock stops, keeping the time it had left, and
  on `resume` goes on with that time (DOMAIN.md "Awaiting and clocks"); one that was
  already due fires at once, dated the resumption (the process's latest business date).

| clock | wanted while | fires |
|---|---|---|
| `consent/<tor>` | mission_planning, a consent pending | `consent_deadline_reached`, once |
| `deadline/<v>/<agency>` | under_review, that review pending | `review_deadline_reached`, once |
| `reminder/<v>/<agency>` | under_review, that review pending | `review_reminder_due`, repeats |
| `dormancy` | options_review or negotiating | `dormancy_due`; any event re-arms it |

A deadline and a reminder due together: the deadline fires, and the review, now overdue,
wants no reminder. Suspension and resumption are not activity: they stop and start the
dormancy clock without re-arming it.

Pure functions of (state, clocks, now): the workflow calls them, so they are replayed
exactly. Times are seconds since the epoch as `workflow.now()` gives them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain import (
    FUTURE_TOLERANCE,
    Command,
    Event,
    ProcessResumed,
    ProcessState,
    ProcessSuspended,
    Stage,
    parse_command,
)
from domain.dates import BusinessDate
from domain.events import RecordCorrected
from domain.stages import DORMANT_FROM

DAY = 86400.0
# Who issues the commands a clock fires.
SYSTEM_ACTOR = {"party": "system", "role": "timer"}


class Clock(BaseModel):
    """One armed timer. Exactly one of `due_at` (running) and `remaining` (stopped) is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    command: str  # the domain system command it fires
    fields: dict[str, Any] = Field(default_factory=dict)  # the command's own fields
    period: float = Field(gt=0)  # seconds of running time between firings
    armed_on: date  # the business date it counts from
    periods_done: int = Field(default=0, ge=0)  # firings so far (reminders repeat)
    due_at: float | None = None
    remaining: float | None = None
    stopped_at: float | None = None  # when a suspension stopped it (to date it after)

    @property
    def running(self) -> bool:
        return self.due_at is not None

    def fire_date(self, last: BusinessDate | None, today: date) -> date:
        """The business date of this firing: its period's end, never before the process's
        latest date (its earliest possible day, as invariant 1 compares) nor after today
        (a fact is recorded once it has happened)."""
        elapsed = timedelta(days=int(self.period * (self.periods_done + 1) // DAY))
        on = self.armed_on + elapsed
        if last is not None and on < last.earliest:
            on = last.earliest
        return min(on, today)


def wanted(state: ProcessState) -> dict[str, tuple[str, dict[str, Any], float]]:
    """The clocks this state needs: key -> (system command, its fields, period in seconds)."""
    config = state.config
    if config is None:
        return {}
    durations = config.durations
    out: dict[str, tuple[str, dict[str, Any], float]] = {}
    if state.stage == Stage.MISSION_PLANNING and state.mission.consents_with("pending"):
        tor = state.mission.tor_version
        out[f"consent/{tor}"] = (
            "consent_deadline_reached",
            {"tor_version": tor},
            durations.consent_deadline.total_seconds(),
        )
    if state.stage == Stage.UNDER_REVIEW:
        version = state.report.version
        for agency in state.report.reviews_with("pending"):
            fields = {"report_version": version, "agency": agency}
            out[f"deadline/{version}/{agency}"] = (
                "review_deadline_reached",
                fields,
                durations.review_deadline.total_seconds(),
            )
            out[f"reminder/{version}/{agency}"] = (
                "review_reminder_due",
                fields,
                durations.review_reminder_every.total_seconds(),
            )
    if state.stage in DORMANT_FROM:
        out["dormancy"] = ("dormancy_due", {}, durations.dormancy_after.total_seconds())
    return out


def reconcile(
    clocks: dict[str, Clock], state: ProcessState, events: Iterable[Event], now: float
) -> dict[str, Clock]:
    """The clocks after `events` were folded into `state` at `now`."""
    if state.stage == Stage.SUSPENDED:
        return {k: _stopped(c, now) for k, c in clocks.items()}
    activity = any(_is_activity(e) for e in events)
    # A clock counts from the latest possible day of the date that armed it (a fact dated
    # "2021" may have happened on 2021-12-31: its deadline cannot run out before then).
    # Never later than the last day a fact may be dated (today and the one day of tolerance
    # decide allows): a range such as "2024/9999" is refused only on its earliest day, and a
    # clock counting from its latest would never fire (and overflow the date type).
    last = state.last_occurred_on
    today = datetime.fromtimestamp(now, UTC).date()
    armed_on = min(last.latest, today + FUTURE_TOLERANCE) if last is not None else today
    out: dict[str, Clock] = {}
    for key, (command, fields, period) in wanted(state).items():
        clock = clocks.get(key)
        if clock is None or (key == "dormancy" and activity):
            out[key] = Clock(
                key=key,
                command=command,
                fields=fields,
                period=period,
                armed_on=armed_on,
                due_at=now + period,
            )
        elif not clock.running:
            # The days it stood still move its dates on: it fires as many running days
            # after it was armed as its period, dated accordingly.
            stood = int((now - (clock.stopped_at or now)) // DAY)
            out[key] = clock.model_copy(
                update={
                    "due_at": now + (clock.remaining or 0.0),
                    "remaining": None,
                    "stopped_at": None,
                    "armed_on": clock.armed_on + timedelta(days=stood),
                }
            )
        else:
            out[key] = clock
    return out


def _is_activity(event: Event) -> bool:
    """Whether an event re-arms the dormancy clock. Suspension and resumption stop and
    start it; a correction puts an old record right and is no progress."""
    match event:
        case ProcessSuspended() | ProcessResumed() | RecordCorrected():
            return False
        case _:
            return True


def _stopped(clock: Clock, now: float) -> Clock:
    if clock.due_at is None:
        return clock
    return clock.model_copy(
        update={"remaining": max(0.0, clock.due_at - now), "due_at": None, "stopped_at": now}
    )


def due(clocks: dict[str, Clock], now: float) -> list[Clock]:
    """Running clocks due at `now`, earliest first; deadlines before reminders due with them."""
    ready = [c for c in clocks.values() if c.due_at is not None and c.due_at <= now]
    return sorted(ready, key=lambda c: (c.due_at, c.command != "review_deadline_reached", c.key))


def next_due(clocks: dict[str, Clock]) -> Clock | None:
    running = [c for c in clocks.values() if c.due_at is not None]
    return min(running, key=lambda c: (c.due_at, c.key)) if running else None


def after_firing(clock: Clock) -> Clock:
    """A clock once it has fired: the next period of a repeating one (reminders)."""
    assert clock.due_at is not None
    return clock.model_copy(
        update={"periods_done": clock.periods_done + 1, "due_at": clock.due_at + clock.period}
    )


def fired(clock: Clock, state: ProcessState, today: date) -> Command:
    """The system command a due clock issues, dated by `Clock.fire_date`.

    Raises DomainError when its fields no longer make a valid command.
    """
    body = {
        "actor": SYSTEM_ACTOR,
        "occurred_on": clock.fire_date(state.last_occurred_on, today).isoformat(),
        **clock.fields,
    }
    return parse_command(clock.command, body, include_system=True)


def label(clock: Clock) -> str:
    """The timer's summary in the Temporal UI."""
    parts = [clock.command.removesuffix("_reached").removesuffix("_due").replace("_", " ")]
    parts += [f"{k} {v}" for k, v in clock.fields.items()]
    return ", ".join(parts)
