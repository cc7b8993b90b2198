"""`accord`: the command line for scripts and operators.

Every command that prints has a `--json` form for scripts. Exit codes: 0 success,
1 a rejected command / failed expectation / broken chain, 2 bad usage or input.

This module is the dispatch and the one-line failures; the parser is cli/parser.py, the
commands on processes cli/process_commands.py, the installation's cli/operator_commands.py,
the rest their own cli/ modules. (`parser`, `EXAMPLES` and `UsageError` stay importable
from here.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import NoReturn

import asyncpg

from cli import (
    actor_token,
    cluster,
    codec_server,
    commands_cli,
    feed_server,
    report_cli,
)
from cli import events as events_cli
from cli import schema as schema_cli
from cli.console import UsageError
from cli.operations import ProcessNotFound
from cli.operator_commands import (
    cmd_db_migrate,
    cmd_dev_server,
    cmd_projections_rebuild,
    cmd_scenario,
)
from cli.parser import EXAMPLES, parser
from cli.process_commands import (
    cmd_list,
    cmd_send,
    cmd_start,
    cmd_status,
    cmd_timeline,
    cmd_verify,
)
from security.keys import KeyConfigError
from workers.runtime import install_default_runtime

__all__ = ["EXAMPLES", "UsageError", "entrypoint", "main", "parser"]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    install_default_runtime()  # the SDK's own log lines to stderr, never into --json output
    # The flags win over the environment and the profile file (temporalio.envconfig).
    if args.address:
        os.environ["TEMPORAL_ADDRESS"] = args.address
    if args.namespace:
        os.environ["TEMPORAL_NAMESPACE"] = args.namespace
    if args.cmd == "worker":
        from workers.main import main as worker_main

        try:
            return worker_main()
        except KeyConfigError as err:  # keys missing or unusable: a set-up mistake
            print(f"accord worker: {err}", file=sys.stderr)
            return 2
    from workers import logs

    logs.configure(os.environ.get("ACCORD_LOG_LEVEL", "WARNING"))
    if args.cmd == "dev-server":
        return cmd_dev_server(args)
    if args.cmd == "codec-server":
        return codec_server.run(args)
    if args.cmd == "cluster":
        return cluster.run(args)
    if args.cmd == "feed-server":
        return feed_server.run(args)
    if args.cmd == "actor-token":
        return actor_token.run(args)
    if args.cmd == "commands":
        return commands_cli.run(args)
    handlers = {
        "start": cmd_start,
        "send": cmd_send,
        "status": cmd_status,
        "list": cmd_list,
        "timeline": cmd_timeline,
        "verify": cmd_verify,
        "scenario": cmd_scenario,
        "report": report_cli.run,
        "db": cmd_db_migrate,
        "projections": cmd_projections_rebuild,
        "events": events_cli.run,
        "schema": schema_cli.run,
    }
    try:
        return asyncio.run(handlers[args.cmd](args))
    except (KeyConfigError, UsageError) as err:  # set-up or usage mistakes: exit 2, no trace
        return _fail("usage", str(err), args)
    except ProcessNotFound as err:
        return _fail("not_found", str(err), args)
    except (OSError, RuntimeError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        # Temporal or PostgreSQL unreachable or refusing us: a set-up problem, said in one
        # line (ACCORD_DEBUG=1 shows the traceback).
        if os.environ.get("ACCORD_DEBUG"):
            raise
        return _fail("unavailable", f"{type(err).__name__}: {str(err)[:300]}", args)
    except KeyboardInterrupt:
        return 130


def _fail(code: str, message: str, args: argparse.Namespace) -> int:
    """One line on stderr, or one JSON object on stdout under `--json`; exit 2."""
    if getattr(args, "json", False) or getattr(args, "output", None) in ("json", "jsonl"):
        print(json.dumps({"ok": False, "code": code, "message": message}, ensure_ascii=False))
    else:
        print(f"accord: {message}", file=sys.stderr)
    return 2


def entrypoint() -> NoReturn:
    """The `accord` command: `main`, then leave without finalizing the interpreter.

    Temporal's native runtime keeps threads of its own; one may still call into Python
    while the interpreter finalizes, which aborts the process ("Fatal Python error:
    PyGILState_Release ... finalizing", exit 134), seen when a worker could not connect.
    Everything is done by the time `main` returns: flush what was written and exit with its
    code. (`main` itself stays an ordinary function for the tests that call it.)"""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entrypoint()
