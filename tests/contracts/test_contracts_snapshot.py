"""The published contracts (`contracts/`) match the code, and change only deliberately:
an event's schema only with a bump of its schema_version, commands by re-exporting."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from cli.schema import problems
from domain import EVENTS, UPCASTERS
from store.embedded import project_root

SNAPSHOT = project_root() / "contracts"


def test_the_committed_contracts_match_the_code() -> None:
    found = problems(SNAPSHOT)
    assert not found, "contracts/ is out of date:\n" + "\n".join(found)


def test_every_older_event_version_has_an_upcaster() -> None:
    missing = [
        f"{event_type} v{version}"
        for event_type, model in EVENTS.items()
        for version in range(1, model.schema_version)
        if (event_type, version) not in UPCASTERS
    ]
    assert not missing, f"events recorded at these versions could not be read: {missing}"


@pytest.fixture
def snapshot_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "contracts"
    shutil.copytree(SNAPSHOT, copy)
    return copy


def edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def test_an_event_schema_change_without_a_version_bump_fails(snapshot_copy: Path) -> None:
    # As if the code had added `conditions` to ConsentGranted since the snapshot.
    edit(
        snapshot_copy / "events/ConsentGranted.v2.json",
        lambda doc: doc["properties"].pop("conditions"),
    )
    [problem] = problems(snapshot_copy)
    assert problem.startswith("events/ConsentGranted.v2.json: the schema of ConsentGranted v2")
    assert "Bump ConsentGranted.schema_version to 3" in problem
    assert "UPCASTERS[('ConsentGranted', 2)]" in problem


def test_a_reworded_description_needs_only_a_re_export(snapshot_copy: Path) -> None:
    edit(
        snapshot_copy / "events/ProcessOpened.v2.json",
        lambda doc: doc["$defs"]["AgencyConfig"].update(description="Reworded."),
    )
    assert problems(snapshot_copy) == [
        "events/ProcessOpened.v2.json: only descriptions changed: update the snapshot "
        "deliberately with `accord schema export contracts`"
    ]


def test_a_command_change_fails_until_the_snapshot_is_updated(snapshot_copy: Path) -> None:
    edit(
        snapshot_copy / "commands/grant_consent.json",
        lambda doc: doc["properties"]["tor_version"].update(maximum=99),
    )
    assert problems(snapshot_copy) == [
        "commands/grant_consent.json: differs from the snapshot: update the snapshot "
        "deliberately with `accord schema export contracts`"
    ]
    assert main(["schema", "export", str(snapshot_copy)]) == 0
    assert problems(snapshot_copy) == []


def test_a_removed_event_type_fails(snapshot_copy: Path) -> None:
    shutil.copy(
        snapshot_copy / "events/ConsentGranted.v1.json",
        snapshot_copy / "events/ConsentWaived.v1.json",
    )
    assert any(p.startswith("events/ConsentWaived.v1.json:") for p in problems(snapshot_copy))


def test_export_keeps_and_indexes_older_event_versions(
    snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ContactLogged v1 events stay in the log: their contract stays published (exported
    from the v1 shape the code keeps, cli.schema.LEGACY_EVENTS)."""
    v1 = snapshot_copy / "events/ContactLogged.v1.json"
    v1.unlink()
    assert main(["schema", "check", str(snapshot_copy)]) == 1
    assert "events/ContactLogged.v1.json: new contract" in capsys.readouterr().out
    assert main(["schema", "export", str(snapshot_copy)]) == 0
    assert v1.exists()
    index = json.loads((snapshot_copy / "index.json").read_text())
    assert index["events"]["ContactLogged"] == {
        "schema_version": 3,
        "schemas": {
            "1": "events/ContactLogged.v1.json",
            "2": "events/ContactLogged.v2.json",
            "3": "events/ContactLogged.v3.json",
        },
    }
    assert main(["schema", "check", str(snapshot_copy)]) == 0
