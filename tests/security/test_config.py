"""Wiring from the environment: worker/CLI settings, the dev server flag, the CLI commands."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.common import HeaderCodecBehavior
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.devserver import DevServer, ui_codec_flags
from cli.main import main
from security.actor_binding import ActorBinding
from security.actor_token import verify
from security.codec import AesGcmCodec, header_codec_behavior
from security.keys import KeyConfigError
from tests.security.conftest import ring, ring_text
from workers.config import TemporalSettings

SECURITY_VARS = [
    "ACCORD_CODEC_KEYS",
    "ACCORD_CODEC_KEYS_FILE",
    "ACCORD_ACTOR_KEYS",
    "ACCORD_ACTOR_KEYS_FILE",
    "ACCORD_ACTOR_TOKEN",
    "ACCORD_REQUIRE_ACTOR_TOKEN",
    "ACCORD_CODEC_SERVER_TOKEN",
    "ACCORD_CODEC_SERVER_URL",
    "ACCORD_CODEC_SERVER_PORT",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECURITY_VARS:
        monkeypatch.delenv(name, raising=False)


def test_nothing_configured_means_plain_pydantic_and_no_interceptor() -> None:
    settings = TemporalSettings.from_env()
    assert settings.data_converter() is pydantic_data_converter
    assert settings.interceptors() == []
    assert ui_codec_flags() == []


def test_codec_and_binding_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    codec_keys, actor_keys = ring("c2", "c1"), ring("a1")
    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(codec_keys))
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", ring_text(actor_keys))
    monkeypatch.setenv("ACCORD_REQUIRE_ACTOR_TOKEN", "1")
    monkeypatch.setenv("ACCORD_ACTOR_TOKEN", "tok")
    settings = TemporalSettings.from_env()
    assert isinstance(settings.data_converter().payload_codec, AesGcmCodec)
    assert settings.data_converter().failure_converter_class.__name__.endswith(
        "WithEncodedAttributes"
    )
    [binding] = settings.interceptors()
    assert isinstance(binding, ActorBinding) and binding.required and binding.token == "tok"
    assert "c2" in repr(settings) and ring_text(codec_keys).split(":")[1] not in repr(settings)
    assert ui_codec_flags() == ["--ui-codec-endpoint", "http://127.0.0.1:8888"]
    assert header_codec_behavior(settings.codec_keys) == HeaderCodecBehavior.CODEC


def test_bad_or_missing_keys_fail_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_REQUIRE_ACTOR_TOKEN", "1")
    with pytest.raises(KeyConfigError, match="ACCORD_ACTOR_KEYS"):
        TemporalSettings.from_env()
    monkeypatch.delenv("ACCORD_REQUIRE_ACTOR_TOKEN")
    monkeypatch.setenv("ACCORD_CODEC_KEYS", "k1:AAAA")
    with pytest.raises(KeyConfigError, match="32 bytes"):
        TemporalSettings.from_env()


def test_cli_actor_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = ring("a1")
    assert main(["actor-token", "--actor", "mfa:head"]) == 2  # no keys
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", ring_text(keys))
    capsys.readouterr()
    assert main(["actor-token", "--actor", "partner:chair"]) == 2  # no such role
    assert main(["actor-token", "--actor", "mfa:head:Jeyhun Bayramov", "--ttl-minutes", "5"]) == 0
    token = capsys.readouterr().out.strip()
    claims = verify(token, keys, datetime.now(UTC))
    assert claims.identity() == ("mfa", "head", "Jeyhun Bayramov")


def test_cli_codec_server_refuses_to_start_unconfigured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["codec-server", "--port", "0"]) == 2
    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(ring("k1")))
    assert main(["codec-server", "--port", "0"]) == 2  # no token
    assert "ACCORD_CODEC_SERVER_TOKEN" in capsys.readouterr().err


def test_cli_codec_server_serves_until_sigterm() -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ACCORD_CODEC_KEYS": ring_text(ring("k1")),
        "ACCORD_CODEC_SERVER_TOKEN": "tok",
    }
    accord = str(Path(sys.executable).parent / "accord")
    proc = subprocess.Popen(
        [accord, "codec-server", "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/encode",
            data=b'{"payloads": []}',
            headers={"Authorization": "Bearer tok"},
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "codec server did not start"
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        assert proc.stderr is not None
        proc.stderr.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dev_server_starts_with_the_ui_codec_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(ring("k1")))
    server = DevServer(data_dir=tmp_path, port=_free_port(), ui_port=_free_port())
    assert server.start(timeout=60)
    pid = int((tmp_path / "temporal.pid").read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        flag = cmdline.index(b"--ui-codec-endpoint")
        assert cmdline[flag + 1] == b"http://127.0.0.1:8888"
    finally:
        # Our own child: stop and reap it here (DevServer.stop polls a pid that, unreaped
        # in this process, would linger as a zombie until its timeout).
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.1)
        (tmp_path / "temporal.pid").unlink(missing_ok=True)
