"""Where a fact comes from: the source a command may cite (DOMAIN.md, "Dates and sources").

A source is provenance, not a fact of the process: `decide` never reads it. It travels with
the events the command records as their metadata (the event store's `source` column, part
of each event's digest), and the timeline and report list it with the facts it supports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.dates import BusinessDate
from domain.text import Line, Name


class Source(BaseModel):
    """A publication or document: `{title, publisher?, date, locator?}`.

    `date` is the source's own date, with its precision (an article of 2025-03-10);
    `locator` says where in it the fact is (a paragraph, a page, an address)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    title: Line
    publisher: Name | None = None
    date: BusinessDate
    locator: Line | None = None


def cited(source: Mapping[str, Any] | Source | None) -> str:
    """A source as one line: "Title. Publisher, date, locator" ("not cited" without one)."""
    if source is None:
        return "not cited"
    data = source.model_dump(mode="json") if isinstance(source, Source) else source
    where = ", ".join(str(data[k]) for k in ("publisher", "date", "locator") if data.get(k))
    return f"{data.get('title', '?')}. {where}" if where else str(data.get("title", "?"))
