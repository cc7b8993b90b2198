"""`accord commands`: every command with who may send it, its stages and its fields, read
from the same schemas as contracts/commands/."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from domain import COMMANDS


def test_one_command_described_from_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands", "grant_consent", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["who"] == "the consenting agency itself"
    assert described["stages"] == ["mission_planning"]
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["tor_version"]["required"] is True
    assert fields["conditions"]["required"] is False
    assert fields["occurred_on"]["type"].startswith("string (EDTF date: 2022-04-04, 2021-11")


def test_every_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands", "--json"]) == 0
    assert [c["command"] for c in json.loads(capsys.readouterr().out)] == sorted(COMMANDS)


def test_an_unknown_command_is_not_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands", "nope"]) == 2
    assert "no command 'nope'" in capsys.readouterr().err


def test_every_subcommand_has_an_example_in_its_help() -> None:
    from cli.main import EXAMPLES, parser

    sub = next(a for a in parser()._actions if a.dest == "cmd")
    assert set(EXAMPLES) == set(sub.choices)  # type: ignore[arg-type]
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        assert f"example:\n  {EXAMPLES[name]}" in command.format_help(), name
