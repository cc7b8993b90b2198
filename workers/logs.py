"""structlog set-up: JSON lines in production, a readable console when interactive.

The standard library's logging (where temporalio's `workflow.logger` and
`activity.logger` write, with the workflow and activity ids in `extra`) is routed through
the same processors, so every line has one shape.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
import temporalio.activity
import temporalio.workflow
from structlog.typing import EventDict, WrappedLogger


def _temporal_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Lift the ids temporalio puts in `extra`, and Accord's own fields (`extra={"accord":
    {...}}`, as the workflow logs each command), to top-level keys."""
    record = event_dict.get("_record")
    if record is not None:
        fields = getattr(record, "accord", None)
        if isinstance(fields, dict):
            for name, value in fields.items():
                event_dict.setdefault(name, value)
        for key in ("temporal_workflow", "temporal_activity"):
            value = getattr(record, key, None)
            if isinstance(value, dict):
                for name in (
                    "workflow_id",
                    "run_id",
                    "workflow_type",
                    "activity_id",
                    "activity_type",
                    "attempt",
                ):
                    if name in value:
                        event_dict.setdefault(name, value[name])
    return event_dict


def fields_as_fields(on: bool = True) -> None:
    """The SDK's loggers put the workflow and activity ids in `extra` (lifted to top-level
    keys by `configure`), and not also as a dict appended to every message."""
    temporalio.workflow.logger.workflow_info_on_message = not on
    temporalio.activity.logger.activity_info_on_message = not on


def configure(level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog and stdlib logging once; JSON unless stderr is a terminal."""
    fields_as_fields()
    if json is None:
        json = not sys.stderr.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _temporal_context],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _identity(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    return event_dict
