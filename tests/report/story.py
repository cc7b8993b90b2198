"""Recorded events of a scenario file, produced by the domain decider alone (no Temporal).

The same `decide`/`evolve` the workflow runs, fed the scenario's commands in order; each
event is wrapped as the store would return it, with the command's actor as metadata.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from cli.operations import open_payload
from cli.scenario import load
from domain import Command, decide, encode_event, evolve, initial_state, parse_command
from store.model import EventMetadata, RecordedEvent

ROOT = Path(__file__).resolve().parents[2]
STORY = ROOT / "scenarios" / "azerbaijan-icmp.yaml"
STREAM = "coop-az-icmp-report"


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class Recorder:
    """Decides commands against the folded state and keeps what the store would hold."""

    def __init__(self, stream: str = STREAM) -> None:
        self.stream = stream
        self.state = initial_state()
        self.events: list[RecordedEvent] = []
        # (events recorded before it, name, command) for each command decided.
        self.commands: list[tuple[int, str, Command]] = []

    def command(self, name: str, payload: dict[str, Any], *, system: bool = False) -> None:
        self.record(parse_command(name, _json(payload), include_system=system), payload["actor"])

    def record(self, command: Command, actor: dict[str, Any]) -> None:
        # As the workflow records them: the actor and the cited source as metadata.
        self.commands.append((len(self.events), command.name, command))
        source = (
            command.source.model_dump(mode="json", exclude_none=True) if command.source else None
        )
        for event in decide(self.state, command):
            self.state = evolve(self.state, event, command.actor.party)
            event_type, schema_version, data = encode_event(event)
            version = len(self.events) + 1
            self.events.append(
                RecordedEvent(
                    position=version,
                    tx_id=1,
                    event_id=uuid5(NAMESPACE_URL, f"{self.stream}/{version}"),
                    stream_id=self.stream,
                    version=version,
                    event_type=event_type,
                    schema_version=schema_version,
                    data=data,
                    metadata=EventMetadata(
                        occurred_on=event.occurred_on.text, actor=actor, source=source
                    ),
                    recorded_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
                    content_digest=bytes(32),
                    prev_hash=bytes(32),
                    hash=bytes(range(32)),
                )
            )


def scenario_recorder(
    path: Path = STORY, stream: str = STREAM, *, stop_after: str | None = None
) -> Recorder:
    """The scenario's command steps (rejections expected by the file are skipped), up to the
    first `stop_after` command if given."""
    scenario = load(path)
    first = next((s.on for s in scenario.steps if s.on), date(2018, 1, 1))
    recorder = Recorder(stream)
    recorder.command("open_process", open_payload(scenario.process, first))
    for step in scenario.steps:
        if step.command and step.expect_rejected is None:
            assert step.on is not None and step.actor is not None
            recorder.command(step.command, step.payload())
            if step.command == stop_after:
                break
    return recorder


def story_events() -> list[RecordedEvent]:
    return scenario_recorder().events
