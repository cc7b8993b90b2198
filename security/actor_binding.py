"""Binding a command's actor to the caller: the actor token travels as a Temporal header.

One interceptor, installed on every client built by `workers.config`, does both sides:

- **client**: every start of `CooperationProcess` and every update carries a token in the
  header `accord-actor-token`: the one set for the current task with `acting_as`, else the
  configured one (`ACCORD_ACTOR_TOKEN`), else, when the client holds the actor keys, a
  token minted just before sending for the actor the command names and the process it
  targets, living `COMMAND_TOKEN_TTL` (the CLI and the test client work this way);
- **worker**: a worker built on such a client checks every command of `CooperationProcess`
  (tokens are always required; a worker without actor keys refuses to start). The update
  **validator** verifies the token before the domain's own validator, so a missing, forged,
  expired, over-long, future-dated, foreign-process or other-actor token rejects the update
  with `not_allowed` and it never enters history. The opening command (`open_process`,
  the start input) is checked when a run starts, unless it is a continue-as-new the server
  attests (`continued_run_id`, first attempt, no cron): a refused opening fails the run
  with `not_allowed` before anything is recorded.

Why a header, not a field of the command: the command stays the domain's strict model
(unknown fields are `invalid_input`), the token never reaches the event store, and
headers are the one place Temporal gives interceptors for caller context.

Determinism: the check reads only the header, the command, the workflow id and
`workflow.now()`, and the keys are fixed for the worker's life. Temporal does not run
update validators on replay (a rejected update is not in history; an accepted one is),
and the start check is skipped on replay (its outcome is already in history), so expiring
tokens and rotating or retiring keys never change a replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, ClassVar, Final

import temporalio.converter
from pydantic import BaseModel
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
from domain.vocabulary import PROCESS_STREAM_PREFIX
from security.actor_token import (
    COMMAND_TOKEN_TTL,
    DEFAULT_MAX_LIFETIME,
    TokenError,
    mint_for,
    verify,
)
from security.keys import KeyConfigError, KeyRing
from security.refused import why_refused

HEADER = "accord-actor-token"
PROCESS_WORKFLOW = "CooperationProcess"
RULE = "a command needs a valid actor token for its actor and its process (SECURITY.md)"
# Placeholder identity for a command whose actor cannot be read: the token then matches
# no actor the domain accepts, so it authorizes nothing, but lets the domain answer
# `invalid_input` naming the field instead of a bare "no actor token".
_UNREADABLE = "-"


class _Unset:
    pass


_UNSET: Final = _Unset()
_current_token: ContextVar[str | _Unset | None] = ContextVar("accord_actor_token", default=_UNSET)
# Headers use the SDK's default JSON converter on both ends, whatever the data converter.
_HEADER_CONVERTER = temporalio.converter.default().payload_converter


@contextmanager
def acting_as(token: str | None) -> Iterator[None]:
    """Send this token with the starts and updates made in this block (this task only);
    `None` sends none, even from a client that would mint one."""
    reset = _current_token.set(token)
    try:
        yield
    finally:
        _current_token.reset(reset)


def token_header(token: str) -> Payload:
    """The header's payload: `json/plain` encoding of the token as a JSON string."""
    return _HEADER_CONVERTER.to_payloads([token])[0]


class ActorBinding(client.Interceptor, Interceptor):
    """Client side: attach (or mint) the token. Worker side: verify it, always."""

    def __init__(
        self,
        *,
        keys: KeyRing | None = None,
        token: str | None = None,
        max_lifetime: timedelta = DEFAULT_MAX_LIFETIME,
        mint: bool = True,
    ) -> None:
        self.keys = keys
        self.token = token
        self.max_lifetime = max_lifetime
        self.mint = mint

    def __repr__(self) -> str:  # settings get logged: the ring prints ids only, never a token
        return f"ActorBinding(keys={self.keys!r}, token={'set' if self.token else None})"

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        minter = self.keys if self.mint else None
        return _AttachToken(next, self.token, minter, min(COMMAND_TOKEN_TTL, self.max_lifetime))

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        # Called when a worker is built: a worker that cannot check tokens does not start.
        if self.keys is None:
            raise KeyConfigError(
                "a worker needs the actor-token keys: set ACCORD_ACTOR_KEYS or "
                "ACCORD_ACTOR_KEYS_FILE (SECURITY.md, actor tokens)"
            )
        keys, max_lifetime = self.keys, self.max_lifetime

        # A class per worker: the SDK instantiates it per workflow with only `next`.
        class _Bound(_CheckActorToken):
            ring = keys
            lifetime = max_lifetime

        return _Bound


class _AttachToken(client.OutboundInterceptor):
    def __init__(
        self,
        next: client.OutboundInterceptor,
        default: str | None,
        minter: KeyRing | None,
        ttl: timedelta,
    ) -> None:
        super().__init__(next)
        self._default = default
        self._minter = minter
        self._ttl = ttl

    def _headers(
        self, headers: Mapping[str, Payload], workflow_id: str, command: Any
    ) -> Mapping[str, Payload]:
        chosen = _current_token.get()
        token = self._default if isinstance(chosen, _Unset) else chosen
        if isinstance(chosen, _Unset) and token is None and self._minter is not None:
            token = _mint_for_command(self._minter, self._ttl, workflow_id, command)
        return {**headers, HEADER: token_header(token)} if token else headers

    async def start_workflow(
        self, input: client.StartWorkflowInput
    ) -> client.WorkflowHandle[Any, Any]:
        if input.workflow == PROCESS_WORKFLOW:
            opening = _field(input.args[0] if input.args else None, "open_process")
            input.headers = self._headers(input.headers, input.id, opening)
        return await super().start_workflow(input)

    async def start_workflow_update(
        self, input: client.StartWorkflowUpdateInput
    ) -> client.WorkflowUpdateHandle[Any]:
        command = input.args[0] if len(input.args) == 1 else None
        input.headers = self._headers(input.headers, input.id, command)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: client.StartWorkflowUpdateWithStartInput
    ) -> client.WorkflowUpdateHandle[Any]:
        start, update = input.start_workflow_input, input.update_workflow_input
        if start.workflow == PROCESS_WORKFLOW:
            opening = _field(start.args[0] if start.args else None, "open_process")
            start.headers = self._headers(start.headers, start.id, opening)
        command = update.args[0] if len(update.args) == 1 else None
        update.headers = self._headers(update.headers, start.id, command)
        return await super().start_update_with_start_workflow(input)


def _mapping(value: Any) -> Mapping[str, Any] | None:
    """A command as the caller gave it: a dict, a pydantic model, JSON text or a raw payload."""
    if isinstance(value, RawValue):
        value = value.payload.data
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # malformed, or nested past the parser's depth
            return None
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return value if isinstance(value, Mapping) else None


def _field(value: Any, name: str) -> Any:
    body = _mapping(value)
    return body.get(name) if body is not None else getattr(value, name, None)


def _mint_for_command(keys: KeyRing, ttl: timedelta, workflow_id: str, command: Any) -> str | None:
    """A token for the actor `command` names, bound to the process of `workflow_id`."""
    if not workflow_id.startswith(PROCESS_STREAM_PREFIX):
        return None  # not a process: nothing to bind to, and the worker checks no such thing
    body = _mapping(command)
    actor = _mapping(body.get("actor")) if body is not None else None
    actor = actor or {}

    def text(key: str, longest: int) -> str | None:
        # Beyond what the domain accepts, the command is refused anyway: keep the token
        # small (the worker refuses tokens over 4 KiB) so that refusal is the domain's.
        # Stripped as the domain strips it, so the token names the actor the worker reads.
        value = actor.get(key)
        value = value.strip() if isinstance(value, str) else None
        return value if value and len(value) <= longest else None

    return mint_for(
        text("party", 64) or _UNREADABLE,
        text("role", 64) or _UNREADABLE,
        text("name", 200),
        process=workflow_id.removeprefix(PROCESS_STREAM_PREFIX),
        keys=keys,
        ttl=ttl,
    )


class _CheckActorToken(WorkflowInboundInterceptor):
    ring: ClassVar[KeyRing]
    lifetime: ClassVar[timedelta]

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        if workflow.info().workflow_type == PROCESS_WORKFLOW:
            _refuse_markers(input.update, input.args, input.headers)
            self._check(input.update, _update_body(input.args), input.headers)
        super().handle_update_validator(input)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        info = workflow.info()
        if info.workflow_type == PROCESS_WORKFLOW and not workflow.unsafe.is_replaying():
            if info.cron_schedule:
                # A cron's next run would start with the server's continuation mark and
                # the first run's input: never a way for a process to run.
                raise _not_allowed("open_process", "a process cannot run on a cron schedule")
            # Only the server sets continued_run_id: a run the process itself continued as
            # new (first attempt; a retry is attempt 2+) was opened by an earlier, checked
            # run. Any other start is an opening and must carry its actor's token.
            if info.continued_run_id is None or info.attempt != 1:
                _refuse_markers("open_process", input.args, input.headers)
                start = input.args[0] if input.args else None
                opening = _field(start, "open_process")
                self._check(
                    "open_process",
                    opening if isinstance(opening, Mapping) else None,
                    input.headers,
                )
        return await super().execute_workflow(input)

    def _check(
        self, name: str, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, Payload]
    ) -> None:
        # Authenticate first: an unauthenticated caller learns nothing about the command.
        workflow_id = workflow.info().workflow_id
        process = (
            workflow_id.removeprefix(PROCESS_STREAM_PREFIX)
            if workflow_id.startswith(PROCESS_STREAM_PREFIX)
            else ""  # matches no token's process, only "*"
        )
        try:
            header = headers.get(HEADER)
            if header is None:
                raise TokenError("no actor token")
            token = _HEADER_CONVERTER.from_payloads([header], [str])[0]
            claims = verify(
                token, self.ring, workflow.now(), process=process, max_lifetime=self.lifetime
            )
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


def _refuse_markers(name: str, args: Sequence[Any], headers: Mapping[str, Payload]) -> None:
    """With encryption on, input the codec refused (sent unencrypted, or not decryptable)
    reaches us as a refusal marker: say why, readably, before any check that would only
    see a missing token or a malformed command (`security/refused.py`)."""
    payloads = [h for h in headers.values()]
    for arg in args:
        values = arg if isinstance(arg, Sequence) and not isinstance(arg, str | bytes) else [arg]
        payloads += [v.payload for v in values if isinstance(v, RawValue)]
    for payload in payloads:
        reason = why_refused(payload)
        if reason is not None:
            err = DomainError("invalid_input", reason, "input")
            raise ApplicationError(err.message, err.to_dict(), type=err.code, non_retryable=True)


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
