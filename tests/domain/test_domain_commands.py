"""Command parsing: strict, bounded, every failure reported as invalid_input."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from domain import (
    COMMANDS,
    POLICY,
    SYSTEM_COMMANDS,
    Command,
    DomainError,
    LogContact,
    parse_command,
)
from domain.stages import ALLOWED_IN
from tests.domain.domain_scenario import CHAIR, DG, SYSTEM

CONTACT: dict[str, Any] = {
    "actor": CHAIR,
    "occurred_on": "2018-05-17",
    "venue": "Embassy of Azerbaijan, The Hague",
    "participants": ["ICMP Director for Policy and Cooperation"],
    "modalities": ["membership", "bilateral_agreement"],
}


def invalid(name: str, data: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_command(name, data)
    assert caught.value.code == "invalid_input"
    return caught.value


def test_registry_names_match_domain_vocabulary() -> None:
    assert len(COMMANDS) == 31
    assert set(SYSTEM_COMMANDS) == {
        "consent_deadline_reached",
        "review_reminder_due",
        "review_deadline_reached",
        "dormancy_due",
    }
    for name, model in {**COMMANDS, **SYSTEM_COMMANDS}.items():
        assert model.name == name
        assert issubclass(model, Command)
        assert model.model_config.get("strict") is True
        assert model.model_config.get("extra") == "forbid"
        assert name in POLICY
        assert name == "open_process" or name in ALLOWED_IN


def test_parses_dict_str_and_bytes() -> None:
    from_dict = parse_command("log_contact", CONTACT)
    assert isinstance(from_dict, LogContact)
    assert from_dict.occurred_on == date(2018, 5, 17)
    assert from_dict.modalities == ("membership", "bilateral_agreement")
    assert parse_command("log_contact", json.dumps(CONTACT)) == from_dict
    assert parse_command("log_contact", json.dumps(CONTACT).encode()) == from_dict


def test_commands_are_frozen() -> None:
    command = parse_command("log_contact", CONTACT)
    assert isinstance(command, LogContact)
    with pytest.raises(ValueError, match="frozen"):
        command.venue = "elsewhere"  # type: ignore[misc]


def test_unknown_command_name() -> None:
    error = invalid("sign_treaty", CONTACT)
    assert "unknown command 'sign_treaty'" in error.message
    assert error.field == "name"


def test_system_commands_need_opt_in() -> None:
    data = {"actor": SYSTEM, "occurred_on": "2020-01-01"}
    invalid("dormancy_due", data)
    assert parse_command("dormancy_due", data, include_system=True).name == "dormancy_due"


def test_unknown_field_rejected() -> None:
    error = invalid("log_contact", CONTACT | {"family_dna_profile": "x"})
    assert error.field == "family_dna_profile"
    assert "Extra inputs are not permitted" in error.message


def test_oversized_string_rejected() -> None:
    error = invalid("log_contact", CONTACT | {"summary": "x" * 2001})
    assert error.field == "summary"
    assert "at most 2000 characters" in error.message
    assert "x" * 50 not in error.message  # the oversized value is never echoed back


def test_oversized_list_rejected() -> None:
    error = invalid("log_contact", CONTACT | {"participants": ["someone"] * 51})
    assert error.field == "participants"


def test_wrong_type_rejected_strictly() -> None:
    data = {"actor": DG, "occurred_on": "2020-01-01", "type": "mou", "draft_version": "1"}
    error = invalid("propose_instrument", data)
    assert error.field == "draft_version"
    assert "integer" in error.message


def test_missing_field_rejected() -> None:
    data = {k: v for k, v in CONTACT.items() if k != "venue"}
    error = invalid("log_contact", data)
    assert error.field == "venue"
    assert "Field required" in error.message


def test_bad_date_rejected() -> None:
    assert invalid("log_contact", CONTACT | {"occurred_on": "17/05/2018"}).field == "occurred_on"


def test_modalities_vocabulary_and_distinct() -> None:
    assert invalid("log_contact", CONTACT | {"modalities": ["treaty"]}).field == "modalities.0"
    error = invalid("log_contact", CONTACT | {"modalities": ["membership", "membership"]})
    assert "distinct" in error.message


def test_actor_validated() -> None:
    assert invalid("log_contact", CONTACT | {"actor": {"party": "partner"}}).field == "actor.role"
    error = invalid("log_contact", CONTACT | {"actor": {"party": "partner", "role": "chair"}})
    assert error.field == "actor.role"
    error = invalid("log_contact", CONTACT | {"actor": CHAIR | {"name": "n" * 201}})
    assert error.field == "actor.name"


def test_end_dates_not_before_start_dates() -> None:
    data = {
        "actor": DG,
        "occurred_on": "2023-01-01",
        "tor_version": 1,
        "planned_start": "2023-06-16",
        "planned_end": "2023-06-05",
        "team": ["Andreas Kleiser"],
    }
    error = invalid("propose_mission", data)
    assert error.field == "planned_end"
    assert "must not be earlier than planned_start" in error.message


def test_payload_must_be_an_object() -> None:
    invalid("log_contact", "[1, 2]")
    invalid("log_contact", b"not json")


def test_error_to_dict() -> None:
    error = invalid("log_contact", CONTACT | {"venue": ""})
    assert error.to_dict() == {"code": "invalid_input", "message": str(error), "field": "venue"}


def test_the_unions_name_every_command_and_every_event() -> None:
    # `decide` and `evolve` match on these unions; a class left out would reach no case.
    from typing import get_args

    from domain.commands import COMMANDS, SYSTEM_COMMANDS, AnyCommand
    from domain.events import EVENTS, AnyEvent

    assert set(get_args(AnyCommand)) == set(COMMANDS.values()) | set(SYSTEM_COMMANDS.values())
    assert set(get_args(AnyEvent)) == set(EVENTS.values())


def test_every_command_has_one_rule_and_the_tables_come_from_it() -> None:
    from domain.commands import COMMANDS, SYSTEM_COMMANDS
    from domain.rules import RULES

    assert list(RULES) == [*COMMANDS, *SYSTEM_COMMANDS]
    for name, rule in RULES.items():
        assert rule.command.name == name
        assert POLICY[name] == rule.who
        assert ALLOWED_IN.get(name) == rule.stages


def test_changes_are_typed_over_exactly_the_state_fields() -> None:
    from dataclasses import fields
    from typing import get_type_hints

    import pytest

    from domain.state import Changes, ProcessState, amend

    assert set(get_type_hints(Changes)) == {f.name for f in fields(ProcessState)}
    with pytest.raises(TypeError, match="ProcessState has no field stgae"):
        amend(ProcessState(), stgae=None)
