"""Worker and client configuration from the environment.

| variable | meaning | default |
|---|---|---|
| `TEMPORAL_ADDRESS` | host:port of the Temporal frontend | `localhost:7233` |
| `TEMPORAL_NAMESPACE` | namespace | `default` |
| `ACCORD_TASK_QUEUE` | task queue of the worker | `accord` |
| `TEMPORAL_TLS_CERT`, `TEMPORAL_TLS_KEY` | client certificate and key files (mTLS) | unset |
| `TEMPORAL_TLS_CA` | server CA file (TLS without client cert also works) | unset |
| `TEMPORAL_TLS_SERVER_NAME` | server name override for TLS | unset |
| `TEMPORAL_API_KEY` | API key (Temporal Cloud); implies TLS | unset |
| `DATABASE_URL` | the event store's PostgreSQL | embedded server |
| `ACCORD_LOG_LEVEL` | log level | `INFO` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter

DEFAULT_TASK_QUEUE = "accord"


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

    @classmethod
    def from_env(cls, address: str | None = None) -> TemporalSettings:
        def path(name: str) -> Path | None:
            value = os.environ.get(name)
            return Path(value) if value else None

        return cls(
            address=address or os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"),
            namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
            task_queue=os.environ.get("ACCORD_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            tls_cert=path("TEMPORAL_TLS_CERT"),
            tls_key=path("TEMPORAL_TLS_KEY"),
            tls_ca=path("TEMPORAL_TLS_CA"),
            tls_server_name=os.environ.get("TEMPORAL_TLS_SERVER_NAME"),
            api_key=os.environ.get("TEMPORAL_API_KEY"),
        )

    def tls(self) -> TLSConfig | bool:
        if self.tls_cert or self.tls_ca or self.tls_server_name:
            return TLSConfig(
                client_cert=self.tls_cert.read_bytes() if self.tls_cert else None,
                client_private_key=self.tls_key.read_bytes() if self.tls_key else None,
                server_root_ca_cert=self.tls_ca.read_bytes() if self.tls_ca else None,
                domain=self.tls_server_name,
            )
        return bool(self.api_key)

    async def connect(self) -> Client:
        return await Client.connect(
            self.address,
            namespace=self.namespace,
            data_converter=pydantic_data_converter,
            tls=self.tls(),
            api_key=self.api_key,
        )
