"""Process configuration, parties and actors."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from domain import Actor, DomainError, ProcessConfig, parse_command
from tests.domain.domain_scenario import CONFIG


def config(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(CONFIG)
    data.update(changes)
    return data


def open_with(data: dict[str, Any]) -> DomainError:
    payload = {
        "actor": {"party": "national_body", "role": "chair"},
        "occurred_on": "2018-05-17",
        "process": data,
    }
    with pytest.raises(DomainError) as caught:
        parse_command("open_process", payload)
    assert caught.value.code == "invalid_input"
    return caught.value


def test_story_config_parses_iso_durations() -> None:
    parsed = ProcessConfig.model_validate_json(
        ProcessConfig.model_validate(CONFIG, strict=False).model_dump_json()
    )
    assert parsed.durations.consent_deadline == timedelta(days=30)
    assert parsed.channel.key == "mfa"
    assert parsed.consent_agencies == ("mfa", "state_security_service")
    assert parsed.reviewers == ("mfa", "state_security_service")
    assert parsed.escalation_targets == ("presidential_administration",)
    assert parsed.max_revisions == 2


def test_durations_in_seconds_for_tests() -> None:
    data = config(
        durations={
            "consent_deadline": "PT3S",
            "review_reminder_every": "PT1S",
            "review_deadline": "PT5S",
            "dormancy_after": "PT10S",
        }
    )
    command = parse_command(
        "open_process",
        {"actor": {"party": "partner", "role": "director_general"}, "occurred_on": "2018-05-17"}
        | {"process": data},
    )
    assert command.process.durations.consent_deadline == timedelta(seconds=3)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("agencies", "rule"),
    [
        ([{"key": "mfa", "name": "MFA", "escalation_target": True}], "exactly one agency"),
        (
            [
                {"key": "mfa", "name": "MFA", "channel": True},
                {"key": "mod", "name": "MoD", "channel": True, "escalation_target": True},
            ],
            "exactly one agency",
        ),
        ([{"key": "mfa", "name": "MFA", "channel": True}], "escalation_target"),
        (
            [
                {"key": "mfa", "name": "MFA", "channel": True, "escalation_target": True},
                {"key": "mfa", "name": "MFA again"},
            ],
            "unique",
        ),
        ([{"key": "partner", "name": "x", "channel": True, "escalation_target": True}], "reserved"),
        ([{"key": "system", "name": "x", "channel": True, "escalation_target": True}], "reserved"),
        ([{"key": "MFA", "name": "x", "channel": True, "escalation_target": True}], "pattern"),
        ([], "at least 1"),
    ],
)
def test_agency_rules(agencies: list[dict[str, Any]], rule: str) -> None:
    error = open_with(config(agencies=agencies))
    assert rule in error.message
    assert error.field is not None and error.field.startswith("process")


@pytest.mark.parametrize("process_id", ["ab", "-abc", "Az-icmp", "a" * 64, "az icmp"])
def test_process_id_pattern(process_id: str) -> None:
    error = open_with(config(process_id=process_id))
    assert error.field == "process.process_id"


def test_durations_must_be_positive() -> None:
    durations = dict(CONFIG["durations"], review_deadline="PT0S")
    error = open_with(config(durations=durations))
    assert error.field == "process.durations.review_deadline"
    assert "greater than zero" in error.message


def test_max_revisions_bounded() -> None:
    assert open_with(config(max_revisions=11)).field == "process.max_revisions"


def test_actor_role_must_fit_party() -> None:
    with pytest.raises(ValueError, match="does not exist for party 'partner'"):
        Actor(party="partner", role="chair")
    with pytest.raises(ValueError, match="does not exist for party 'mfa'"):
        Actor(party="mfa", role="director_general")
    assert Actor.system().party == "system"
    assert Actor(party="mfa", role="head", name="Minister").name == "Minister"


def test_agency_names_and_durations_are_optional() -> None:
    """DOMAIN.md gives agencies a key and flags; durations default to a real process's."""
    from datetime import timedelta

    from domain import ProcessConfig

    config = ProcessConfig.model_validate_json(
        '{"process_id": "xx-min", "country": "X", "partner": {"name": "P"},'
        ' "national_body": {"name": "N"},'
        ' "agencies": [{"key": "mfa", "channel": true, "escalation_target": true}],'
        ' "durations": {"consent_deadline": "PT2S"}}'
    )
    assert config.agencies[0].name is None
    assert config.durations.consent_deadline == timedelta(seconds=2)
    assert config.durations.review_deadline == timedelta(days=60)
