"""The running cluster through `temporal operator`: its health, the namespace and Accord's
search attributes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

from cli.cluster.settings import (
    HEALTH_CHECK,
    NAMESPACE,
    NAMESPACE_RETENTION,
    ClusterError,
    search_attributes,
)
from cli.cluster.state import ClusterBase


class TemporalOperator(ClusterBase):
    """The `temporal` CLI pointed at this cluster's frontend."""

    def temporal(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        from cli.devserver import temporal_binary

        return subprocess.run(
            [temporal_binary(), *args, "--address", self.state.address],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
        )

    def _retry(self, step: str, timeout: float, *args: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                done = self.temporal(*args)
                if done.returncode == 0:
                    return done.stdout
                error = done.stderr.strip()
            except subprocess.TimeoutExpired:
                error = "timed out"
            if time.monotonic() > deadline:
                raise ClusterError(f"{step}: {error[-1000:]} (logs in {self.root / 'logs'})")
            time.sleep(1.0)

    def healthy(self) -> bool:
        try:
            done = self.temporal(*HEALTH_CHECK, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0 and "SERVING" in done.stdout

    def setup_namespace(self, timeout: float = 180.0) -> list[str]:
        """The namespace and Accord's search attributes, if missing (setup-namespace.sh)."""
        done: list[str] = []
        describe = self.temporal("operator", "namespace", "describe", "--namespace", NAMESPACE)
        if describe.returncode != 0:
            self._retry(
                f"create namespace {NAMESPACE}",
                timeout,
                "operator",
                "namespace",
                "create",
                "--namespace",
                NAMESPACE,
                "--retention",
                NAMESPACE_RETENTION,
                "--description",
                "Accord cooperation processes",
            )
            done.append(f"created namespace {NAMESPACE}")
        listed = self._retry(
            "list search attributes",
            timeout,
            "operator",
            "search-attribute",
            "list",
            "--namespace",
            NAMESPACE,
            "--output",
            "json",
        )
        existing = _attribute_names(json.loads(listed or "{}"))
        for pair in search_attributes():
            name, _, kind = pair.partition("=")
            if name in existing:
                continue
            self._retry(
                f"create search attribute {name}",
                timeout,
                "operator",
                "search-attribute",
                "create",
                "--namespace",
                NAMESPACE,
                "--name",
                name,
                "--type",
                kind,
            )
            done.append(f"created search attribute {name}")
        return done


def _attribute_names(listed: Any) -> set[str]:
    """Names in `temporal operator search-attribute list -o json`: a mapping of
    {"customAttributes": {name: type}, "systemAttributes": ...}, or a list of rows."""
    if isinstance(listed, dict):
        names: set[str] = set()
        for value in listed.values():
            names |= set(value) if isinstance(value, dict) else set()
        return names
    return {str(row.get("name")) for row in listed if isinstance(row, dict)}
