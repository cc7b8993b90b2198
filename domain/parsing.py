"""parse_command: a payload (a mapping, or the raw JSON an update carries) into a command.

Bounded before it is read (MAX_COMMAND_BYTES), refused when an object repeats a key, then
validated strictly by the command's model; the refusal is one `invalid_input` naming the
field path and the rule broken, never quoting a rejected value (domain/text.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, get_args

from pydantic import (
    BaseModel,
    ValidationError,
)

from domain.commands import COMMANDS, SYSTEM_COMMANDS, Command
from domain.errors import MESSAGE_LIMIT, DomainError
from domain.text import INPUT, echo, rule_broken

# The largest JSON a command may be, checked before it is parsed. Above every command the
# models accept as UTF-8 in any script (the longest, submit_review at every bound, is
# about 28 KB of ASCII, 82 KB of CJK), and above about 21,000 characters even when an
# encoder \u-escapes all of them; the story's largest command is under 1 KB. Small enough
# that refusing the worst payload below it stays a matter of milliseconds, so a flood of
# bad commands cannot stall a process's workflow task (the SDK's deadlock detector fails
# a task that runs two seconds without yielding).
MAX_COMMAND_BYTES = 128 * 1024
# At most this many validation problems are listed; the rest are counted. A payload with
# more than MAX_ANALYSED problems (thousands of unknown keys) is not analysed further:
# listing them would cost more than refusing it.
MAX_PROBLEMS = 5
MAX_ANALYSED = 200


def parse_command(
    name: str, data: Mapping[str, Any] | str | bytes, *, include_system: bool = False
) -> Command:
    """Validate a payload in JSON mode (ISO dates as strings) into a command.

    Raises DomainError("invalid_input") naming the field path and the rule broken, in a
    bounded message that never quotes a rejected value (paths and keys only, cut short).
    Raw JSON (str or bytes, as Temporal hands an update's payload over) is refused when
    larger than MAX_COMMAND_BYTES, before it is parsed, and when an object in it repeats
    a key at any depth. Text is checked for hygiene (`domain.text`).
    Timer commands are only parsed with `include_system=True` (the workflow's own timers).
    """
    model = COMMANDS.get(name) or (SYSTEM_COMMANDS.get(name) if include_system else None)
    if model is None:
        raise DomainError(
            "invalid_input",
            f"unknown command '{echo(name)}'; the commands are DOMAIN.md's "
            "(e.g. log_contact, record_meeting, grant_consent; contracts/commands/ lists all)",
            "name",
        )
    raw: str | bytes
    from_json = isinstance(data, str | bytes)
    if isinstance(data, Mapping):
        # A dict cannot repeat a key: only the size and the models are left to check.
        raw = json.dumps(dict(data), default=str)
    elif isinstance(data, str | bytes):
        raw = data
    else:
        raise DomainError("invalid_input", f"{name}: payload must be a JSON object", None)
    size = len(raw.encode()) if isinstance(raw, str) else len(raw)
    if size > MAX_COMMAND_BYTES:
        raise DomainError(
            "invalid_input",
            f"{name}: the payload is {size} bytes; a command is at most "
            f"{MAX_COMMAND_BYTES} bytes of JSON",
            None,
        )
    try:
        command = model.model_validate_json(raw, strict=True, context=INPUT)
    except ValidationError as exc:
        raise _invalid_input(name, exc) from None
    if from_json and not _no_key_repeated(command, raw):
        # Only a command that is otherwise valid is parsed a second time: its shape (a
        # few levels deep, bounded lists) keeps this cheap, and bad input costs nothing.
        refuse_duplicate_keys(name, raw)
    return command


# A key's closing quote, whitespace, then its colon: the count below would miss that key.
_SPACED_COLON = re.compile(r'"[ \t\n\r]+:')
_SPACED_COLON_BYTES = re.compile(rb'"[ \t\n\r]+:')
# Per model class, the fields that hold models (or tuples of them): where keys nest.
_NESTED: dict[type[BaseModel], tuple[str, ...]] = {}


def _no_key_repeated(command: BaseModel, raw: str | bytes) -> bool:
    """True when `raw` certainly repeats no key: the common case, without a second parse.

    Every key of a valid command is a field of one of its models (unknown keys are
    refused, and no field is a free-form object), and pydantic records each field given
    once, however often its key came. So the keys given are at least the fields set
    across the command's models, and more exactly when a key repeats. Counting `":` in
    the text counts every key (each key's closing quote is followed by its colon, unless
    whitespace comes between: then this answers False), plus any string *value* that
    starts with a colon or holds an escaped quote before one, which only makes the count
    larger. So a count equal to the fields set proves that no key repeats; anything else
    goes to the exact check."""
    if isinstance(raw, bytes):
        spaced = _SPACED_COLON_BYTES.search(raw) is not None
        count = raw.count(b'":')
    else:
        spaced = _SPACED_COLON.search(raw) is not None
        count = raw.count('":')
    return not spaced and count == _fields_given(command)


def _fields_given(model: BaseModel) -> int:
    cls = type(model)
    nested = _NESTED.get(cls)
    if nested is None:
        nested = _NESTED[cls] = tuple(
            name for name, info in cls.model_fields.items() if _holds_models(info.annotation)
        )
    given = len(model.model_fields_set)
    for name in nested:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            given += _fields_given(value)
        elif isinstance(value, tuple):
            given += sum(_fields_given(item) for item in value if isinstance(item, BaseModel))
    return given


def _holds_models(annotation: Any) -> bool:
    """Whether a field's type is, or contains, a model (`Actor`, `tuple[Signatory, ...]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(arg) for arg in get_args(annotation))


class _DuplicateKey(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_pairs)


def refuse_duplicate_keys(name: str, raw: str | bytes) -> None:
    """JSON parsers disagree on a repeated key (most keep the last, some the first), so
    the history, the store and another service could each read a different command."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        _DECODER.decode(text)
    except _DuplicateKey:
        path = _duplicate_path(_PAIRS_DECODER.decode(text)) or "(payload)"
        raise DomainError(
            "invalid_input",
            f"{name}: field '{path}': a key appears twice in one JSON object; send each key once",
            path,
        ) from None
    except ValueError:  # accepted by pydantic's parser but not by Python's (e.g. NaN)
        raise DomainError("invalid_input", f"{name}: the payload is not valid JSON", None) from None


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its pairs in order, repeats kept (to find where a key repeats)."""


_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs)


def _duplicate_path(node: Any, path: tuple[str, ...] = ()) -> str | None:
    """The path of the first repeated key, each part sanitized and cut short."""
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, _ in node:
            if key in seen:
                return ".".join(echo(part) for part in (*path, key))
            seen.add(key)
        children: list[tuple[str, Any]] = list(node)
    elif isinstance(node, list):
        children = [(str(i), v) for i, v in enumerate(node)]
    else:
        return None
    for key, value in children:
        hit = _duplicate_path(value, (*path, key))
        if hit is not None:
            return hit
    return None


def _invalid_input(name: str, exc: ValidationError) -> DomainError:
    """At most MAX_PROBLEMS problems, each naming its field by a short sanitized path (a
    key is quoted, never a value), within the DomainError's message limit."""
    problems: list[str] = []
    first_field: str | None = None
    total = exc.error_count()
    if total > MAX_ANALYSED:
        return DomainError(
            "invalid_input",
            f"{name}: {total} problems in the payload, too many to list; "
            f"see contracts/commands/{name}.json for the fields a command has",
            None,
        )
    # Inputs are kept only to find the forbidden character a text rule names (never
    # quoted); the problem count is bounded above, so copying them stays cheap.
    for error in exc.errors(include_url=False, include_input=True, include_context=True):
        path = ".".join(echo(part) for part in error["loc"])
        if first_field is None:
            first_field = path or None
        pattern = error.get("ctx", {}).get("pattern")
        rule = rule_broken(error["type"], pattern, error.get("input")) or error["msg"]
        rule = rule.removeprefix("Value error, ")
        problems.append(f"field '{path or '(payload)'}': {echo(rule, 160)}")
        if len(problems) == MAX_PROBLEMS:
            break
    head = f"{name}: "
    message = head
    listed = 0
    for problem in problems:
        more = total - listed - 1
        tail = f"; and {more} more" if more else ""
        candidate = message + ("; " if listed else "") + problem
        if len(candidate) + len(tail) > MESSAGE_LIMIT and listed:
            break
        message = candidate
        listed += 1
    if total > listed:
        message += f"; and {total - listed} more"
    return DomainError("invalid_input", message, first_field)
