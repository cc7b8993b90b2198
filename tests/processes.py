"""Child processes as the tests run them: `accord` (and other binaries) as a script would.

One place for how a test spawns a command and waits for it, so that every test that
drives the CLI from outside does it the same way: the project root as working directory,
output captured and decoded, and a time limit that fails the test rather than hanging it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path

from store.embedded import project_root

# The CLI of this checkout, through its module: no installed script is needed.
ACCORD = (sys.executable, "-m", "cli.main")


async def completed(
    *argv: str,
    within: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, str, str]:
    """`argv` run to its end within `within` seconds: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def accord(*args: str, env: Mapping[str, str], within: float = 120) -> tuple[int, str, str]:
    """`accord <args>` from the project root, run to its end: (exit code, stdout, stderr)."""
    return await completed(*ACCORD, *args, env=env, cwd=project_root(), within=within)


async def spawn_accord(
    *args: str, env: Mapping[str, str], stdout: bool = False, stderr: bool = False
) -> asyncio.subprocess.Process:
    """`accord <args>` from the project root, left running (a follower, a server): the
    streams asked for are piped, the others inherited from the test."""
    return await asyncio.create_subprocess_exec(
        *ACCORD,
        *args,
        cwd=project_root(),
        env=env,
        stdout=asyncio.subprocess.PIPE if stdout else None,
        stderr=asyncio.subprocess.PIPE if stderr else None,
    )
