"""`accord scenario run FILE`: play a scenario file against a real process.

A scenario names the process to open (and, optionally, that the opening must be refused)
and a list of steps: DOMAIN.md commands with their business date and actor (optionally
expected to be rejected with a given code, field and message; optionally sent exactly as
written with `raw: true`), expectations on the `status` view and on the events recorded,
and waits for timers. Each run opens its own process (the process id gets a run suffix),
so the same file can be played any number of times. README "Scenario files" is the
reference.

One module per job: `expectations` and `steps` (the typed steps, a discriminated union of
kinds), `model` (the file), `load` (YAML into the model, mistakes into one line),
`matching` (pure checks), `run` (playing against Temporal), `results` (what a run shows).
"""

from cli.scenario.expectations import EventCheck, Rejection
from cli.scenario.load import ScenarioError, explain, load, read_yaml
from cli.scenario.matching import (
    data_matches,
    event_check_problem,
    rejection_problem,
    status_mismatches,
)
from cli.scenario.model import Opening, Scenario
from cli.scenario.results import ScenarioRun, StepResult, failure_line, render_story
from cli.scenario.run import OPENING_WITHIN, _recorded_opening, run_scenario
from cli.scenario.steps import (
    WAIT_FOR_TIMEOUT,
    AnyStep,
    CommandStep,
    ExpectStep,
    Step,
    WaitForStep,
    WaitStep,
)

__all__ = [
    "OPENING_WITHIN",
    "WAIT_FOR_TIMEOUT",
    "AnyStep",
    "CommandStep",
    "EventCheck",
    "ExpectStep",
    "Opening",
    "Rejection",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "Step",
    "StepResult",
    "WaitForStep",
    "WaitStep",
    "_recorded_opening",
    "data_matches",
    "event_check_problem",
    "explain",
    "failure_line",
    "load",
    "read_yaml",
    "rejection_problem",
    "render_story",
    "run_scenario",
    "status_mismatches",
]
