"""Wiring from the environment: worker/CLI settings, the dev server flag, the CLI commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import TLSConfig
from temporalio.common import HeaderCodecBehavior
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.devserver import DevServer, ui_codec_flags
from cli.main import main
from cli.ports import free_port
from security.actor_binding import ActorBinding
from security.actor_token import verify
from security.codec import AesGcmCodec, header_codec_behavior
from security.keys import KeyConfigError, parse_keyring
from tests.security.conftest import ring, ring_text
from workers.config import TemporalSettings

SECURITY_VARS = [
    "ACCORD_CODEC_KEYS",
    "ACCORD_CODEC_KEYS_FILE",
    "ACCORD_ACTOR_KEYS",
    "ACCORD_ACTOR_KEYS_FILE",
    "ACCORD_ACTOR_TOKEN",
    "ACCORD_REQUIRE_ACTOR_TOKEN",
    "ACCORD_TOKEN_MAX_LIFETIME",
    "ACCORD_CODEC_SERVER_TOKEN",
    "ACCORD_CODEC_SERVER_URL",
    "ACCORD_CODEC_SERVER_PORT",
    "TEMPORAL_ADDRESS",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SECURITY_VARS:
        monkeypatch.delenv(name, raising=False)
    # The local key ring of these tests, never the project's `.data/keys/`.
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path / "data"))


def test_nothing_configured_means_plain_pydantic_and_the_local_key_ring(tmp_path: Path) -> None:
    settings = TemporalSettings.from_env()
    assert settings.data_converter() is pydantic_data_converter
    assert ui_codec_flags() == []
    # Identity is on with no set-up: a ring created under the data directory, checked by
    # any worker built on this client and used to mint a token per command.
    local = tmp_path / "data" / "keys" / "actor.keys"
    assert local.stat().st_mode & 0o777 == 0o600
    [binding] = settings.interceptors()
    assert isinstance(binding, ActorBinding) and binding.keys == settings.actor_keys
    assert settings.actor_keys is not None and settings.actor_keys.current_id.startswith("local-")
    assert TemporalSettings.from_env().actor_keys == settings.actor_keys  # the same ring
    assert settings.token_max_lifetime == timedelta(hours=1)


def test_with_a_cluster_configured_there_is_no_local_ring(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    settings = TemporalSettings.from_env()
    assert settings.actor_keys is None  # a key made up here would match no worker
    assert not (tmp_path / "data").exists()


def test_the_opt_out_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("0", "false", "no", ""):
        monkeypatch.setenv("ACCORD_REQUIRE_ACTOR_TOKEN", value)
        with pytest.raises(KeyConfigError, match="always required"):
            TemporalSettings.from_env()
    monkeypatch.setenv("ACCORD_REQUIRE_ACTOR_TOKEN", "1")  # harmless: what happens anyway
    assert TemporalSettings.from_env().actor_keys is not None


def test_codec_and_binding_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    codec_keys, actor_keys = ring("c2", "c1"), ring("a1")
    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(codec_keys))
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", ring_text(actor_keys))
    monkeypatch.setenv("ACCORD_ACTOR_TOKEN", "tok")
    monkeypatch.setenv("ACCORD_TOKEN_MAX_LIFETIME", "PT10M")
    settings = TemporalSettings.from_env()
    assert isinstance(settings.data_converter().payload_codec, AesGcmCodec)
    assert settings.data_converter().failure_converter_class.__name__.endswith(
        "WithEncodedAttributes"
    )
    [binding] = settings.interceptors()
    assert isinstance(binding, ActorBinding) and binding.token == "tok"
    assert binding.keys == actor_keys and binding.max_lifetime == timedelta(minutes=10)
    assert "c2" in repr(settings) and ring_text(codec_keys).split(":")[1] not in repr(settings)
    assert ui_codec_flags() == ["--ui-codec-endpoint", "http://127.0.0.1:8888"]
    assert header_codec_behavior(settings.codec_keys) == HeaderCodecBehavior.CODEC


def test_bad_keys_fail_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", "k1:AAAA")
    with pytest.raises(KeyConfigError, match="ACCORD_ACTOR_KEYS"):
        TemporalSettings.from_env()
    monkeypatch.delenv("ACCORD_ACTOR_KEYS")
    monkeypatch.setenv("ACCORD_TOKEN_MAX_LIFETIME", "P100Y")
    with pytest.raises(KeyConfigError, match="ACCORD_TOKEN_MAX_LIFETIME"):
        TemporalSettings.from_env()
    monkeypatch.delenv("ACCORD_TOKEN_MAX_LIFETIME")
    monkeypatch.setenv("ACCORD_CODEC_KEYS", "k1:AAAA")
    with pytest.raises(KeyConfigError, match="32 bytes"):
        TemporalSettings.from_env()


def test_cli_actor_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = ring("a1")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")  # no local ring
    assert main(["actor-token", "--actor", "mfa:head", "--process", "az-icmp-1"]) == 2
    assert "ACCORD_ACTOR_KEYS" in capsys.readouterr().err
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", ring_text(keys))
    assert main(["actor-token", "--actor", "partner:chair", "--process", "az-icmp-1"]) == 2
    assert main(["actor-token", "--actor", "mfa:head:Jeyhun Bayramov", "--process", "coop-az-1",
                 "--ttl", "PT5M"]) == 0  # fmt: skip
    token = capsys.readouterr().out.strip()
    now = datetime.now(UTC)
    claims = verify(token, keys, now, process="az-1")
    assert claims.identity() == ("mfa", "head", "Jeyhun Bayramov")
    assert claims.exp - claims.iat == 300
    # The default is 15 minutes, bound to the process given.
    assert main(["actor-token", "--actor", "mfa:head", "--process", "az-1", "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["process"] == "az-1" and issued["expires_in_seconds"] == 900
    assert verify(issued["token"], keys, now, process="az-1").exp > now.timestamp()


def test_cli_actor_token_any_process_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = ring("a1")
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", ring_text(keys))
    with pytest.raises(SystemExit) as usage:  # neither --process nor --any-process
        main(["actor-token", "--actor", "partner:director_general"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit):  # both
        main(["actor-token", "--actor", "mfa:head", "--process", "az-1", "--any-process"])
    capsys.readouterr()
    assert main(["actor-token", "--actor", "partner:director_general", "--any-process"]) == 0
    token = capsys.readouterr().out.strip()
    claims = verify(token, keys, datetime.now(UTC), process="any-other-process")
    assert claims.process == "*"


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--ttl", "P36500D"], "--ttl: must be at most the maximum token lifetime, 3600 s"),
        (["--ttl", "PT61M"], "--ttl: must be at most the maximum token lifetime, 3600 s"),
        (["--ttl", "soon"], "--ttl: expected an ISO 8601 duration"),
        (["--ttl", "0"], "--ttl: must be positive"),
        (["--process", "Not A Process!"], "--process: expected a process id"),
    ],
)
def test_cli_actor_token_refuses_bad_flags(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    problem: str,
) -> None:
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", ring_text(ring("a1")))
    base = ["actor-token", "--actor", "mfa:head"]
    process = [] if "--process" in argv else ["--process", "az-1"]
    assert main([*base, *process, *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and problem in captured.err
    assert argv[1] not in captured.err  # the rejected value is not echoed
    assert "Traceback" not in captured.err


def test_cli_actor_token_cap_follows_the_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACCORD_ACTOR_KEYS", ring_text(ring("a1")))
    monkeypatch.setenv("ACCORD_TOKEN_MAX_LIFETIME", "PT10M")
    argv = ["actor-token", "--actor", "mfa:head", "--process", "az-1"]
    assert main([*argv, "--ttl", "PT11M"]) == 2
    assert "600 s" in capsys.readouterr().err
    assert main([*argv, "--json"]) == 0  # the default (15 minutes) shrinks to the cap
    assert json.loads(capsys.readouterr().out)["expires_in_seconds"] == 600


def test_cli_reports_key_problems_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACCORD_REQUIRE_ACTOR_TOKEN", "0")
    assert main(["status", "az-1"]) == 2
    err = capsys.readouterr().err
    assert "always required" in err and "Traceback" not in err


def test_cli_codec_server_refuses_to_start_unconfigured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["codec-server", "--port", "0"]) == 2
    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(ring("k1")))
    assert main(["codec-server", "--port", "0"]) == 2  # no token
    assert "ACCORD_CODEC_SERVER_TOKEN" in capsys.readouterr().err


def test_cli_codec_server_serves_until_sigterm() -> None:
    port = free_port()
    env = {
        **os.environ,
        "ACCORD_CODEC_KEYS": ring_text(ring("k1")),
        "ACCORD_CODEC_SERVER_TOKEN": "tok-of-sixteen-chars",
    }
    accord = str(Path(sys.executable).parent / "accord")
    proc = subprocess.Popen(
        [accord, "codec-server", "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/encode",
            data=b'{"payloads": []}',
            headers={"Authorization": "Bearer tok-of-sixteen-chars"},
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


@pytest.mark.temporal  # starts a dev server itself
def test_dev_server_starts_with_the_ui_codec_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(ring("k1")))
    server = DevServer(data_dir=tmp_path, port=free_port(), ui_port=free_port())
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


async def test_the_embedded_default_needs_no_key_setup(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`make run`'s path with no actor keys anywhere: the CLI creates the local ring, its
    in-process worker requires tokens from it, every command carries one, and the ring is
    there afterwards for `accord actor-token` and any later command."""
    import asyncio

    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in SECURITY_VARS}
    env.update(
        DATABASE_URL=database_url,
        ACCORD_DATA_DIR=str(data),
        ACCORD_TEMPORAL_PORT=str(free_port()),
        ACCORD_TEMPORAL_UI_PORT=str(free_port()),
    )
    accord = str(Path(sys.executable).parent / "accord")
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "suspension-resumed.yaml"
    proc = await asyncio.create_subprocess_exec(
        accord, "scenario", "run", str(scenario), "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode == 0, err.decode()[-2000:]
    run = json.loads(out)
    assert run["verify"]["ok"] is True and all(s["ok"] for s in run["steps"])
    # Its refusals are the scenario's own (domain rules), never a missing token.
    assert all("actor token" not in (s.get("message") or "") for s in run["steps"])
    ring_file = data / "keys" / "actor.keys"
    assert ring_file.stat().st_mode & 0o777 == 0o600
    assert (data / "keys").stat().st_mode & 0o777 == 0o700
    # The same ring serves `accord actor-token` on this machine, with no variable set.
    for name in SECURITY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCORD_DATA_DIR", str(data))
    process = run["process_id"]
    capsys.readouterr()
    assert main(["actor-token", "--actor", "national_body:chair", "--process", process]) == 0
    token = capsys.readouterr().out.strip()
    local = parse_keyring(ring_file.read_text(), source="test")
    assert verify(token, local, datetime.now(UTC), process=process).role == "chair"


def test_client_settings_come_from_temporals_environment_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`temporalio.envconfig`: a profile file and the standard TEMPORAL_* variables."""
    config = tmp_path / "temporal.toml"
    config.write_text(
        '[profile.prod]\naddress = "temporal.example:7233"\nnamespace = "accord-prod"\n'
        '[profile.prod.tls]\nserver_name = "temporal.example"\n'
    )
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    settings = TemporalSettings.from_env()
    assert (settings.address, settings.namespace) == ("temporal.example:7233", "accord-prod")
    tls = settings.tls()
    assert isinstance(tls, TLSConfig) and tls.domain == "temporal.example"
    # A standard variable overrides the file; TEMPORAL_TLS=false turns TLS off.
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "other")
    monkeypatch.setenv("TEMPORAL_TLS", "false")
    settings = TemporalSettings.from_env()
    assert settings.namespace == "other" and settings.tls() is False


def test_a_malformed_client_configuration_is_a_set_up_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text("[profile.default\naddress = ")
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
    with pytest.raises(KeyConfigError, match="Temporal client configuration"):
        TemporalSettings.from_env()
