"""Bad input the domain refuses on its own: every category, at its full budget, sent to
`parse_command` + `decide` exactly as the workflow's validator sends an update's bytes.

Hypothesis draws, per category (and per form, for categories with several), commands that
are malformed (non-object or broken JSON, missing fields, unknown or timer command names),
wrong-typed or of impossible values, oversized, with unknown fields, a NUL character,
unclean text, a repeated JSON key, larger than the size rule, dated in the future, from the
wrong actor, in the wrong stage, out of date order, or failing a business guard. They go to
the story's processes (`tests/domain/story.py`) at each stage it passes through.

Each must be refused with its code, and a message (at most MESSAGE_LIMIT characters) and
`field` that name the field or the rule without echoing the value; `decide` returns
nothing, and the state it was given is unchanged. The same categories go through a real
Temporal update, a few examples each, in tests/badinput/, with those only the workflow
decides (the update's envelope, a finished process).
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings

from domain import ProcessState, fold
from tests.domain import story
from tests.domain.bad_input import (
    CATEGORIES,
    PUBLIC,
    BadInput,
    Case,
    check,
    forms_of,
    refusal,
    today,
)
from tests.hypothesis_budget import examples

# Examples per category, split between its forms: about 1,100 cases in all (a tenth in
# `make test-unit`). The budgets the Temporal test had, now at a few milliseconds a case.
BUDGET = {
    "malformed": 140,
    "wrong_typed": 140,
    "wrong_value": 80,
    "oversized": 130,
    "unknown_field": 110,
    "nul": 50,
    "unclean_text": 90,
    "duplicate_key": 40,
    "too_large": 20,
    "future": 30,
    "not_allowed": 130,
    "wrong_stage": 120,
    "out_of_order": 100,
    "guard_failed": 70,
}
assert set(BUDGET) == set(CATEGORIES)


@cache
def _story_stages() -> dict[str, tuple[story.Recorded, ...]]:
    """The story's events up to each live stage it reaches, the first time it reaches it
    (before the story's first command of each kind)."""
    found: dict[str, tuple[story.Recorded, ...]] = {}
    for name in PUBLIC:
        try:
            recorded = story.before(name)
        except KeyError:
            continue  # the story never sends it
        state = _folded(recorded)
        if state.stage is None or state.is_terminal:
            continue
        if state.stage not in found or len(recorded) < len(found[state.stage]):
            found[state.stage] = recorded
    return {str(stage): recorded for stage, recorded in found.items()}


def _folded(recorded: tuple[story.Recorded, ...]) -> ProcessState:
    return fold((event for event, _ in recorded), by=[by for _, by in recorded])


def story_processes() -> dict[str, ProcessState]:
    """A fresh fold of the story at each of its live stages, by stage name."""
    return {name: _folded(recorded) for name, recorded in _story_stages().items()}


def test_the_story_holds_the_stages_the_categories_need() -> None:
    """The guards need these stages; wrong_stage draws from whatever else there is."""
    needed = {"contact", "negotiating", "instrument_signed", "mission_planning", "under_review"}
    assert needed <= set(story_processes()), sorted(story_processes())


def _budget(category: str) -> int:
    return examples(max(5, BUDGET[category] // len(forms_of(category))))


@pytest.mark.parametrize(
    ("category", "form"),
    [(c, f) for c in CATEGORIES for f in forms_of(c)],
    ids=[f"{c}-{f}" if f else c for c in CATEGORIES for f in forms_of(c)],
)
def test_bad_input_is_refused_by_the_domain(category: str, form: str | None) -> None:
    processes = story_processes()
    # A second fold of the same events: what every process must still equal afterwards.
    untouched = story_processes()
    strategy = BadInput(processes).strategy(category, form)
    on_day = today()

    @settings(
        max_examples=_budget(category),
        deadline=None,
        # Oversized and too-large payloads are large on purpose; some categories filter.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=strategy)
    def refused(case: Case) -> None:
        state = processes[case.target]
        err = refusal(state, case, on_day)
        check(case, err.code, err.message, err.field)
        assert state == untouched[case.target], "decide changed the state it was given"

    refused()
