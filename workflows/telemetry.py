"""One log line and one counter per command the process accepts or refuses.

The line's facts are fields (`workers/logs.py` lifts them); the counters are read by
`workers/metrics.py`. The workflow's logger and meter record nothing on replay, so a
replayed command is neither logged nor counted twice.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from domain import COMMANDS, Command

# Also spelt in workers/metrics.py.
ACCEPTED = "accord_commands_accepted"
REFUSED = "accord_commands_refused"


def command_logged(
    message: str,
    name: str,
    update: workflow.UpdateInfo | None,
    command: Command | None,
    **fields: Any,
) -> None:
    """Log and count a command; `code` among the fields makes it a refusal."""
    actor = command.actor if command is not None else None
    # What the caller sent may be anything: a short, known-safe form.
    known = name if name in COMMANDS else "(unknown)"
    if "code" in fields:
        workflow.metric_meter().create_counter(
            REFUSED, "commands refused, by command and code"
        ).add(1, {"command": known, "code": str(fields["code"])})
    else:
        workflow.metric_meter().create_counter(ACCEPTED, "commands accepted, by command").add(
            1, {"command": known}
        )
    workflow.logger.info(
        message,
        extra={
            "accord": {
                "process": workflow.info().workflow_id,
                "command": known,
                "update_id": update.id[:200] if update is not None else None,
                "actor_party": actor.party if actor is not None else None,
                "actor_role": actor.role if actor is not None else None,
                **fields,
            }
        },
    )
