"""A scenario file: the process to open, what its opening must do, the sources its steps
cite, and the steps (`steps.AnyStep`). README "Scenario files" is the reference.

The `process` block and the sources stay mappings: they are the `open_process` command's
payload and the commands' `source`, which the domain validates (a scenario may send a
malformed one on purpose, to see it refused); the player only fills in citations by key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from cli.scenario.expectations import STRICT, Rejection
from cli.scenario.steps import AnyStep, CommandStep
from domain.text import echo


class Opening(BaseModel):
    """`open:`: what the opening must do. Absent, it must be accepted."""

    model_config = STRICT

    expect_rejected: Rejection | None = None
    note: str | None = None


class Scenario(BaseModel):
    model_config = STRICT

    name: str | None = None
    description: str | None = None
    # Sources the steps cite by key: {key: {title, publisher?, date, locator?}}.
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    process: dict[str, Any]
    opening: Opening = Field(default_factory=Opening, alias="open")
    steps: list[AnyStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cited_sources(self) -> Scenario:
        """Each `source:` by key becomes the source itself (with the step's locator)."""
        if "source" in self.process:
            self.process = {**self.process, "source": self._source(self.process["source"])}
        for step in self.steps:
            if isinstance(step, CommandStep) and step.source is not None:
                step.source = self._source(step.source)
        return self

    def _source(self, cited: Any) -> dict[str, Any]:
        if isinstance(cited, str):
            cited = {"cite": cited}
        if not isinstance(cited, dict):
            raise ValueError("source: a key of sources, {cite: key, locator}, or a source")
        if "cite" not in cited:
            return cited
        key = cited["cite"]
        known = self.sources.get(key) if isinstance(key, str) else None
        if known is None:
            raise ValueError(f"source: {echo(str(key))} is not a key of sources")
        return {**known, **{k: v for k, v in cited.items() if k != "cite"}}

    @model_validator(mode="after")
    def _nothing_after_a_refused_opening(self) -> Scenario:
        if self.opening.expect_rejected is not None and self.steps:
            raise ValueError("steps: a scenario whose opening is refused has no steps")
        return self
