"""The single error type the domain raises when it rejects a command."""

from __future__ import annotations

from typing import Literal, get_args

ErrorCode = Literal[
    "invalid_input",  # payload fails validation (unknown field, oversized text, wrong type...)
    "not_allowed",  # the actor's party or role may not issue this command
    "wrong_stage",  # the command is not accepted in the process's current stage
    "out_of_order",  # occurred_on is earlier than the last business date (invariant 1)
    "guard_failed",  # a business guard of DOMAIN.md does not hold
    "terminal",  # the process is withdrawn or closed (invariant 4)
]

ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)


class DomainError(Exception):
    """A rejected command. Nothing is written when one is raised (invariant 6)."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
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
