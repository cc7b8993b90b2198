"""Worker and client configuration from the environment.

| variable | meaning | default |
|---|---|---|
| `TEMPORAL_ADDRESS` | host:port of the Temporal frontend | `localhost:7233` |
| `TEMPORAL_NAMESPACE` | namespace | `default` |
| `ACCORD_TASK_QUEUE` | task queue of the worker | `accord` |
| `TEMPORAL_TLS_CLIENT_CERT_PATH`, `..._KEY_PATH` | client certificate and key (mTLS) | unset |
| `TEMPORAL_TLS_SERVER_CA_CERT_PATH` | server CA file (TLS without client cert also works) | unset |
| `TEMPORAL_TLS_SERVER_NAME` | server name override for TLS | unset |
| `TEMPORAL_TLS` | `true`/`false`: TLS on or off whatever else is set | unset |
| `TEMPORAL_API_KEY` | API key (Temporal Cloud); implies TLS | unset |
| `TEMPORAL_PROFILE`, `TEMPORAL_CONFIG_FILE` | a profile of Temporal's config file (TOML) | SDK's |
| `DATABASE_URL` | the event store's PostgreSQL | embedded server |
| `ACCORD_LOG_LEVEL` | log level (read in workers/main.py) | `INFO` |
| `ACCORD_CODEC_KEYS`, `ACCORD_CODEC_KEYS_FILE` | payload keys `kid:base64,...`, or a file | unset |
| `ACCORD_CODEC_ACCEPT_PLAINTEXT` | `1`: accept unencrypted payloads (old histories only) | `0` |
| `ACCORD_ACTOR_KEYS`, `ACCORD_ACTOR_KEYS_FILE` | actor token keys, or a file | the local ring |
| `ACCORD_TOKEN_MAX_LIFETIME` | longest token lifetime (exp - iat) accepted and minted | `PT1H` |
| `ACCORD_ACTOR_TOKEN` | a fixed actor token, sent instead of minting one | unset |
| `ACCORD_REQUIRE_ACTOR_TOKEN` | removed: any value but `1` is refused at start | unset |
| `ACCORD_DATA_DIR` | this machine's data (the local actor key ring, embedded servers) | `.data` |
| `ACCORD_METRICS_BIND` | host:port of the Prometheus endpoint (workers/metrics.py) | unset: none |
| `ACCORD_FEED_LAG_INTERVAL` | seconds between feed-lag samples | 15 |
| `ACCORD_CODEC_SERVER_TOKEN`, `ACCORD_CODEC_SERVER_TOKEN_FILE` | codec server secret | unset |
| `ACCORD_CODEC_SERVER_PORT` | the codec server's port | 8888 |
| `ACCORD_CODEC_SERVER_URL` | the codec server, for the dev server's UI | `127.0.0.1:<port>` |
| `ACCORD_FEED_TOKEN`, `ACCORD_FEED_TOKEN_FILE` | the feed server's token, or a file | unset |
| `ACCORD_FEED_SERVER_PORT` | the feed server's port | 8720 |

The `ACCORD_*` variables are typed settings models (pydantic-settings), each field with its
rule: `security/settings.py` and `workers/settings.py`, which lists them all. A malformed
value is refused at start in one line naming the variable (`KeyConfigError`, exit 2).

Actor tokens are always required: a worker checks every command's token and refuses to
start without actor keys. The keys are `ACCORD_ACTOR_KEYS(_FILE)`, or, when no cluster
is configured (`TEMPORAL_ADDRESS` unset), the local ring `.data/keys/actor.keys` created
on first use and shared by the worker and the CLI on this machine. A client holding keys
mints a short token per command. `ACCORD_REQUIRE_ACTOR_TOKEN` is gone: `0` is refused
at start (see SECURITY.md for why there is no opt-out).

The `TEMPORAL_*` settings are Temporal's own environment configuration
(`temporalio.envconfig`: the same variables and profile file as the `temporal` CLI and
every SDK); the earlier names `TEMPORAL_TLS_CERT`, `TEMPORAL_TLS_KEY` and `TEMPORAL_TLS_CA`
are still read when the standard ones are unset.

Codec and actor binding are in `security/`; both apply to every client built here, and a
worker built on such a client inherits them (same data converter, same interceptors).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import structlog
from temporalio.client import Client, Interceptor, TLSConfig
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime

from security.actor_binding import ActorBinding
from security.actor_token import DEFAULT_MAX_LIFETIME, actor_keys_for_host, max_lifetime_from_env
from security.codec import codec_keys_from_env, data_converter, header_codec_behavior
from security.keys import KeyConfigError, KeyRing
from security.settings import CodecSettings
from workers.settings import ClientSettings


def _path(source: Path | str | bytes | None) -> Path | None:
    """A TLS file named by the client configuration (inline data is not supported here)."""
    if isinstance(source, bytes):
        raise KeyConfigError("Temporal client configuration: give TLS files as paths, not data")
    return Path(source) if source else None


log = structlog.get_logger("accord.config")


@dataclass(frozen=True)
class TemporalSettings:
    address: str
    namespace: str
    task_queue: str
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls_server_name: str | None = None
    api_key: str | None = None
    tls_disabled: bool = False
    codec_keys: KeyRing | None = None
    actor_token: str | None = None
    actor_keys: KeyRing | None = None
    token_max_lifetime: timedelta = DEFAULT_MAX_LIFETIME
    # None: ACCORD_CODEC_ACCEPT_PLAINTEXT when the converter is built (settings made in code)
    codec_accept_plaintext: bool | None = None

    @classmethod
    def from_env(cls, address: str | None = None) -> TemporalSettings:
        def path(name: str) -> Path | None:
            value = os.environ.get(name)
            return Path(value) if value else None

        # The ACCORD_* settings first, each checked (one line naming the variable).
        client = ClientSettings.load()
        codec = CodecSettings.load()
        actor_keys = actor_keys_for_host()
        if actor_keys.created:
            log.warning("created the local actor key ring", source=actor_keys.source)
        try:
            profile = ClientConfigProfile.load(profile=os.environ.get("TEMPORAL_PROFILE"))
        except Exception as err:  # a malformed profile file: a set-up mistake, one line
            raise KeyConfigError(f"Temporal client configuration: {err}") from None
        tls = profile.tls
        return cls(
            address=address or profile.address or "localhost:7233",
            namespace=profile.namespace or "default",
            task_queue=client.task_queue,
            tls_cert=_path(tls.client_cert if tls else None) or path("TEMPORAL_TLS_CERT"),
            tls_key=_path(tls.client_private_key if tls else None) or path("TEMPORAL_TLS_KEY"),
            tls_ca=_path(tls.server_root_ca_cert if tls else None) or path("TEMPORAL_TLS_CA"),
            tls_server_name=(tls.server_name if tls else None)
            or os.environ.get("TEMPORAL_TLS_SERVER_NAME"),
            tls_disabled=bool(tls and tls.disabled),
            api_key=profile.api_key,
            codec_keys=codec_keys_from_env(),
            codec_accept_plaintext=codec.codec_accept_plaintext,
            actor_token=(client.actor_token.get_secret_value() if client.actor_token else "")
            or None,
            actor_keys=actor_keys.ring,
            token_max_lifetime=max_lifetime_from_env(),
        )

    def tls(self) -> TLSConfig | bool:
        if self.tls_disabled:
            return False
        if self.tls_cert or self.tls_ca or self.tls_server_name:
            return TLSConfig(
                client_cert=self.tls_cert.read_bytes() if self.tls_cert else None,
                client_private_key=self.tls_key.read_bytes() if self.tls_key else None,
                server_root_ca_cert=self.tls_ca.read_bytes() if self.tls_ca else None,
                domain=self.tls_server_name,
            )
        return bool(self.api_key)

    def data_converter(self) -> DataConverter:
        return data_converter(self.codec_keys, accept_plaintext=self.codec_accept_plaintext)

    def interceptors(self) -> list[Interceptor]:
        # Always installed: it mints or attaches the caller's token, and makes any worker
        # built on this client check tokens (or refuse to start without keys).
        return [
            ActorBinding(
                keys=self.actor_keys, token=self.actor_token, max_lifetime=self.token_max_lifetime
            )
        ]

    async def connect(self, runtime: Runtime | None = None) -> Client:
        """The client; with `runtime`, on that runtime (the worker's metrics exporter)."""
        return await Client.connect(
            self.address,
            runtime=runtime,
            namespace=self.namespace,
            data_converter=self.data_converter(),
            interceptors=self.interceptors(),
            header_codec_behavior=header_codec_behavior(self.codec_keys),
            tls=self.tls(),
            api_key=self.api_key,
        )
