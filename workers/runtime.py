"""Temporal's native runtime, set up once per process: its own log lines go through Python's
logging (so through workers/logs.py, to stderr, one JSON shape), never straight to stdout.

Left to its default, the SDK's Rust core prints its warnings to stdout with terminal
colours. Under load it does warn (a slow workflow task, a retried poll), and those lines
then land in the middle of `accord ... --json` output, which scripts parse.
"""

from __future__ import annotations

import logging

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

CORE_LOGGER = "temporalio.core"


def core_logging() -> LoggingConfig:
    """The SDK's default levels (core WARN, other crates ERROR), forwarded to Python."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )


_installed = False


def install_default_runtime() -> None:
    """Make the default runtime (every client built without one) forward its logs, once per
    process (each runtime is a pool of native threads; `main` may be called many times in
    one process, as the tests do), before the first client."""
    global _installed
    if _installed:
        return
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(logging=core_logging())), error_if_already_set=False
    )
    _installed = True
