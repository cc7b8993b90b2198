"""Matching a run against what the file expects: the status view (`expect`, `wait_for`),
the events recorded (`expect_events`), a command's outcome (`expect_rejected`). Pure, so
it is unit-tested without Temporal (tests/workflows/test_scenario_language.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cli.operations import CommandOutcome
from cli.scenario.expectations import EventCheck, Rejection


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _awaiting_label(item: Any) -> str:
    """`partner: start_mission`, from a view entry {party, command, ...} or as written."""
    if isinstance(item, Mapping):
        return f"{item.get('party')}: {item.get('command')}"
    party, sep, command = str(item).partition(":")
    return f"{party.strip()}: {command.strip()}" if sep else str(item).strip()


def status_mismatches(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Keys of `expected` whose value differs from the status view. Lists compare as
    multisets (order-insensitive); dicts as subsets; `awaiting` as `party: command`
    labels."""
    problems = []
    for key, want in _jsonable(dict(expected)).items():
        if key not in actual:
            problems.append(f"{key}: not in the status view")
            continue
        got = actual[key]
        if key == "awaiting" and isinstance(want, list) and isinstance(got, list | tuple):
            want = sorted(_awaiting_label(w) for w in want)
            got = sorted(_awaiting_label(g) for g in got)
            same = want == got
        elif isinstance(want, list) and isinstance(got, list | tuple):
            same = sorted(map(str, want)) == sorted(map(str, got))
        elif isinstance(want, dict) and isinstance(got, Mapping):
            same = not status_mismatches(want, got)
        else:
            same = want == got
        if not same:
            problems.append(f"{key}: expected {want!r}, got {got!r}")
    return problems


def data_matches(want: Any, got: Any) -> bool:
    """`want` within `got`: dicts as subsets (recursively), lists item by item in order and
    of the same length, anything else equal (after JSON: dates as text)."""
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(
            k in got and data_matches(v, got[k]) for k, v in want.items()
        )
    if isinstance(want, list | tuple):
        return (
            isinstance(got, list | tuple)
            and len(want) == len(got)
            and all(data_matches(w, g) for w, g in zip(want, got, strict=True))
        )
    return bool(want == got)


def _event_matches(check: EventCheck, event: Mapping[str, Any]) -> bool:
    if event.get("type") != check.type:
        return False
    if not data_matches(_jsonable(check.data), event.get("data") or {}):
        return False
    if check.on is not None and event.get("occurred_on") != str(check.on):
        return False
    return check.actor is None or data_matches(_jsonable(check.actor), event.get("actor") or {})


def event_check_problem(
    check: EventCheck, step_events: Sequence[Mapping[str, Any]], all_events: Sequence[Any]
) -> str | None:
    """Why `check` fails on the events (each {type, data, occurred_on, actor}), or None."""
    events = all_events if check.scope == "all" else step_events
    found = sum(1 for e in events if _event_matches(check, e))
    low, high = check.bounds
    if found >= low and (high is None or found <= high):
        return None
    what = check.type
    if check.data or check.on or check.actor:
        shown = {**check.data}
        if check.on is not None:
            shown["on"] = str(check.on)
        if check.actor is not None:
            shown["actor"] = check.actor
        what += " " + json.dumps(_jsonable(shown), ensure_ascii=False)
    where = "so far" if check.scope == "all" else "during the step"
    same_type = sum(1 for e in events if e.get("type") == check.type)
    other = f" ({same_type - found} {check.type} with other data)" if same_type > found else ""
    return f"expect_events: {what}: expected {check.describe()} {where}, found {found}{other}"


def rejection_problem(expected: Rejection | None, outcome: CommandOutcome) -> str | None:
    """Why the outcome does not answer the expectation (accepted, or refused with `expected`)."""
    if expected is None:
        if outcome.accepted:
            return None
        return f"rejected {outcome.code}: {outcome.message}"
    if outcome.accepted:
        return f"expected rejection {expected.describe()}, but it was accepted"
    wrong = []
    if outcome.code != expected.code:
        wrong.append(f"code {outcome.code}")
    if expected.field is not None and outcome.field != expected.field:
        wrong.append(f"field {outcome.field}")
    if expected.message_contains is not None and expected.message_contains not in (
        outcome.message or ""
    ):
        wrong.append("a message without it")
    if not wrong:
        return None
    return f"expected rejection {expected.describe()}, got {', '.join(wrong)}: {outcome.message}"
