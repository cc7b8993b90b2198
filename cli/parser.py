"""The `accord` argument parser: every subcommand, its options and its `--help` example.

The commands owned by their own modules (codec-server, cluster, feed-server, ...) add
their parsers themselves; the rest are declared here. Parsing checks what can be checked
before anything starts (choices, `--update-id`): a mistake exits 2 with argparse's line.
"""

from __future__ import annotations

import argparse

from cli import (
    actor_token,
    cluster,
    codec_server,
    commands_cli,
    feed_server,
    report_cli,
    verification,
)
from cli import events as events_cli
from cli import schema as schema_cli
from cli.operations import update_id_error
from domain import Stage

DESCRIPTION = "`accord`: the command line for scripts and operators."


def _update_id(value: str) -> str:
    """`--update-id`, checked before anything is started (bad usage: exit 2)."""
    problem = update_id_error(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem.removeprefix("update_id: "))
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("accord")
    except PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="accord", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"accord {_version()}")
    p.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="Temporal frontend (default: TEMPORAL_ADDRESS, the client profile, or the "
        "embedded dev server)",
    )
    p.add_argument("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def with_json(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    def with_output(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Lists: a table for people, one JSON array, or one JSON object per line."""
        with_json(sp)
        sp.add_argument(
            "--output",
            choices=["text", "json", "jsonl"],
            help="text (default), json (like --json) or jsonl (one object per line)",
        )
        return sp

    sub.add_parser("worker", help="run the worker (configured by environment)")

    s = with_json(sub.add_parser("start", help="open a process from a YAML/JSON file"))
    s.add_argument("file", help="file with the `process:` block of a scenario, or just it")

    s = with_json(sub.add_parser("send", help="send a DOMAIN.md command to a process"))
    s.add_argument("id", help="process id or workflow id")
    s.add_argument("command", help="command name, e.g. grant_consent")
    s.add_argument("--data", help="fields as JSON, or @file.json")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="one field (repeatable)")
    s.add_argument("--actor", help="party:role[:name]")
    s.add_argument(
        "--on",
        help="business date (occurred_on) as the source gives it: 2022-04-04, 2021-11, 2021, "
        "2022-01~ (approximate), 2021? (uncertain), 2023-06-16/2025-03-10 (a range)",
    )
    s.add_argument(
        "--update-id",
        metavar="ID",
        type=_update_id,
        help="the Temporal update id (default: a new one, printed). Re-sending with the id of "
        "an earlier send returns that send's outcome and records nothing again: retry with it",
    )

    s = with_json(sub.add_parser("status", help="the process view"))
    s.add_argument("id")

    s = with_output(sub.add_parser("list", help="find processes"))
    s.add_argument(
        "--stage",
        choices=[str(stage) for stage in Stage],
        metavar="STAGE",
        help="one of: " + ", ".join(str(stage) for stage in Stage),
    )
    s.add_argument("--partner")
    s.add_argument("--pending", metavar="AGENCY", help="processes waiting on this agency")

    s = with_output(sub.add_parser("timeline", help="the process's events as read by a person"))
    s.add_argument("id")
    s.add_argument(
        "--sources", action="store_true", help="show the source each fact cites, below it"
    )

    s = with_json(sub.add_parser("verify", help="check every hash chain; export or compare heads"))
    verification.add_arguments(s)

    sc = sub.add_parser("scenario", help="scenario files")
    scs = sc.add_subparsers(dest="scenario_cmd", required=True)
    s = with_json(scs.add_parser("run", help="play scenario files"))
    s.add_argument("files", nargs="+")
    s.add_argument(
        "--keep-server",
        action="store_true",
        help="leave the embedded Temporal dev server running (so the UI stays open)",
    )
    s.add_argument("--report-dir", metavar="DIR", help="write <process_id>.md and .html here")

    db = sub.add_parser("db", help="database")
    dbs = db.add_subparsers(dest="db_cmd", required=True)
    with_json(dbs.add_parser("migrate", help="apply pending migrations"))

    pr = sub.add_parser("projections", help="read models")
    prs = pr.add_subparsers(dest="projections_cmd", required=True)
    with_json(prs.add_parser("rebuild", help="rebuild every projection from the events"))

    s = with_json(sub.add_parser("dev-server", help="the embedded Temporal dev server"))
    s.add_argument("action", choices=["start", "stop", "status"])
    codec_server.add_parser(sub)
    cluster.add_parser(sub)
    feed_server.add_parser(sub)
    actor_token.add_parser(sub)
    report_cli.add_parser(sub)
    events_cli.add_parser(sub)
    schema_cli.add_parser(sub)
    commands_cli.add_parser(sub)
    for name, example in EXAMPLES.items():
        sub.choices[name].epilog = f"example:\n  {example}"
        sub.choices[name].formatter_class = argparse.RawDescriptionHelpFormatter
    return p


# One example per subcommand, shown by `accord <command> --help`.
EXAMPLES = {
    "worker": "TEMPORAL_ADDRESS=temporal:7233 accord worker",
    "start": "accord start scenarios/azerbaijan-icmp.yaml --json",
    "send": "accord send az-icmp grant_consent --actor mfa:head --on 2023-04-10 "
    "--set tor_version=1",
    "status": "accord status az-icmp",
    "list": "accord list --stage mission_planning --pending mfa",
    "timeline": "accord timeline az-icmp",
    "verify": "accord verify --heads -o heads.json; accord verify --expect-heads heads.json",
    "scenario": "accord scenario run scenarios/azerbaijan-icmp.yaml --keep-server",
    "db": "accord db migrate",
    "projections": "accord projections rebuild",
    "dev-server": "accord dev-server stop",
    "codec-server": "accord codec-server --port 8888 --origin http://127.0.0.1:8233",
    "cluster": "accord cluster up; accord cluster status --json",
    "feed-server": "ACCORD_FEED_TOKEN_FILE=feed.token accord feed-server --port 8720",
    "actor-token": "accord actor-token --actor mfa:head --process az-icmp --ttl PT10M",
    "report": "accord report az-icmp -o az-icmp.html",
    "events": "accord events --after 0 --follow --json",
    "schema": "accord schema check contracts",
    "commands": "accord commands grant_consent",
}
