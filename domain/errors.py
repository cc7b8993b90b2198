"""The single error type the domain raises when it rejects a command."""

from __future__ import annotations

from typing import Literal, get_args

from domain.text import echo

ErrorCode = Literal[
    "invalid_input",  # payload fails validation (unknown field, oversized text, wrong type...)
    "not_allowed",  # the actor's party or role may not issue this command
    "wrong_stage",  # the command is not accepted in the process's current stage
    "out_of_order",  # occurred_on is earlier than the last business date (invariant 1)
    "guard_failed",  # a business guard of DOMAIN.md does not hold
    "terminal",  # the process is withdrawn or closed (invariant 4)
]

ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)

# Every rejection is short, whatever the input (DOMAIN.md invariant 5, and a workflow's
# reply must stay far below gRPC's 4 MB limit): the message at most MESSAGE_LIMIT
# characters, the field path at most FIELD_LIMIT, both with unsafe characters replaced.
MESSAGE_LIMIT = 300
FIELD_LIMIT = 100


class DomainError(Exception):
    """A rejected command. Nothing is written when one is raised (invariant 6).

    Message and field are bounded here, once for every rule: a rule that quotes more than
    it should is cut, never sent in full."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        message = echo(message, MESSAGE_LIMIT)
        field = echo(field, FIELD_LIMIT) if field is not None else None
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r}, field={self.field!r})"

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}
