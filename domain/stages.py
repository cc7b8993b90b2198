"""The stages of a process and, as a table, the stages in which each command is accepted."""

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
_AFTER_CONTACT = frozenset(MAIN_LINE) - {S.CONTACT}

# Command name -> stages in which it is accepted (`open_process` needs an unopened process).
# Timer commands are accepted in every non-terminal stage and decide themselves whether
# they still matter (a stale timer is a no-op, never an error).
ALLOWED_IN: dict[str, frozenset[Stage]] = {
    "log_contact": frozenset({S.CONTACT, S.OPTIONS_REVIEW}),
    "submit_opinion": frozenset({S.OPTIONS_REVIEW}),
    "assign_representative": _AFTER_CONTACT,
    "record_meeting": _AFTER_CONTACT,
    "mark_dormant": DORMANT_FROM,
    "re_engage": frozenset({S.DORMANT}),
    "propose_instrument": frozenset({S.NEGOTIATING}),
    "clear_instrument": frozenset({S.NEGOTIATING}),
    "sign_instrument": frozenset({S.NEGOTIATING}),
    "propose_mission": frozenset({S.INSTRUMENT_SIGNED, S.MISSION_PLANNING, S.MISSION_READY}),
    "grant_consent": frozenset({S.MISSION_PLANNING}),
    "refuse_consent": frozenset({S.MISSION_PLANNING}),
    "reschedule_mission": frozenset({S.MISSION_PLANNING, S.MISSION_READY, S.MISSION_IN_PROGRESS}),
    "start_mission": frozenset({S.MISSION_READY}),
    "record_mission_meeting": frozenset({S.MISSION_IN_PROGRESS}),
    "complete_mission": frozenset({S.MISSION_IN_PROGRESS}),
    "deliver_report": frozenset({S.MISSION_COMPLETED}),
    "submit_review": frozenset({S.UNDER_REVIEW}),
    "submit_conclusions": frozenset({S.UNDER_REVIEW}),
    "request_revision": frozenset({S.CONCLUSIONS_SUBMITTED}),
    "revise_report": frozenset({S.REVISION}),
    "accept_report": frozenset({S.CONCLUSIONS_SUBMITTED}),
    "hold_presentation": frozenset({S.ACCEPTED}),
    "clear_publication": frozenset({S.ACCEPTED, S.PRESENTED}),
    "publish_report": frozenset({S.ACCEPTED, S.PRESENTED}),
    "suspend": NON_TERMINAL - {S.SUSPENDED},
    "resume": frozenset({S.SUSPENDED}),
    "withdraw": NON_TERMINAL,
    "close_process": frozenset({S.PRESENTED, S.PUBLISHED}),
    "correct_record": NON_TERMINAL,
    "consent_deadline_reached": NON_TERMINAL,
    "review_reminder_due": NON_TERMINAL,
    "review_deadline_reached": NON_TERMINAL,
    "dormancy_due": NON_TERMINAL,
}
