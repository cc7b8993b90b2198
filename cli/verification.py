"""The `verify` result as JSON for scripts."""

from __future__ import annotations

import dataclasses
from typing import Any

from store.model import VerificationReport


def verification_json(report: VerificationReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "streams_checked": report.streams_checked,
        "events_checked": report.events_checked,
        "breaks": [dataclasses.asdict(b) for b in report.breaks],
    }
