"""Key rings: key id -> secret, newest first, read from the environment or a file.

Format (the same in a variable and in a file): entries `kid:base64-secret`, separated by
commas or newlines; blank lines and lines starting with `#` are ignored. The first entry
is the current key (it signs or encrypts); every entry is accepted for verifying or
decrypting, which is how keys rotate: prepend the new key, keep the old ones until nothing
signed or encrypted with them is still needed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyConfigError(ValueError):
    """A key ring that cannot be used: refused at start-up rather than at first use."""


@dataclass(frozen=True)
class KeyRing:
    entries: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.entries:
            raise KeyConfigError("a key ring needs at least one key")
        ids = [kid for kid, _ in self.entries]
        if len(set(ids)) != len(ids):
            raise KeyConfigError("duplicate key id in key ring")

    @property
    def current_id(self) -> str:
        return self.entries[0][0]

    @property
    def current(self) -> bytes:
        return self.entries[0][1]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.entries)

    def get(self, kid: str) -> bytes | None:
        return next((secret for k, secret in self.entries if k == kid), None)

    def __repr__(self) -> str:  # never print secrets (settings objects get logged)
        return f"KeyRing(ids={list(self.ids)!r})"

    __str__ = __repr__


def parse_keyring(
    text: str, *, source: str, exact_length: int | None = None, min_length: int = 1
) -> KeyRing:
    """Parse `kid:base64,...`; `source` names the variable or file in error messages."""
    entries: list[tuple[str, bytes]] = []
    for raw in re.split(r"[,\n]", text):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        kid, sep, encoded = item.partition(":")
        kid = kid.strip()
        if not sep or not _KID.match(kid):
            raise KeyConfigError(
                f"{source}: expected kid:base64 entries (kid of letters, digits, '._-')"
            )
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyConfigError(f"{source}: key {kid!r} is not valid base64") from None
        if exact_length is not None and len(secret) != exact_length:
            raise KeyConfigError(f"{source}: key {kid!r} must be {exact_length} bytes")
        if len(secret) < min_length:
            raise KeyConfigError(f"{source}: key {kid!r} must be at least {min_length} bytes")
        entries.append((kid, secret))
    if not entries:
        raise KeyConfigError(f"{source}: no keys")
    return KeyRing(tuple(entries))


def keyring_from_env(
    variable: str,
    file_variable: str,
    environ: Mapping[str, str] | None = None,
    *,
    exact_length: int | None = None,
    min_length: int = 1,
) -> KeyRing | None:
    """The ring in `variable`, or in the file named by `file_variable`; None if neither."""
    env = os.environ if environ is None else environ
    inline, path = env.get(variable), env.get(file_variable)
    if inline and path:
        raise KeyConfigError(f"set {variable} or {file_variable}, not both")
    if path:
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise KeyConfigError(f"{file_variable}: cannot read {path}: {err.strerror}") from None
        return parse_keyring(
            text, source=file_variable, exact_length=exact_length, min_length=min_length
        )
    if inline:
        return parse_keyring(
            inline, source=variable, exact_length=exact_length, min_length=min_length
        )
    return None
