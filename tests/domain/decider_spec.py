"""Decider specifications: given these events, when this command, then these events (or this
refusal). One rule per test, read like DOMAIN.md's tables (after Emmett's
`DeciderSpecification`).

    spec.given(*story.before("submit_conclusions")).when(conclusions()).then(ConclusionsSubmitted(...))
    spec.given(*story.before("submit_review")).when(conclusions()).then_rejects("guard_failed")

The givens are recorded facts (events with the party that recorded them), folded with the
same `evolve` the workflow uses; `when` runs the real `decide`. The story's events come
from the scenario file (`tests/domain/story.py`), never from a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain import Command, DomainError, ErrorCode, Event, ProcessState, decide, evolve
from domain.state import initial_state

# An event as the store holds it: what happened and the party whose command recorded it
# (`evolve` needs it for corrections); a bare event was recorded by nobody in particular.
Given = Event | tuple[Event, str | None]


@dataclass(frozen=True)
class Then:
    state: ProcessState
    command: Command
    today: date | None

    def _decide(self) -> list[Event]:
        return decide(self.state, self.command, today=self.today)

    def then(self, *expected: Event) -> ProcessState:
        """The command is accepted and causes exactly `expected`, in order. Returns the state
        after them, for a test that goes on to check what the read side makes of it."""
        produced = self._decide()
        assert produced == list(expected), _diff(produced, list(expected))
        state = self.state
        for event in produced:
            state = evolve(state, event, self.command.actor.party)
        return state

    def then_rejects(self, code: ErrorCode, field: str | None = None) -> DomainError:
        """The command is refused with `code` (and names `field` when given), and nothing is
        decided. Returns the error for a test that checks its wording."""
        try:
            produced = self._decide()
        except DomainError as error:
            assert error.code == code, f"refused {error.code} ({error}), expected {code}"
            if field is not None:
                assert error.field == field, f"names {error.field!r}, expected {field!r}: {error}"
            return error
        raise AssertionError(f"accepted, causing {produced}; expected a refusal {code}")


@dataclass(frozen=True)
class When:
    state: ProcessState

    def when(self, command: Command, *, today: date | None = None) -> Then:
        return Then(self.state, command, today)


def given(*events: Given) -> When:
    state = initial_state()
    for item in events:
        event, by = item if isinstance(item, tuple) else (item, None)
        state = evolve(state, event, by)
    return When(state)


def _diff(produced: list[Event], expected: list[Event]) -> str:
    lines = ["decided events differ:"]
    for i in range(max(len(produced), len(expected))):
        got = produced[i] if i < len(produced) else None
        want = expected[i] if i < len(expected) else None
        mark = "  " if got == want else "!="
        lines.append(f"{mark} {i}: got {got!r}\n      want {want!r}")
    return "\n".join(lines)
