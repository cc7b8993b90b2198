"""Guards shared by the rules: a broken rule is `guard_failed`, a value naming an agency or
party the process does not have is `invalid_input`."""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import DomainError
from domain.parties import ProcessConfig
from domain.state import ProcessState


def guard(ok: bool, command: str, rule: str, field: str | None = None) -> None:
    if not ok:
        raise DomainError("guard_failed", f"{command}: {rule}", field)


def known(
    config: ProcessConfig,
    keys: Iterable[str],
    command: str,
    field: str,
    *,
    parties: tuple[str, ...] = (),
) -> None:
    """Values that name agencies (or parties) must exist in this process."""
    valid = set(config.agency_keys) | set(parties)
    unknown = [k for k in keys if k not in valid]
    if unknown:
        raise DomainError(
            "invalid_input",
            f"{command}: field '{field}': unknown {', '.join(unknown)}; "
            f"known: {', '.join(sorted(valid))}",
            field,
        )


def latest(state: ProcessState, command: str, version: int) -> None:
    latest = state.report.version
    guard(
        version == latest,
        command,
        f"report_version {version} is not the latest report version ({latest})",
        "report_version",
    )
