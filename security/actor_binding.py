"""Binding a command's actor to the caller: the actor token travels as a Temporal header.

One interceptor, installed on the client (see `workers.config`), does both sides:

- **client**: every workflow start and update carries the caller's token in the header
  `accord-actor-token` (the token given at construction, or the one set for the current
  task with `acting_as`);
- **worker** (only with `required=True`, i.e. `ACCORD_REQUIRE_ACTOR_TOKEN=1`): a workflow
  interceptor on `CooperationProcess` checks the token in the update validator, before
  the domain's own validator. A missing, forged, expired or foreign token rejects the
  update with `not_allowed`, so it never enters history. The opening command
  (`open_process`, the workflow's start input) is checked when the first run starts; a
  refused opening fails the workflow with `not_allowed` before anything is recorded.

Why a header, not a field of the command: the command stays the domain's strict model
(unknown fields are `invalid_input`), the token never reaches the event store, and
headers are the one place Temporal gives interceptors for caller context.

Determinism: the check reads only the header, the command and `workflow.now()`, and the
keys are fixed for the worker's life. Temporal does not run update validators on replay
(a rejected update is not in history; an accepted one is), and the start check is skipped
on replay (its outcome is already in history), so rotating or retiring keys later never
changes a replay.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

import temporalio.converter
from temporalio import client, workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from domain import DomainError, parse_command
from security.actor_token import TokenError, verify
from security.keys import KeyConfigError, KeyRing

HEADER = "accord-actor-token"
PROCESS_WORKFLOW = "CooperationProcess"
RULE = "the actor must match a valid, unexpired actor token (ACCORD_REQUIRE_ACTOR_TOKEN)"

_current_token: ContextVar[str | None] = ContextVar("accord_actor_token", default=None)
# Headers use the SDK's default JSON converter on both ends, whatever the data converter.
_HEADER_CONVERTER = temporalio.converter.default().payload_converter


@contextmanager
def acting_as(token: str | None) -> Iterator[None]:
    """Send this token with the starts and updates made in this block (this task only)."""
    reset = _current_token.set(token)
    try:
        yield
    finally:
        _current_token.reset(reset)


def token_header(token: str) -> Payload:
    return _HEADER_CONVERTER.to_payloads([token])[0]


class ActorBinding(client.Interceptor, Interceptor):
    """Client side: attach the token. Worker side (when required): verify it."""

    def __init__(
        self, *, token: str | None = None, keys: KeyRing | None = None, required: bool = False
    ) -> None:
        if required and keys is None:
            raise KeyConfigError("ACCORD_REQUIRE_ACTOR_TOKEN=1 needs ACCORD_ACTOR_KEYS(_FILE)")
        self.token = token
        self.keys = keys
        self.required = required

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _AttachToken(next, self.token)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        if not self.required or self.keys is None:
            return None
        keys = self.keys

        # A class per worker: the SDK instantiates it per workflow with only `next`.
        class _Bound(_CheckActorToken):
            ring = keys

        return _Bound


class _AttachToken(client.OutboundInterceptor):
    def __init__(self, next: client.OutboundInterceptor, default: str | None) -> None:
        super().__init__(next)
        self._default = default

    def _headers(self, headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
        token = _current_token.get() or self._default
        return {**headers, HEADER: token_header(token)} if token else headers

    async def start_workflow(
        self, input: client.StartWorkflowInput
    ) -> client.WorkflowHandle[Any, Any]:
        input.headers = self._headers(input.headers)
        return await super().start_workflow(input)

    async def start_workflow_update(
        self, input: client.StartWorkflowUpdateInput
    ) -> client.WorkflowUpdateHandle[Any]:
        input.headers = self._headers(input.headers)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: client.StartWorkflowUpdateWithStartInput
    ) -> client.WorkflowUpdateHandle[Any]:
        input.start_workflow_input.headers = self._headers(input.start_workflow_input.headers)
        input.update_workflow_input.headers = self._headers(input.update_workflow_input.headers)
        return await super().start_update_with_start_workflow(input)


class _CheckActorToken(WorkflowInboundInterceptor):
    ring: ClassVar[KeyRing]

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        if workflow.info().workflow_type == PROCESS_WORKFLOW:
            self._check(input.update, _update_body(input.args), input.headers)
        super().handle_update_validator(input)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        # The start input is a `ProcessStart`; read by attribute so that a runner which
        # re-imports the contracts module cannot make an isinstance check skip this.
        start = input.args[0] if input.args else None
        opening = getattr(start, "open_process", None)
        if (
            workflow.info().workflow_type == PROCESS_WORKFLOW
            and not getattr(start, "history", None)  # continue-as-new: already opened
            and not workflow.unsafe.is_replaying()
        ):
            self._check(
                "open_process", opening if isinstance(opening, Mapping) else None, input.headers
            )
        return await super().execute_workflow(input)

    def _check(
        self, name: str, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, Payload]
    ) -> None:
        # Authenticate first: an unauthenticated caller learns nothing about the command.
        try:
            header = headers.get(HEADER)
            if header is None:
                raise TokenError("no actor token")
            token = _HEADER_CONVERTER.from_payloads([header], [str])[0]
            claims = verify(token, self.ring, workflow.now())
        except TokenError as err:
            raise _not_allowed(name, err.reason) from None
        except Exception:  # a header that is not a JSON string
            raise _not_allowed(name, "malformed token") from None
        if body is None:
            return  # not one JSON object: the workflow's validator answers invalid_input
        try:
            actor = parse_command(name, body).actor
        except DomainError:
            return  # malformed command: the workflow's validator answers invalid_input
        for part, ours, theirs in zip(
            ("party", "role", "name"),
            (actor.party, actor.role, actor.name),
            claims.identity(),
            strict=True,
        ):
            if ours != theirs:
                raise _not_allowed(name, f"the token's actor has another {part}")


def _update_body(args: Sequence[Any]) -> bytes | None:
    """The command JSON of the dynamic handler's arguments `[name, [RawValue]]`."""
    if len(args) == 2 and isinstance(args[1], Sequence) and len(args[1]) == 1:
        raw = args[1][0]
        if isinstance(raw, RawValue):
            return raw.payload.data
    return None


def _not_allowed(name: str, reason: str) -> ApplicationError:
    err = DomainError("not_allowed", f"{name}: {reason}; rule: {RULE}", "actor")
    return ApplicationError(err.message, err.to_dict(), type=err.code, non_retryable=True)
