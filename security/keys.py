"""Key rings: key id -> secret, newest first, read from the environment or a file.

Format (the same in a variable and in a file): entries `kid:base64-secret`, separated by
commas or newlines; blank lines and lines starting with `#` are ignored. The first entry
is the current key (it signs or encrypts); every entry is accepted for verifying or
decrypting, which is how keys rotate: prepend the new key, keep the old ones until nothing
signed or encrypted with them is still needed.

The local key ring (`local_keyring`) is the actor-token ring that the worker and the CLI
on one machine share when no keys are configured: created on first use under the
project's data directory, so that identity is on without a set-up step.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from security.settings import DataDirSettings
from security.settings import KeyConfigError as KeyConfigError  # defined with the settings

_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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
    # Comments are whole lines (and may contain commas); entries split on commas or lines.
    lines = (line for line in text.splitlines() if not line.strip().startswith("#"))
    for raw in ",".join(lines).split(","):
        item = raw.strip()
        if not item:
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


def keyring_from(
    inline: str | None,
    path: Path | None,
    *,
    variable: str,
    file_variable: str,
    exact_length: int | None = None,
    min_length: int = 1,
) -> KeyRing | None:
    """The ring given inline (`variable`) or in the file `path` (`file_variable`), the
    names used in errors; None if neither, refused if both."""
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


def keyring_from_env(
    variable: str,
    file_variable: str,
    environ: Mapping[str, str] | None = None,
    *,
    exact_length: int | None = None,
    min_length: int = 1,
) -> KeyRing | None:
    """The ring in `variable`, or in the file named by `file_variable`; None if neither.
    For rings that have no settings model yet (`ACCORD_HEADS_KEYS`, cli/verification.py)."""
    env = os.environ if environ is None else environ
    path = env.get(file_variable)
    return keyring_from(
        env.get(variable),
        Path(path) if path else None,
        variable=variable,
        file_variable=file_variable,
        exact_length=exact_length,
        min_length=min_length,
    )


# -- the local key ring ---------------------------------------------------------------------

LOCAL_KEYS_DIR = "keys"
LOCAL_ACTOR_KEYS = "actor.keys"
_LOCAL_KEY_BYTES = 32


def local_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The project's data directory: `ACCORD_DATA_DIR`, or `.data` at the project root.

    The same rule as `store.embedded` (which puts PostgreSQL under it), repeated here so
    that reading a key ring does not import the embedded server's binaries.
    """
    root = Path(__file__).resolve().parent.parent
    return DataDirSettings.load(environ).data_dir or root / ".data"


def local_actor_keys_path(environ: Mapping[str, str] | None = None) -> Path:
    return local_data_dir(environ) / LOCAL_KEYS_DIR / LOCAL_ACTOR_KEYS


def local_keyring(path: Path, *, min_length: int = _LOCAL_KEY_BYTES) -> tuple[KeyRing, bool]:
    """The key ring in `path`, created with one random key if it does not exist yet.

    Returns the ring and whether this call created it. The directory is made 0700 and the
    file 0600, and an existing file readable by group or others is refused: this one
    secret lets whoever reads it act as any party. The file is written under a temporary
    name and published with a hard link, which fails if another process (a worker and a
    CLI started together) published first: then that one's ring is read, so both use the
    same key.
    """
    created = False
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is subject to the umask; a directory not ours stays as it is (the
        # file's own mode, checked below, is what protects the key).
        with contextlib.suppress(OSError):
            os.chmod(path.parent, 0o700)
        kid = f"local-{secrets.token_hex(4)}"
        secret = base64.b64encode(secrets.token_bytes(_LOCAL_KEY_BYTES)).decode()
        text = (
            "# Accord actor-token keys, created on first use (SECURITY.md, actor tokens).\n"
            "# Format kid:base64, newest first; usable as ACCORD_ACTOR_KEYS_FILE elsewhere.\n"
            f"{kid}:{secret}\n"
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)
                created = True
            except FileExistsError:
                pass  # another process published its ring first: use that one
        finally:
            tmp.unlink(missing_ok=True)
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as err:
        raise KeyConfigError(f"local key ring {path}: cannot read: {err.strerror}") from None
    if mode & 0o077:
        raise KeyConfigError(
            f"local key ring {path}: readable by group or others; make it private (chmod 600)"
        )
    return parse_keyring(text, source=str(path), min_length=min_length), created
