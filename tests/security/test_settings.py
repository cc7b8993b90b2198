"""The `ACCORD_*` settings models: each variable typed, documented, refused in one line.

No Temporal, no database: the models (security/settings.py, workers/settings.py), the
documents that list their variables, and the CLI's one-line refusals.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli.main import main
from security.actor_token import actor_keys_for_host, actor_keys_from_env
from security.codec import codec_keys_from_env
from security.keys import KeyConfigError
from security.settings import (
    AccordSettings,
    ActorTokenSettings,
    CodecServerSettings,
    CodecSettings,
    DataDirSettings,
)
from tests.security.conftest import ring, ring_text
from workers import config
from workers.settings import (
    ALL_SETTINGS,
    READ_ELSEWHERE,
    ClientSettings,
    FeedServerSettings,
    MetricsSettings,
    variables,
)

ROOT = Path(__file__).resolve().parents[2]
# Fields README.md does not name yet (README is edited by others; add them there, then
# remove them here: the test below fails while this list is out of date).


def named_in(text: str) -> set[str]:
    """The ACCORD_ variables a document names; `ACCORD_X(_FILE)` names both."""
    names = set()
    for name, file_suffix in re.findall(r"(ACCORD_[A-Z0-9_]*[A-Z0-9])(\(_FILE\))?", text):
        names.add(name)
        if file_suffix:
            names.add(f"{name}_FILE")
    return names


def all_subclasses(cls: type[AccordSettings]) -> set[type[AccordSettings]]:
    direct = set(cls.__subclasses__())
    return direct.union(*(all_subclasses(sub) for sub in direct))


# -- every variable, once, documented ----------------------------------------------------------


def test_every_model_is_listed_and_every_variable_has_one_field_and_a_description() -> None:
    assert all_subclasses(AccordSettings) == set(ALL_SETTINGS)
    fields = [model.variable(name) for model in ALL_SETTINGS for name in model.model_fields]
    assert len(fields) == len(set(fields)), "a variable in two models"
    assert all(description for description in variables().values())
    assert not set(fields) & set(READ_ELSEWHERE)


def test_every_variable_is_in_the_table_of_workers_config() -> None:
    assert config.__doc__ is not None
    table = "\n".join(line for line in config.__doc__.splitlines() if line.startswith("| `"))
    assert set(variables()) - named_in(table) == set()


def test_every_variable_is_in_the_readme_and_the_readme_names_no_other() -> None:
    readme = named_in((ROOT / "README.md").read_text())
    assert set(variables()) - readme == set()
    assert readme - set(variables()) - set(READ_ELSEWHERE) == set()


# -- loading ------------------------------------------------------------------------------------


def test_defaults_and_values_from_a_given_mapping_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_TASK_QUEUE", "from-os-environ")
    assert ClientSettings.load().task_queue == "from-os-environ"
    assert ClientSettings.load({}).task_queue == "accord"
    assert ClientSettings.load({"ACCORD_TASK_QUEUE": "q"}).task_queue == "q"
    # An empty variable is unset, as it was with `os.environ.get(...) or default`; except
    # for the client's, which were read with `os.environ.get(name, default)`.
    assert CodecServerSettings.load({"ACCORD_CODEC_SERVER_PORT": ""}).codec_server_port == 8888
    assert ClientSettings.load({"ACCORD_TASK_QUEUE": ""}).task_queue == ""
    metrics = MetricsSettings.load({"ACCORD_METRICS_BIND": " 127.0.0.1:9464 "})
    assert metrics.metrics_bind == "127.0.0.1:9464" and metrics.feed_lag_interval == 15.0
    assert MetricsSettings.load({"ACCORD_METRICS_BIND": "  "}).metrics_bind is None
    assert ActorTokenSettings.load({"ACCORD_TOKEN_MAX_LIFETIME": "900"}).token_max_lifetime.seconds
    assert FeedServerSettings.load({}).feed_server_port == 8720
    assert CodecServerSettings.load({}).codec_server_port == 8888
    assert DataDirSettings.load({"ACCORD_DATA_DIR": "/srv/accord"}).data_dir == Path("/srv/accord")


def test_secrets_are_not_printed() -> None:
    settings = CodecServerSettings.load({"ACCORD_CODEC_SERVER_TOKEN": "a-secret-of-16-chars"})
    assert "a-secret" not in repr(settings) and "a-secret" not in str(settings)


@pytest.mark.parametrize(
    ("model", "variable", "value", "rule"),
    [
        (MetricsSettings, "ACCORD_METRICS_BIND", "notaport", "expected an IP address and port"),
        (MetricsSettings, "ACCORD_METRICS_BIND", "127.0.0.1:99999", "expected an IP address"),
        (MetricsSettings, "ACCORD_FEED_LAG_INTERVAL", "-1", "seconds between 0.1 and 3600"),
        (MetricsSettings, "ACCORD_FEED_LAG_INTERVAL", "often", "seconds between 0.1 and 3600"),
        (MetricsSettings, "ACCORD_FEED_LAG_INTERVAL", "nan", "seconds between 0.1 and 3600"),
        (ActorTokenSettings, "ACCORD_TOKEN_MAX_LIFETIME", "xyz", "expected an ISO 8601 duration"),
        (ActorTokenSettings, "ACCORD_TOKEN_MAX_LIFETIME", "P2D", "between 1 minute and 1 day"),
        (ClientSettings, "ACCORD_REQUIRE_ACTOR_TOKEN", "0", "always required"),
        (CodecSettings, "ACCORD_CODEC_ACCEPT_PLAINTEXT", "maybe", "1, true or yes"),
        (FeedServerSettings, "ACCORD_FEED_SERVER_PORT", "eighty", "valid integer"),
        (CodecServerSettings, "ACCORD_CODEC_SERVER_PORT", "70000", "less than or equal to 65535"),
    ],
)
def test_a_malformed_value_is_one_line_naming_the_variable_and_the_rule(
    model: type[AccordSettings], variable: str, value: str, rule: str
) -> None:
    with pytest.raises(KeyConfigError) as refused:
        model.load({variable: value})
    message = str(refused.value)
    assert message.startswith(f"{variable}: ") and rule in message, message
    assert "\n" not in message and value not in message.removeprefix(variable)


# -- key rings and their files: the precedence of before ------------------------------------


def test_a_ring_inline_or_in_a_file_but_not_both(tmp_path: Path) -> None:
    keys = ring("k1")
    keyfile = tmp_path / "codec.keys"
    keyfile.write_text(ring_text(keys))
    assert codec_keys_from_env({"ACCORD_CODEC_KEYS": ring_text(keys)}) == keys
    assert codec_keys_from_env({"ACCORD_CODEC_KEYS_FILE": str(keyfile)}) == keys
    assert codec_keys_from_env({"ACCORD_CODEC_KEYS": "", "ACCORD_CODEC_KEYS_FILE": ""}) is None
    with pytest.raises(KeyConfigError, match=r"^set ACCORD_CODEC_KEYS or ACCORD_CODEC_KEYS_FILE"):
        codec_keys_from_env(
            {"ACCORD_CODEC_KEYS": ring_text(keys), "ACCORD_CODEC_KEYS_FILE": str(keyfile)}
        )
    with pytest.raises(KeyConfigError, match=r"^ACCORD_ACTOR_KEYS_FILE: cannot read"):
        actor_keys_from_env({"ACCORD_ACTOR_KEYS_FILE": str(tmp_path / "missing")})
    source = actor_keys_for_host({"ACCORD_ACTOR_KEYS_FILE": str(keyfile)}).source
    assert source == "ACCORD_ACTOR_KEYS_FILE"


# -- the CLI: one line, exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        ("feed-server", "ACCORD_FEED_SERVER_PORT", "eighty"),
        ("codec-server", "ACCORD_CODEC_SERVER_PORT", "0"),
    ],
)
def test_the_services_refuse_a_bad_port_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv("ACCORD_FEED_TOKEN", "a-feed-token-of-16-chars")
    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(ring("k1")))
    monkeypatch.setenv("ACCORD_CODEC_SERVER_TOKEN", "a-codec-token-of-16-chars")
    monkeypatch.setenv(variable, value)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"accord: {variable}: ") and len(err.splitlines()) == 1, err


def test_names_are_read_only_as_written_in_upper_case() -> None:
    from security.settings import CodecSettings

    assert CodecSettings.load({"ACCORD_CODEC_ACCEPT_PLAINTEXT": "1"}).codec_accept_plaintext
    assert not CodecSettings.load({"accord_codec_accept_plaintext": "1"}).codec_accept_plaintext
    assert not CodecSettings.load({"Accord_Codec_Accept_Plaintext": "1"}).codec_accept_plaintext


@pytest.mark.parametrize("word", ["on", "y", "t", "enable", "maybe"])
def test_accepting_plaintext_takes_only_the_plain_words(word: str) -> None:
    from security.settings import CodecSettings, KeyConfigError

    with pytest.raises(KeyConfigError, match=r"^ACCORD_CODEC_ACCEPT_PLAINTEXT: 1, true or yes"):
        CodecSettings.load({"ACCORD_CODEC_ACCEPT_PLAINTEXT": word})
