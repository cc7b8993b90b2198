"""The stages of a process, and the table of the stages in which each command is accepted
(filled by domain/rules/)."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    CONTACT = "contact"
    OPTIONS_REVIEW = "options_review"
    NEGOTIATING = "negotiating"
    INSTRUMENT_SIGNED = "instrument_signed"
    MISSION_PLANNING = "mission_planning"
    MISSION_READY = "mission_ready"
    MISSION_IN_PROGRESS = "mission_in_progress"
    MISSION_COMPLETED = "mission_completed"
    UNDER_REVIEW = "under_review"
    CONCLUSIONS_SUBMITTED = "conclusions_submitted"
    REVISION = "revision"
    ACCEPTED = "accepted"
    PRESENTED = "presented"
    PUBLISHED = "published"
    CLOSED = "closed"
    DORMANT = "dormant"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


S = Stage
TERMINAL: frozenset[Stage] = frozenset({S.WITHDRAWN, S.CLOSED})
# The main line, in order; side stages (dormant, suspended) and terminals excluded.
MAIN_LINE: tuple[Stage, ...] = (
    S.CONTACT,
    S.OPTIONS_REVIEW,
    S.NEGOTIATING,
    S.INSTRUMENT_SIGNED,
    S.MISSION_PLANNING,
    S.MISSION_READY,
    S.MISSION_IN_PROGRESS,
    S.MISSION_COMPLETED,
    S.UNDER_REVIEW,
    S.CONCLUSIONS_SUBMITTED,
    S.REVISION,
    S.ACCEPTED,
    S.PRESENTED,
    S.PUBLISHED,
)
DORMANT_FROM: frozenset[Stage] = frozenset({S.OPTIONS_REVIEW, S.NEGOTIATING})
NON_TERMINAL: frozenset[Stage] = frozenset(Stage) - TERMINAL
# Every main-line stage once a first contact is logged.
AFTER_CONTACT = frozenset(MAIN_LINE) - {S.CONTACT}

# Command name -> stages in which it is accepted (`open_process` needs an unopened process
# and has no entry). Filled by the rules themselves (`@command_rule` in domain/rules/).
# Timer commands are accepted in every non-terminal stage and decide themselves whether
# they still matter (a stale timer is a no-op, never an error).
ALLOWED_IN: dict[str, frozenset[Stage]] = {}
