"""A run's results: one per step (and the opening), the run as a whole, and how a person
reads them (`failure_line` for stderr, `render_story` for stdout)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cli.scenario.load import one_line


@dataclass
class StepResult:
    index: int
    kind: str
    ok: bool
    command: str | None = None
    on: str | None = None
    outcome: str | None = None  # accepted / rejected / matched / mismatched / waited
    code: str | None = None
    field: str | None = None
    message: str | None = None
    stage: str | None = None
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}

    def fail(self, problems: list[str]) -> None:
        if problems:
            self.ok = False
            self.message = one_line("; ".join(problems))


@dataclass
class ScenarioRun:
    file: str
    process_id: str
    workflow_id: str
    run_suffix: str
    final_stage: str | None  # None: the process was never opened
    ok: bool
    steps: list[StepResult]
    events: list[dict[str, Any]]
    verify: dict[str, Any]
    ui_url: str | None
    opening: StepResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "process_id": self.process_id,
            "workflow_id": self.workflow_id,
            "run_suffix": self.run_suffix,
            "final_stage": self.final_stage,
            "ok": self.ok,
            "opening": self.opening.to_json() if self.opening else None,
            "steps": [s.to_json() for s in self.steps],
            "events": self.events,
            "verify": self.verify,
            "ui_url": self.ui_url,
        }


def failure_line(run: ScenarioRun) -> str | None:
    """One line saying why the run failed (the first failed step), or None."""
    failed = [s for s in ([run.opening] if run.opening else []) + run.steps if not s.ok]
    if failed:
        first = failed[0]
        what = "open" if first.kind == "open" else f"step {first.index}"
        more = f" (and {len(failed) - 1} more failed)" if len(failed) > 1 else ""
        return f"{run.file}: {what} ({first.command or first.kind}): {first.message}{more}"
    if not run.verify.get("ok"):
        return f"{run.file}: hash chain broken: {run.verify.get('breaks')}"
    return None


def render_story(run: ScenarioRun) -> str:
    """The timeline as a person reads it, then where to look further."""
    if run.final_stage is None and run.opening is not None:
        o = run.opening
        verdict = "as expected" if o.ok else f"FAILED: {o.message}"
        return (
            f"Process {run.process_id} was not opened: open_process refused {o.code} "
            f"({verdict}); no workflow started, nothing recorded"
            if o.ok
            else f"Process {run.process_id} was not opened: {verdict}"
        )
    lines = [f"Process {run.process_id} (workflow {run.workflow_id})", ""]
    for e in run.events:
        lines.append(f"  {e['occurred_on']}  {e['summary']}")
    lines.append("")
    lines.append(f"Final stage: {run.final_stage}")
    verify = run.verify
    lines.append(
        "Hash chain: verified"
        if verify.get("ok")
        else f"Hash chain: BROKEN at {verify.get('breaks')}"
    )
    failed = [s for s in run.steps if not s.ok]
    if run.opening is not None and not run.opening.ok:
        failed.insert(0, run.opening)
    lines.append(
        f"Steps: {len(run.steps)} played, {len(failed)} failed"
        + "".join(f"\n  step {s.index} ({s.command or s.kind}): {s.message}" for s in failed)
    )
    if run.ui_url:
        lines.append(f"Temporal UI: {run.ui_url}/namespaces/default/workflows/{run.workflow_id}")
    return "\n".join(lines)
