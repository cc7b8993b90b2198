"""The report as one self-contained HTML page, rendered by Jinja2 with autoescape on.

Escaping happens in one place: the environment escapes every value a template prints, and
its `finalize` first writes control and bidi characters as their escapes (`visible`:
`--format html` may be printed on a terminal). No template marks event text `|safe`.

The stage chart is an inline SVG drawn by a macro from `_chart_layout`'s numbers and plain
strings, so its labels are escaped like any other text; the macro's output is Markup only
because Jinja built it from escaped parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from domain import Stage
from domain.dates import BusinessDate, spoken
from domain.text import visible

from .model import Facts, Paragraph, Report, StageChart, Table, Timeline
from .stages import stage_label

# The stage chart: one row per stage in the order they were entered, on one time axis.
_CHART_WIDTH, _LABEL_WIDTH, _ROW, _BAR = 760, 190, 22, 14
_SIDE_STAGES = {Stage.DORMANT, Stage.SUSPENDED, Stage.WITHDRAWN}


@dataclass(frozen=True)
class _Bar:
    x: float
    width: float
    colour: str
    title: str


@dataclass(frozen=True)
class _ChartRow:
    label: str
    y: int
    bars: tuple[_Bar, ...]


@dataclass(frozen=True)
class _ChartLayout:
    """Where the stage chart's parts go; the template only writes them out."""

    width: int
    height: int
    label_width: int
    bar: int  # a bar's height
    rows: tuple[_ChartRow, ...]
    axis: int  # the y of the axis labels
    first: str  # the first stage's start, as written
    until: str


def _chart_layout(chart: StageChart) -> _ChartLayout:
    # Placed on the time axis by each date's earliest possible day; labelled as written.
    first = chart.periods[0].start
    start = first.earliest
    total = max((chart.until - start).days, 1)
    plot = _CHART_WIDTH - _LABEL_WIDTH - 10
    stages: list[Stage] = []
    for period in chart.periods:
        if period.stage not in stages:
            stages.append(period.stage)
    rows = []
    for row, stage in enumerate(stages):
        bars = []
        for period in (p for p in chart.periods if p.stage == stage):
            end = period.end.earliest if period.end else chart.until
            begin = period.start.earliest
            until = spoken(period.end) if period.end else chart.until.isoformat()
            bars.append(
                _Bar(
                    x=_LABEL_WIDTH + plot * (begin - start).days / total,
                    width=max(plot * (end - begin).days / total, 2),
                    colour="#b0772c" if stage in _SIDE_STAGES else "#1f4e79",
                    title=f"{stage_label(stage)}: {spoken(period.start)} to {until}",
                )
            )
        rows.append(_ChartRow(stage_label(stage), row * _ROW + 4, tuple(bars)))
    return _ChartLayout(
        width=_CHART_WIDTH,
        height=_ROW * len(stages) + 26,
        label_width=_LABEL_WIDTH,
        bar=_BAR,
        rows=tuple(rows),
        axis=len(stages) * _ROW + 16,
        first=spoken(first),
        until=chart.until.isoformat(),
    )


def _machine(on: BusinessDate) -> str | None:
    """The `datetime` of a `<time>` where HTML has a form for the date (a day, a month, a
    year); None for a range or a qualified date, which show as text only."""
    return on.start.text if on.end is None and not on.start.qualifier else None


def _shown(value: Any) -> Any:
    # Markup is what a macro returned, built from values that came through here already.
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value, keep_newlines=True)
    return value


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("readmodel.report", "templates"),
        autoescape=True,  # every template here writes HTML or SVG
        undefined=StrictUndefined,
        finalize=_shown,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(spoken=spoken, machine=_machine, iso=date.isoformat)
    env.globals.update(chart_layout=_chart_layout)
    env.tests.update(
        facts=lambda b: isinstance(b, Facts),
        table=lambda b: isinstance(b, Table),
        timeline=lambda b: isinstance(b, Timeline),
        paragraph=lambda b: isinstance(b, Paragraph),
        stage_chart=lambda b: isinstance(b, StageChart),
    )
    return env


def to_html(report: Report) -> str:
    return _environment().get_template("report.html.j2").render(report=report)


def stage_chart_svg(chart: StageChart) -> str:
    """The chart alone: an inline SVG (no script, no external resource)."""
    macros = _environment().get_template("stage_chart.svg.j2").module
    # A template's macros are attributes of its module, which Jinja's stubs cannot name.
    return str(macros.stage_chart(_chart_layout(chart)))  # type: ignore[attr-defined]
