"""One home per command: the function that decides it, with who may issue it and in which
stages, grouped by the part of the process DOMAIN.md describes.

- `opening`: log_contact, submit_opinion, assign_representative, record_meeting,
  mark_dormant, re_engage;
- `instrument`: propose_instrument, clear_instrument, sign_instrument;
- `mission`: propose_mission, grant_consent, refuse_consent, reschedule_mission,
  start_mission, record_mission_meeting, complete_mission;
- `report`: deliver_report, submit_review, submit_conclusions, request_revision,
  revise_report, accept_report, hold_presentation, clear_publication, publish_report;
- `process`: suspend, resume, withdraw, close_process; it declares open_process (decided
  in `decide`) and correct_record (domain/corrections.py);
- `timers`: consent_deadline_reached, review_reminder_due, review_deadline_reached,
  dormancy_due.

Importing this package registers every rule (`registry.py`), which fills
`domain.policy.POLICY` and `domain.stages.ALLOWED_IN`; `domain.decider.decide` keeps the
order of checks common to all commands and dispatches by `match`.
"""

from domain.rules import instrument, mission, opening, process, report, timers
from domain.rules.registry import RULES, CommandRule, command_rule, declare, in_command_order

# The tables list commands in the domain's order (COMMANDS, then the timers), whatever the
# order the modules above were imported in.
in_command_order()

__all__ = [
    "RULES",
    "CommandRule",
    "command_rule",
    "declare",
    "instrument",
    "mission",
    "opening",
    "process",
    "report",
    "timers",
]
