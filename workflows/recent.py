"""The update ids a process remembers, so that a retried command is answered, not recorded
twice.

Temporal answers a repeated update id by itself only within one run. A retry that reaches
the next run (after continue-as-new) is answered here: the process keeps the last
`RECENT_UPDATES` accepted updates with the digest of their command and their outcome, and
carries them over in `Continuation.recent`. The same id with another command is refused
`idempotency_conflict`; nothing is recorded again.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable

from domain import Command
from workflows.contracts import CommandResult, RecentCommand
from workflows.intake import refusal

# Update ids remembered (with their digest and outcome) across continue-as-new.
RECENT_UPDATES = 200


def command_digest(command: Command) -> str:
    """SHA-256 of a command as the process understands it (canonical JSON)."""
    canonical = json.dumps(
        command.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class RecentUpdates:
    """Accepted update ids, oldest first, at most `RECENT_UPDATES` of them."""

    def __init__(self, carried: Iterable[RecentCommand] = ()) -> None:
        self._by_id: OrderedDict[str, RecentCommand] = OrderedDict(
            (r.update_id, r) for r in carried
        )

    def answer(self, update_id: str) -> CommandResult | None:
        """The outcome an update id already had, if this process remembers it."""
        recent = self._by_id.get(update_id)
        return recent.result if recent is not None else None

    def check(self, update_id: str, name: str, command: Command) -> bool:
        """Whether `update_id` was already accepted for this very command (answered with its
        outcome); refused when it was accepted for another one."""
        recent = self._by_id.get(update_id)
        if recent is None:
            return False
        if recent.command_digest != command_digest(command):
            raise refusal(
                "idempotency_conflict",
                f"{name}: this update id was already used for another command; "
                "use a new update id for a new command",
                "update_id",
            )
        return True

    def remember(self, update_id: str, result: CommandResult) -> None:
        self._by_id[update_id] = RecentCommand(
            update_id=update_id, command_digest=result.command_digest or "", result=result
        )
        while len(self._by_id) > RECENT_UPDATES:
            self._by_id.popitem(last=False)

    def carried(self) -> list[RecentCommand]:
        """What the next run takes over (`Continuation.recent`)."""
        return list(self._by_id.values())
