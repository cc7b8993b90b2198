"""The scenario language: the player's matching and the file model, without Temporal; then
the player against the real services for what only a run can show (a refused opening that
was not refused, an expectation that fails).

README "Scenario files" is the reference these tests hold the player to.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from cli.operations import CommandOutcome
from cli.scenario import (
    CommandStep,
    EventCheck,
    ExpectStep,
    Rejection,
    ScenarioError,
    Step,
    WaitForStep,
    WaitStep,
    _recorded_opening,
    data_matches,
    event_check_problem,
    failure_line,
    load,
    read_yaml,
    rejection_problem,
    run_scenario,
    status_mismatches,
)
from cli.session import Session

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def event(type_: str, version: int = 1, on: str = "2020-01-01", **data: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "version": version,
        "occurred_on": on,
        "actor": {"party": "system", "role": "timer"},
        "data": data,
    }


def check(**fields: Any) -> EventCheck:
    return EventCheck.model_validate(fields)


# --- data matched as a subset ------------------------------------------------------------


def test_data_dicts_match_as_subsets_recursively() -> None:
    got = {"agency": "mfa", "nested": {"a": 1, "b": {"c": 2, "d": 3}}, "extra": True}
    assert data_matches({"agency": "mfa"}, got)
    assert data_matches({"nested": {"b": {"c": 2}}}, got)
    assert data_matches({}, got)
    assert not data_matches({"nested": {"b": {"c": 3}}}, got)
    assert not data_matches({"absent": None}, got), "a key the event lacks is no match"
    assert not data_matches({"agency": {"key": "mfa"}}, got)


def test_data_lists_match_equal_in_order_and_length() -> None:
    got = {"targets": ["presidential_administration", "mfa"]}
    assert data_matches({"targets": ["presidential_administration", "mfa"]}, got)
    assert not data_matches({"targets": ["mfa", "presidential_administration"]}, got)
    assert not data_matches({"targets": ["presidential_administration"]}, got)
    assert not data_matches({"targets": []}, got)
    assert data_matches({"targets": []}, {"targets": []})
    # dicts inside lists: item by item, each a subset
    signed = {"signatories": [{"party": "partner", "role": "director_general", "name": "K"}]}
    assert data_matches({"signatories": [{"party": "partner"}]}, signed)


# --- counts -------------------------------------------------------------------------------


REMINDERS = [
    event("ReviewReminderSent", 5, agency="state_security_service", report_version=1),
    event("ReviewReminderSent", 6, agency="state_security_service", report_version=1),
    event("ReviewReminderSent", 7, agency="mfa", report_version=1),
]


def test_no_count_means_at_least_one() -> None:
    wanted = check(type="ReviewReminderSent", data={"agency": "mfa"})
    assert event_check_problem(wanted, REMINDERS, REMINDERS) is None
    assert event_check_problem(wanted, REMINDERS[:2], REMINDERS[:2]) == (
        'expect_events: ReviewReminderSent {"agency": "mfa"}: expected at least 1 during '
        "the step, found 0 (2 ReviewReminderSent with other data)"
    )


def test_count_is_exact() -> None:
    two = check(type="ReviewReminderSent", data={"agency": "state_security_service"}, count=2)
    assert event_check_problem(two, REMINDERS, REMINDERS) is None
    three = check(type="ReviewReminderSent", count=2)
    problem = event_check_problem(three, REMINDERS, REMINDERS)
    assert problem is not None and "expected exactly 2" in problem and "found 3" in problem
    none = check(type="Escalated", count=0)
    assert event_check_problem(none, REMINDERS, REMINDERS) is None
    assert event_check_problem(none, [event("Escalated")], []) is not None


@pytest.mark.parametrize(
    ("bounds", "holds_for"),
    [
        ({"min": 2}, {2, 3}),
        ({"max": 1}, {0, 1}),
        ({"min": 1, "max": 2}, {1, 2}),
        ({"min": 0}, {0, 1, 2, 3}),
    ],
)
def test_min_and_max_bound_the_count(bounds: dict[str, int], holds_for: set[int]) -> None:
    wanted = check(type="ReviewReminderSent", **bounds)
    for n in range(4):
        problem = event_check_problem(wanted, REMINDERS[:n], [])
        assert (problem is None) == (n in holds_for), (bounds, n, problem)


def test_scope_step_by_default_all_on_request() -> None:
    everything = [event("ProcessOpened"), *REMINDERS]
    during = REMINDERS[2:]
    step = check(type="ReviewReminderSent", count=1)
    assert event_check_problem(step, during, everything) is None
    every = check(type="ReviewReminderSent", count=3, scope="all")
    assert event_check_problem(every, during, everything) is None
    problem = event_check_problem(check(type="ProcessOpened"), during, everything)
    assert problem is not None and "during the step" in problem
    assert event_check_problem(check(type="ProcessOpened", scope="all"), during, everything) is None


def test_business_date_and_actor_narrow_the_match() -> None:
    events = [event("ConsentOverdue", on="2019-09-02", agency="state_security_service")]
    assert event_check_problem(check(type="ConsentOverdue", on="2019-09-02"), events, []) is None
    assert event_check_problem(check(type="ConsentOverdue", on="2019-07-20"), events, [])
    system = check(type="ConsentOverdue", actor={"party": "system"})
    assert event_check_problem(system, events, []) is None
    assert event_check_problem(check(type="ConsentOverdue", actor={"party": "mfa"}), events, [])


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"type": "Escalate"}, "type: not an event type"),
        ({"type": "Escalated", "data": {"target": ["x"]}}, "data: target is not a field"),
        ({"type": "Escalated", "count": 1, "min": 1}, "count: give either count or min/max"),
        ({"type": "Escalated", "min": 3, "max": 2}, "min: must not be greater than max"),
        ({"type": "Escalated", "scope": "run"}, "scope"),
    ],
)
def test_event_check_refuses_what_would_match_nothing(fields: dict[str, Any], names: str) -> None:
    with pytest.raises(ValueError, match=names):
        EventCheck.model_validate(fields)


# --- expected rejections --------------------------------------------------------------------


REFUSED = CommandOutcome(
    False,
    "invalid_input",
    "log_contact: field 'occurred_on': Input should be a date",
    "occurred_on",
)


def test_rejection_short_and_long_forms() -> None:
    step = Step.model_validate(
        {"command": "x", "on": "2020-01-01", "actor": {}, "expect_rejected": "invalid_input"}
    )
    assert step.expect_rejected == Rejection(code="invalid_input")
    assert rejection_problem(step.expect_rejected, REFUSED) is None
    full = Rejection(code="invalid_input", field="occurred_on", message_contains="a date")
    assert rejection_problem(full, REFUSED) is None


@pytest.mark.parametrize(
    ("expected", "complaint"),
    [
        (Rejection(code="not_allowed"), "got code invalid_input"),
        (Rejection(code="invalid_input", field="actor"), "got field occurred_on"),
        (Rejection(code="invalid_input", message_contains="actor"), "a message without it"),
    ],
)
def test_rejection_checks_code_field_and_message(expected: Rejection, complaint: str) -> None:
    problem = rejection_problem(expected, REFUSED)
    assert problem is not None and complaint in problem and "\n" not in problem


def test_acceptance_and_rejection_each_fail_the_other_expectation() -> None:
    accepted = CommandOutcome(True, stage="options_review")
    assert rejection_problem(None, accepted) is None
    assert rejection_problem(Rejection(code="not_allowed"), accepted) == (
        "expected rejection not_allowed, but it was accepted"
    )
    assert rejection_problem(None, REFUSED) == f"rejected invalid_input: {REFUSED.message}"


# --- the status view, `awaiting` included ----------------------------------------------------


FAKE_VIEW = {
    "stage": "mission_planning",
    "pending_consents": ["mfa", "state_security_service"],
    "mission": {"tor_version": 1, "consents": {"mfa": "pending", "state_security_service": "x"}},
    "awaiting": [
        {"party": "mfa", "command": "grant_consent", "since": "2019-07-01", "due_by": "2019-08-30"},
        {"party": "state_security_service", "command": "grant_consent", "since": "2019-07-01"},
    ],
}


def test_awaiting_compares_party_command_labels_in_any_order() -> None:
    both = ["state_security_service: grant_consent", "mfa: grant_consent"]
    assert status_mismatches({"awaiting": both}, FAKE_VIEW) == []
    assert status_mismatches({"awaiting": ["mfa:grant_consent", *both[:1]]}, FAKE_VIEW) == []
    problems = status_mismatches({"awaiting": ["mfa: grant_consent"]}, FAKE_VIEW)
    assert len(problems) == 1 and problems[0].startswith("awaiting: expected")
    assert status_mismatches({"awaiting": [*both, "partner: start_mission"]}, FAKE_VIEW)
    assert status_mismatches({"awaiting": []}, {**FAKE_VIEW, "awaiting": []}) == []
    assert status_mismatches({"awaiting": []}, FAKE_VIEW)


def test_status_lists_are_multisets_and_dicts_subsets() -> None:
    assert (
        status_mismatches({"pending_consents": ["state_security_service", "mfa"]}, FAKE_VIEW) == []
    )
    assert status_mismatches({"pending_consents": ["mfa"]}, FAKE_VIEW)
    assert status_mismatches({"mission": {"consents": {"mfa": "pending"}}}, FAKE_VIEW) == []
    assert status_mismatches({"mission": {"consents": {"mfa": "granted"}}}, FAKE_VIEW)
    assert status_mismatches({"colour": "red"}, FAKE_VIEW) == ["colour: not in the status view"]


# --- the file model ---------------------------------------------------------------------------


def test_raw_step_sends_actor_and_date_exactly_as_written() -> None:
    raw = Step.model_validate(
        {"command": "log_contact", "raw": True, "on": "2023-13-45", "with": {"venue": "V"}}
    )
    assert raw.payload() == {"venue": "V", "occurred_on": "2023-13-45"}, "no actor filled in"
    assert raw.on is None and raw.business_date is None
    nothing = Step.model_validate({"command": "log_contact", "raw": True})
    assert nothing.payload() == {}
    odd = Step.model_validate({"command": "x", "raw": True, "actor": "mfa", "on": 20190211})
    assert odd.payload() == {"actor": "mfa", "occurred_on": 20190211}
    plain = Step.model_validate(
        {"command": "log_contact", "on": "2019-02-11", "actor": {"party": "mfa", "role": "head"}}
    )
    assert plain.payload() == {
        "actor": {"party": "mfa", "role": "head"},
        "occurred_on": "2019-02-11",
    }


def test_each_step_is_read_as_its_kind() -> None:
    wait = Step.model_validate({"wait": "PT3S", "expect_events": [{"type": "Escalated"}]})
    assert isinstance(wait, WaitStep) and wait.wait.total_seconds() == 3
    poll = Step.model_validate({"wait_for": {"stage": "x"}, "timeout": "PT30S"})
    assert isinstance(poll, WaitForStep) and poll.wait_for == {"stage": "x"}
    checks = Step.model_validate({"expect": {"stage": "x"}, "note": "only checks"})
    assert isinstance(checks, ExpectStep) and checks.kind == "expect"
    sent = Step.model_validate({"command": "c", "on": "2019-02-11", "actor": {"party": "mfa"}})
    assert isinstance(sent, CommandStep) and sent.kind == "command"
    # A step that sends nothing answers a command step's questions with "nothing".
    nothing = (poll.command, poll.on, poll.actor, poll.raw, poll.with_, poll.as_written)
    assert nothing == (None, None, None, False, {}, {})
    assert poll.expect_rejected is None and poll.business_date is None
    with pytest.raises(TypeError, match="a wait_for step sends no command"):
        poll.payload()


def test_yaml_dates_stay_text_until_a_typed_key_reads_them() -> None:
    doc = read_yaml("on: 2023-13-45\nwhen: 2019-02-11\nflag: yes\n")
    assert doc == {"on": "2023-13-45", "when": "2019-02-11", "flag": "yes"}


PROCESS = "process: {process_id: p-1}\n"


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ("- command: log_contact\n  actor: {party: mfa, role: head}\n", "step 1: on: a command"),
        ("- expect: {stage: x}\n- command: c\n  on: 2019-01-01\n", "step 2: actor: a command"),
        ("- expect: {stage: x}\n  colour: red\n", "step 1: colour: unknown key"),
        ("- wait: PT1S\n  wait_for: {stage: x}\n", "step 1: wait_for: a step has only one"),
        ("- wait: PT1S\n  with: {a: 1}\n", "step 1: with: only a command step takes it"),
        ("- wait: PT1S\n  raw: true\n", "step 1: raw: only a command step takes it"),
        ("- expect: {stage: x}\n  timeout: PT1S\n", "step 1: timeout: only a wait_for step"),
        ("- note: nothing\n", "step 1: command: each step has one of"),
        (
            "- command: c\n  on: 2023-13-45\n  actor: {party: mfa, role: head}\n",
            "step 1: on: must be a date as its source gives it (EDTF)",
        ),
        (
            "- command: c\n  on: 21\n  actor: {party: mfa, role: head}\n",
            "step 1: on: must be a date as its source gives it (EDTF)",
        ),
        (
            "- expect_events: [{type: Escalated, on: 20190211}]\n",
            "step 1: expect_events[1].on: must be a date as its source gives it (EDTF)",
        ),
        (
            "- expect_events: [{type: Escalated}, {type: Escalated, count: -1}]\n",
            "step 1: expect_events[2].count: Input should be greater than or equal to 0",
        ),
        (
            "- command: c\n  on: 2019-01-01\n  actor: {party: mfa, role: head}\n"
            "  expect_rejected: {code: not_allowed, fields: actor}\n",
            "step 1: expect_rejected.fields: unknown key",
        ),
        (
            "- command: c\n  on: 2019-01-01\n  actor: {party: mfa, role: head}\n"
            "  with: {actor: {party: mfa}}\n",
            "step 1: with: actor is given as the step's actor",
        ),
    ],
)
def test_malformed_step_names_the_step_and_key(tmp_path: Path, steps: str, reason: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(PROCESS + "steps:\n" + steps)
    with pytest.raises(ScenarioError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {reason}"), message
    assert "\n" not in message
    assert "2023-13-45" not in message and "red" not in message, "the value is not echoed"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("process: {a: 1}\nsteps: [\n", "cannot read scenario: while parsing"),
        ("- a\n- b\n", "a scenario is a mapping with process and steps"),
        ("steps: []\n", "process: required"),
        (
            PROCESS + "open: {expect_rejected: not_allowed}\nsteps: [{expect: {stage: x}}]\n",
            "steps: a scenario whose opening is refused has no steps",
        ),
        (PROCESS + "open: {expect_refused: not_allowed}\n", "open.expect_refused: unknown key"),
    ],
)
def test_malformed_file_is_one_line(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: {reason}"), str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ("- wait: PT1S\n  as_written: {}\n", "step 1: as_written: not a scenario key"),
        ("- wait_for: {stage: x}\n  source: s\n", "step 1: source: only a command step"),
        ("- command: c\n  raw: true\n  timeout: PT1S\n", "step 1: timeout: only a wait_for"),
        ("- wait: PT1S\n  wait_for: {}\n  command: c\n", "step 1: wait: a step has only one"),
        ("- 5\n", "step 1: Input should be a valid dictionary or instance of Step"),
        ("- wait: null\n  expect: {stage: x}\n  timeout: PT1S\n", "step 1: timeout: only"),
        ("- expect: {stage: x}\n  expect_rejected: {fields: x}\n", "step 1: expect_rejected: only"),
    ],
)
def test_a_key_of_another_kind_names_the_kind_that_takes_it(
    tmp_path: Path, step: str, reason: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(PROCESS + "steps:\n" + step)
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: {reason}"), str(err.value)


def test_every_scenario_file_loads_and_the_new_keys_are_used() -> None:
    scenarios = {p.stem: load(p) for p in SCENARIOS.glob("*.yaml")}
    steps = [s for sc in scenarios.values() for s in sc.steps]
    assert any(sc.opening.expect_rejected for sc in scenarios.values())
    assert any(s.raw and "actor" not in s.as_written for s in steps)
    assert any(s.expect_events and any(c.scope == "all" for c in s.expect_events) for s in steps)
    assert any(s.expect_rejected and s.expect_rejected.field for s in steps)
    assert any(s.expect and "awaiting" in s.expect for s in steps)


class _EndedRun:
    """A run that failed before recording its opening (a refusal only the worker makes)."""

    async def describe(self) -> Any:
        return SimpleNamespace(status=WorkflowExecutionStatus.FAILED)

    async def result(self) -> Any:
        cause = ApplicationError("start: the actor token is missing", type="invalid_input")
        raise WorkflowFailureError(cause=cause)


async def test_a_run_that_ends_unopened_is_reported_at_once() -> None:
    async def nothing(_: str) -> int:
        return 0

    fake = SimpleNamespace(
        store=SimpleNamespace(stream_version=nothing),
        client=SimpleNamespace(get_workflow_handle=lambda _: _EndedRun()),
    )
    started = time.monotonic()
    reason = await _recorded_opening(fake, "coop-x")  # type: ignore[arg-type]
    assert reason == (
        "the workflow ended without recording ProcessOpened "
        "(invalid_input: start: the actor token is missing)"
    )
    assert time.monotonic() - started < 10, "not the whole wait"


# --- against the real services -----------------------------------------------------------------


def _scenario(tmp_path: Path, source: str, old: str, new: str) -> Path:
    text = (SCENARIOS / source).read_text()
    assert old in text, "the scenario file changed: update this test"
    path = tmp_path / source
    path.write_text(text.replace(old, new))
    return path


async def test_an_opening_that_should_be_refused_but_is_not_fails(
    session: Session, tmp_path: Path
) -> None:
    path = _scenario(
        tmp_path,
        "opening-refused.yaml",
        "actor: {party: mfa, role: head}",
        "actor: {party: national_body, role: chair}",
    )
    run = await run_scenario(session, path, quiet=True)
    assert not run.ok
    assert run.opening is not None and run.opening.outcome == "accepted"
    assert failure_line(run) == (
        f"{path}: open (open_process): expected rejection not_allowed, field actor.party, "
        "message containing 'may not issue this command', but it was accepted"
    )


async def test_an_opening_refused_otherwise_than_expected_fails_and_leaves_nothing(
    session: Session, tmp_path: Path
) -> None:
    path = _scenario(
        tmp_path, "opening-refused.yaml", "field: actor.party", "field: process.agencies"
    )
    run = await run_scenario(session, path, quiet=True)
    assert not run.ok and run.final_stage is None and run.events == []
    reason = failure_line(run)
    assert reason is not None and "got field actor.party" in reason
    assert await session.store.stream_version(run.workflow_id) == 0


async def test_an_unexpected_refused_opening_fails_the_run_cleanly(
    session: Session, tmp_path: Path
) -> None:
    path = _scenario(tmp_path, "suspension-resumed.yaml", "  country: Examplestan\n", "")
    run = await run_scenario(session, path, quiet=True)
    assert not run.ok and run.steps == [] and run.final_stage is None
    reason = failure_line(run)
    assert reason is not None and "open (open_process): rejected invalid_input" in reason


async def test_a_wrong_event_count_fails_the_step_with_the_count(
    session: Session, tmp_path: Path
) -> None:
    path = _scenario(
        tmp_path,
        "raw-commands.yaml",
        "{type: ProcessOpened, count: 1, scope: all}",
        "{type: ProcessOpened, count: 2, scope: all}",
    )
    run = await run_scenario(session, path, quiet=True)
    failed = [s for s in run.steps if not s.ok]
    assert [s.index for s in failed] == [6]
    assert failed[0].message == ("expect_events: ProcessOpened: expected exactly 2 so far, found 1")


async def test_a_wrong_rejection_field_fails_the_step(session: Session, tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        "raw-commands.yaml",
        "{code: invalid_input, field: actor.role}",
        "{code: invalid_input, field: actor.party}",
    )
    run = await run_scenario(session, path, quiet=True)
    failed = [s for s in run.steps if not s.ok]
    assert [s.index for s in failed] == [5]
    assert failed[0].message is not None
    assert failed[0].message.startswith(
        "expected rejection invalid_input, field actor.party, got field actor.role: "
    )
