"""Reading a scenario file: YAML into the typed model (`model.Scenario`), and any mistake
into one line naming the step and the key, never the value (exit 2, before anything
starts): `scenarios/x.yaml: step 3: on: a command step needs its business date`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from cli.scenario.model import Scenario
from cli.scenario.steps import AS_WRITTEN, COMMAND_KEYS, KINDS


class ScenarioError(Exception):
    """The scenario file itself is malformed (names the step and the key): exit 2."""


class _ScenarioLoader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false: YAML 1.1 would read the `on:` key as True), and
    no timestamps: dates stay text, so that `on: 2023-13-45` reaches a raw step as written
    (YAML 1.1 would fail to build a date from it); typed keys parse their dates."""


_ScenarioLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ScenarioLoader)


def load(path: Path) -> Scenario:
    """The scenario in `path`, or `ScenarioError` with one line naming the step and key."""
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        reason = err.strerror if isinstance(err, OSError) else one_line(str(err))
        raise ScenarioError(f"{path}: cannot read scenario: {reason}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with process and steps")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        errors = err.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ScenarioError(f"{path}: {explain(errors[0])}{more}") from None


# A key a step's kind does not take, when it is another kind's: said whose it is.
_WHOSE_KEY = {
    **dict.fromkeys(COMMAND_KEYS, "only a command step takes it"),
    "timeout": "only a wait_for step takes it",
    "as_written": AS_WRITTEN,
}


def explain(error: ErrorDetails) -> str:
    """`step 3: expect_events[1].count: ...` from a pydantic error (never the value).

    The one place pydantic's wording becomes the language's: a step's kind (the union's
    tag, in `loc` after the step's index) is left out, since the author wrote no such key;
    entries count from 1; an unknown key of a step says which kind takes it."""
    loc = list(error["loc"])
    where: list[str] = []
    step_key = False
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        where.append(f"step {loc[1] + 1}")
        loc = loc[2:]
        if loc and loc[0] in KINDS:
            loc = loc[1:]
        step_key = len(loc) == 1
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part + 1}]"  # entries count from 1, as steps do
        else:
            path += ("." if path else "") + ("with" if part == "with_" else str(part))
    if path:
        where.append(path)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = _WHOSE_KEY.get(path, "unknown key") if step_key else "unknown key"
    elif error["type"] == "missing":
        message = "required"
    return ": ".join([*where, one_line(message)])


def one_line(text: str) -> str:
    return " ".join(text.split())
