"""The report as a document: sections of plain-text blocks, and nothing else.

The model holds plain text only; each renderer (`markdown.py`, `html.py`) escapes every
string it writes, so event text (free-form summaries, conclusions, names) can never become
markup, links or script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain import Stage
from domain.dates import BusinessDate


@dataclass(frozen=True)
class Facts:
    """Label: value lines."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Entry:
    """One dated line of a timeline, with who did it and what the record says besides."""

    on: BusinessDate  # as written: rendered no more precise than its source (`spoken`)
    text: str
    by: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timeline:
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class StagePeriod:
    stage: Stage
    start: BusinessDate
    end: BusinessDate | None  # None: the stage the process is in now


@dataclass(frozen=True)
class StageChart:
    """The stages on a time axis (an SVG in HTML; Markdown has the table beside it)."""

    periods: tuple[StagePeriod, ...]
    until: date  # the open stage runs to here (the report's date)


Block = Facts | Table | Timeline | Paragraph | StageChart


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    provenance: tuple[str, ...] = field(default=())
    as_of: date | None = None  # the report's date: the open stage is measured to it
