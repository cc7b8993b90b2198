"""A process state as plain JSON and back: what a new run receives from the store.

A run that continues as new does not carry its events (their size grows without bound);
an activity reads the stream from the store, checks its chain, folds it and hands the
workflow this snapshot. The state's records are frozen dataclasses with immutable
mappings, which pydantic cannot validate, so this module walks their type hints: every
field is rebuilt as the type it declares, and a field the state does not declare, or a
missing one, is an error rather than a silent default.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from datetime import date
from enum import Enum
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from domain.dates import BusinessDate
from domain.state import ProcessState

Json = Any


class SnapshotError(ValueError):
    """A snapshot that does not describe a state of this code's shape."""


def dump_state(state: ProcessState) -> dict[str, Json]:
    dumped = _dump(state)
    assert isinstance(dumped, dict)
    return dumped


def load_state(data: Mapping[str, Json]) -> ProcessState:
    state = _load(ProcessState, data, "state")
    assert isinstance(state, ProcessState)
    return state


def _dump(value: Any) -> Json:
    if isinstance(value, BusinessDate):  # a dataclass too, but stored as written
        return value.text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted(_dump(v) for v in value)
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise SnapshotError(f"cannot snapshot a {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _load(tp: Any, data: Json, path: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _load(inner, data, path)
    if origin is Literal or tp is Any:
        return data
    if tp is BusinessDate:
        try:
            return BusinessDate.parse(data)
        except (TypeError, ValueError):
            raise SnapshotError(f"{path}: not a business date") from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise SnapshotError(f"{path}: expected an object")
        names = {f.name for f in dataclasses.fields(tp)}
        if set(data) != names:
            raise SnapshotError(f"{path}: fields differ from {tp.__name__}'s")
        hints = _hints(tp)
        return tp(**{n: _load(hints[n], data[n], f"{path}.{n}") for n in names})
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        # The domain's models are strict: they take JSON text, as from a command.
        return tp.model_validate_json(json.dumps(data))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    if tp is date:
        return date.fromisoformat(data)
    if origin is types.MappingProxyType:
        return types.MappingProxyType(
            {k: _load(args[1], v, f"{path}.{k}") for k, v in dict(data).items()}
        )
    if origin is tuple:
        return tuple(_load(args[0], v, f"{path}[]") for v in data)
    if origin is frozenset:
        return frozenset(_load(args[0], v, f"{path}[]") for v in data)
    if tp in (str, int, float, bool):
        if not isinstance(data, tp):
            raise SnapshotError(f"{path}: expected {tp.__name__}")
        return data
    raise SnapshotError(f"{path}: no rule for {tp!r}")
