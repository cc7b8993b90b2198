"""The `ACCORD_*` settings of the worker, the client and the CLI's services, and the index
of every settings model.

The models and how they load and fail (one line naming the variable and the rule) are
described in `security/settings.py`, which holds the security ones; this module adds the
rest and lists them all (`ALL_SETTINGS`), so that one place names every variable.
`READ_ELSEWHERE` names the `ACCORD_*` variables that are still read outside these models,
and where, until they move here.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from security.settings import (
    AccordSettings,
    ActorTokenSettings,
    CodecServerSettings,
    CodecSettings,
    DataDirSettings,
    Port,
    rule,
)

DEFAULT_TASK_QUEUE = "accord"
DEFAULT_FEED_LAG_INTERVAL = 15.0
DEFAULT_FEED_SERVER_PORT = 8720


class ClientSettings(AccordSettings):
    """What every client built by workers/config.py sends, and where (the worker's too)."""

    # An empty ACCORD_REQUIRE_ACTOR_TOKEN is refused like any value but `1`: here an empty
    # variable is a value, as it always was for these three.
    model_config = AccordSettings.model_config | SettingsConfigDict(env_ignore_empty=False)

    task_queue: str = Field(DEFAULT_TASK_QUEUE, description="the worker's task queue")
    actor_token: SecretStr | None = Field(
        None,
        description="a fixed actor token, sent with starts and updates instead of minting "
        "one (a host without keys)",
    )
    require_actor_token: str | None = Field(
        None, description="removed: actor tokens are always required; any value but `1` is refused"
    )

    @field_validator("require_actor_token")
    @classmethod
    def _no_opt_out(cls, value: str | None) -> str | None:
        # The opt-out is gone: a leftover development setting must not switch identity
        # off in a deployment, and nothing needs it since every client mints tokens.
        if value is not None and value.strip().lower() not in ("1", "true", "yes"):
            raise rule("actor tokens are always required; unset it (SECURITY.md, actor tokens)")
        return value


def _metrics_bind(value: object) -> object:
    """`host:port` with an IP address (no name to resolve) and a port; blank is unset."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    try:
        ipaddress.ip_address(host.strip("[]"))
        valid = sep == ":" and port.isdigit() and 0 < int(port) < 65536
    except ValueError:
        valid = False
    if not valid:
        raise rule("expected an IP address and port such as 127.0.0.1:9464")
    return text


def _feed_lag_interval(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0.1 <= seconds <= 3600:  # also refuses nan
        raise rule("seconds between 0.1 and 3600")
    return seconds


class MetricsSettings(AccordSettings):
    """The worker's Prometheus endpoint (workers/metrics.py)."""

    metrics_bind: Annotated[str | None, BeforeValidator(_metrics_bind)] = Field(
        None,
        description="host:port of the worker's Prometheus endpoint; unset: no listener",
    )
    feed_lag_interval: Annotated[float, BeforeValidator(_feed_lag_interval)] = Field(
        DEFAULT_FEED_LAG_INTERVAL, description="seconds between two samples of the feed-lag gauges"
    )


class FeedServerSettings(AccordSettings):
    """`accord feed-server` (cli/feed_server.py)."""

    feed_token: SecretStr | None = Field(
        None, description="the feed server's bearer token, at least 16 characters"
    )
    feed_token_file: Path | None = Field(
        None,
        description="a file whose first line is the feed server's token "
        "(read when ACCORD_FEED_TOKEN is unset)",
    )
    feed_server_port: Port = Field(DEFAULT_FEED_SERVER_PORT, description="the feed server's port")


ALL_SETTINGS: tuple[type[AccordSettings], ...] = (
    ClientSettings,
    ActorTokenSettings,
    CodecSettings,
    CodecServerSettings,
    DataDirSettings,
    MetricsSettings,
    FeedServerSettings,
)


def variables() -> dict[str, str]:
    """Every variable of `ALL_SETTINGS` and its description."""
    return {
        model.variable(name): field.description or ""
        for model in ALL_SETTINGS
        for name, field in model.model_fields.items()
    }


# Read with os.environ outside these models, in files being changed by others at the time
# of the move; each should become a field here.
READ_ELSEWHERE: dict[str, str] = {
    "ACCORD_LOG_LEVEL": "workers/main.py, cli/main.py (defaults INFO and WARNING)",
    "ACCORD_MAX_CONCURRENT_ACTIVITIES": "workers/main.py",
    "ACCORD_MAX_CACHED_WORKFLOWS": "workers/main.py",
    "ACCORD_DEBUG": "cli/main.py",
    "ACCORD_TEMPORAL_BIN": "cli/devserver.py",
    "ACCORD_TEMPORAL_PORT": "cli/devserver.py",
    "ACCORD_TEMPORAL_UI_PORT": "cli/devserver.py",
    "ACCORD_PG_PORT": "store/embedded.py",
    "ACCORD_FEED_DATABASE_URL": "store/feed_reader.py",
    "ACCORD_HEADS_KEYS": "cli/verification.py (security.keys.keyring_from_env)",
    "ACCORD_HEADS_KEYS_FILE": "cli/verification.py (security.keys.keyring_from_env)",
    "ACCORD_CLUSTER_ROOT": "cli/cluster/processes.py (marks the cluster's processes)",
    "ACCORD_CLUSTER_TESTS": "tests/cluster (which tests run)",
    "ACCORD_SIZE_EVENTS": "tests/workflows/test_size.py (the size of a test run)",
}
