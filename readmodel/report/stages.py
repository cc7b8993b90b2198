"""How long a process spent in each stage, folded event by event from its events.

Durations between business dates are as precise as the dates are: exact between two days,
otherwise the shortest and the longest the dates allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from domain import Event, Stage, evolve, initial_state
from domain.dates import BusinessDate, spoken

from .model import StagePeriod, Table


def stage_label(stage: Stage | str) -> str:
    return str(stage).replace("_", " ").capitalize()


def span(start: date, end: date) -> str:
    """A duration as people say it: `3 days`, `1 year 4 months (488 days)`."""
    days = (end - start).days
    if days == 0:
        return "same day"
    if days < 31:
        return _plural(days, "day")
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    years, months = divmod(months, 12)
    words = [_plural(years, "year")] if years else []
    if months:
        words.append(_plural(months, "month"))
    return f"{' '.join(words) or _plural(days, 'day')} ({days} days)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def span_between(start: BusinessDate, end: BusinessDate | date) -> str:
    """How long from one business date to another: exact between two days, otherwise the
    shortest and the longest the dates allow ("between 3 days and 1 year 2 months ...")."""
    until = end if isinstance(end, BusinessDate) else BusinessDate.of(end)
    if start.is_day and until.is_day:
        return span(start.earliest, until.earliest)
    least = span(start.latest, max(until.earliest, start.latest))
    most = span(start.earliest, until.latest)
    return most if least == most else f"between {least} and {most}"


def stage_periods(events: Iterable[Event]) -> list[StagePeriod]:
    """Fold event by event: each change of stage closes one period and opens the next."""
    state = initial_state()
    periods: list[StagePeriod] = []
    for event in events:
        before = state.stage
        state = evolve(state, event)
        if state.stage is None or state.stage == before:
            continue
        if periods:
            last = periods[-1]
            periods[-1] = StagePeriod(last.stage, last.start, event.occurred_on)
        periods.append(StagePeriod(state.stage, event.occurred_on, None))
    return periods


def stage_table(periods: list[StagePeriod], last: date) -> Table:
    rows = []
    for period in periods:
        if period.end is None:
            until = "now" if period.stage not in (Stage.CLOSED, Stage.WITHDRAWN) else "end"
            duration = f"{span_between(period.start, last)} so far" if until == "now" else "-"
            rows.append((stage_label(period.stage), spoken(period.start), until, duration))
        else:
            rows.append(
                (
                    stage_label(period.stage),
                    spoken(period.start),
                    spoken(period.end),
                    span_between(period.start, period.end),
                )
            )
    return Table(("Stage", "From", "To", "Time spent"), tuple(rows))
