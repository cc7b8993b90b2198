"""The `ACCORD_*` settings, typed: one pydantic-settings model per concern.

Each field is one variable (`ACCORD_` + the field's name in capitals), with its type, its
default and a description; the model checks every value when it is loaded, at start, and
a malformed one is a `KeyConfigError` of one line naming the variable and the rule (never
the value: several are secrets), which the CLI prints and exits 2 on. An empty variable
counts as unset, as it always has.

The models for the security settings are here; `workers/settings.py` adds the worker's and
the CLI services', and lists every model (`ALL_SETTINGS`). They are here, at the bottom of
the layers that read them (security, then workers, then cli), so that `security/` reads its
settings without importing upwards. The `TEMPORAL_*` variables are not here: they are
Temporal's own (`temporalio.envconfig`, read in workers/config.py).

One model per concern rather than one for all: a command loads only what it uses, so a
malformed variable it never reads (the worker's metrics address, for `accord codec-server`)
stops only the commands that read it, as before. Key rings stay text here: reading the
`*_FILE` and parsing `kid:base64` is `security.keys`' job, with its own one-line errors.

Models are read from `os.environ` or from a given mapping (`load(environ)`): the functions
that take an `environ` (tests, the cluster launcher preparing a child's environment) read
that mapping and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Self

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "ACCORD_"


class KeyConfigError(ValueError):
    """A setting that cannot be used (a key ring, a malformed variable): refused at start
    rather than at first use, in one line (the CLI exits 2). Also `security.keys.KeyConfigError`.
    """


def rule(text: str) -> PydanticCustomError:
    """A validation failure whose message is exactly `text` (no "Value error, " prefix)."""
    return PydanticCustomError("accord_setting", text)


class AccordSettings(BaseSettings):
    """The shared configuration of every `ACCORD_*` model, and how one is loaded."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of `field` (`codec_keys` -> `ACCORD_CODEC_KEYS`)."""
        assert field in cls.model_fields, field
        return f"{PREFIX}{field.upper()}"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in `environ` (default `os.environ`); KeyConfigError, one line, for
        the first malformed variable."""
        source = EnvSettingsSource(cls)
        # Only this mapping (default os.environ), and in it only the names as written,
        # upper case: environment variables are case-sensitive, and `accord_codec_keys` is
        # not ACCORD_CODEC_KEYS (the library would match it, case-insensitively, by default).
        env = os.environ if environ is None else environ
        written = {k: v for k, v in env.items() if k.startswith(PREFIX) and k == k.upper()}
        config = cls.model_config
        source.env_vars = parse_env_vars(
            written, config.get("case_sensitive", False), config.get("env_ignore_empty", False)
        )
        try:
            return cls(_build_sources=((source,), {}))
        except ValidationError as err:
            raise KeyConfigError(cls._one_line(err)) from None

    @classmethod
    def _one_line(cls, err: ValidationError) -> str:
        # `include_input=False`: a value may be a secret and is never repeated.
        first = err.errors(include_url=False, include_input=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        where = cls.variable(field) if field in cls.model_fields else cls.__name__
        return f"{where}: {first['msg']}"


# -- durations (the token lifetime cap, and `accord actor-token --ttl`) ----------------------

_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


def parse_lifetime(text: str, *, source: str) -> timedelta:
    """An ISO 8601 duration (`PT1H`) or a number of seconds, positive. `source` names the
    variable or flag in the error, which never repeats the value."""
    value = text.strip()
    try:
        lifetime = (
            timedelta(seconds=int(value)) if value.isdigit() else _DURATION.validate_python(value)
        )
    except (ValidationError, OverflowError, ValueError):
        raise KeyConfigError(
            f"{source}: expected an ISO 8601 duration (e.g. PT1H) or a number of seconds"
        ) from None
    if lifetime <= timedelta(0):
        raise KeyConfigError(f"{source}: must be positive")
    return lifetime


# Tokens die within the hour by default: there is no revocation list, so a leaked token is
# only bounded by its lifetime; an hour lets a service reuse one for a batch of commands,
# while the CLI mints a new 5-minute one for each command anyway.
DEFAULT_MAX_LIFETIME = timedelta(hours=1)
MIN_MAX_LIFETIME = timedelta(minutes=1)
MAX_MAX_LIFETIME = timedelta(days=1)


def _max_lifetime(value: object) -> object:
    if not isinstance(value, str):
        return value  # the default, or a timedelta given in code
    try:
        # The rule without the source: the model's error names the variable.
        lifetime = parse_lifetime(value, source="")
    except KeyConfigError as err:
        raise rule(str(err).removeprefix(": ")) from None
    if not MIN_MAX_LIFETIME <= lifetime <= MAX_MAX_LIFETIME:
        raise rule("must be between 1 minute and 1 day (tokens cannot be revoked; keep them short)")
    return lifetime


Port = Annotated[int, Field(ge=1, le=65535)]
DEFAULT_CODEC_SERVER_PORT = 8888


# -- the models -------------------------------------------------------------------------------


class CodecSettings(AccordSettings):
    """Payload encryption (security/codec.py)."""

    codec_keys: SecretStr | None = Field(
        None,
        description="AES-256 payload keys `kid:base64,...`, the first encrypts "
        "(or ACCORD_CODEC_KEYS_FILE, not both)",
    )
    codec_keys_file: Path | None = Field(
        None, description="a file holding the payload keys, one `kid:base64` a line"
    )
    codec_accept_plaintext: bool = Field(
        False,
        description="accept unencrypted payloads, only while histories written before "
        "encryption was turned on still replay",
    )

    @field_validator("codec_accept_plaintext", mode="before")
    @classmethod
    def _only_plain_yes(cls, value: object) -> bool:
        # Exactly the words it always took: a loose "on" or "y" must not switch encryption
        # enforcement off, and anything unknown is refused rather than read as either.
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in ("1", "true", "yes"):
            return True
        if word in ("0", "false", "no"):
            return False
        raise rule("1, true or yes to accept unencrypted payloads; 0, false or no to refuse")


class ActorTokenSettings(AccordSettings):
    """Actor tokens (security/actor_token.py, security/actor_binding.py)."""

    actor_keys: SecretStr | None = Field(
        None,
        description="actor-token keys `kid:base64,...`, the first signs, all verify "
        "(or ACCORD_ACTOR_KEYS_FILE, not both); unset without TEMPORAL_ADDRESS: the local ring",
    )
    actor_keys_file: Path | None = Field(
        None, description="a file holding the actor-token keys, one `kid:base64` a line"
    )
    token_max_lifetime: Annotated[timedelta, BeforeValidator(_max_lifetime)] = Field(
        DEFAULT_MAX_LIFETIME,
        description="longest token lifetime (exp - iat) accepted and minted; ISO 8601 or "
        "seconds, 1 minute to 1 day",
    )


class DataDirSettings(AccordSettings):
    """Where this machine keeps its data (the local actor key ring, the embedded servers)."""

    data_dir: Path | None = Field(
        None, description="the project's data directory; unset: `.data` at the project root"
    )


class CodecServerSettings(AccordSettings):
    """The codec server for the Temporal web UI (security/codec_server.py)."""

    codec_server_token: SecretStr | None = Field(
        None, description="the codec server's shared secret, at least 16 characters"
    )
    codec_server_token_file: Path | None = Field(
        None, description="a file whose first line is the codec server's shared secret"
    )
    codec_server_port: Port = Field(
        DEFAULT_CODEC_SERVER_PORT, description="the codec server's port"
    )
    codec_server_url: str | None = Field(
        None,
        description="where the dev server's UI finds the codec server; unset: "
        "http://127.0.0.1:<ACCORD_CODEC_SERVER_PORT>",
    )
