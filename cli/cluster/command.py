"""`accord cluster up|down|status`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

import asyncpg

from cli.cluster.native import NativeCluster
from cli.cluster.settings import ClusterError
from cli.cluster.state import default_root
from security.keys import local_actor_keys_path


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("cluster", help="Temporal's real server on PostgreSQL, as a local cluster")
    cmds = p.add_subparsers(dest="cluster_cmd", required=True)
    cmds.add_parser("up", help="build (once), set up and start every process")
    cmds.add_parser("down", help="stop every process of the cluster")
    cmds.add_parser("status", help="each process and the frontend's health")
    for name in ("up", "down", "status"):
        cmds.choices[name].add_argument("--json", action="store_true", help="one JSON object")


def local_cluster(log: Any) -> NativeCluster:
    from store.embedded import admin_url, database_url

    return NativeCluster(default_root(), admin_url(), database_url(), log=log)


def run(args: argparse.Namespace) -> int:
    as_json = bool(getattr(args, "json", False))
    log = None if as_json else sys.stderr
    try:
        if args.cluster_cmd == "down":
            cluster = NativeCluster(default_root(), "", "", log=log)
            stopped = cluster.down()
            _print(as_json, {"stopped": stopped}, f"stopped: {', '.join(stopped) or 'nothing'}")
            return 0
        if args.cluster_cmd == "status":
            cluster = NativeCluster(default_root(), "", "", log=log)
            status = cluster.status()
            if not cluster.state.ports:
                _print(as_json, status, "no cluster here: start it with `accord cluster up`")
                return 1
            lines = [f"cluster: {'healthy' if status['healthy'] else 'NOT healthy'}"]
            lines.append(f"frontend {status['frontend']}: {status['cluster_health']}")
            for name, p in status["processes"].items():
                metrics = status["metrics"].get(name)
                lines.append(
                    f"  {name:16} pid {p['pid'] or '-':>7}  {'up' if p['alive'] else 'DOWN':4}"
                    + (f"  metrics {metrics}" if metrics else "")
                )
            lines.append(f"UI: {status['ui']}")
            lines.append(f"Prometheus configuration: {status['prometheus_config']}")
            _print(as_json, status, "\n".join(lines))
            return 0 if status["healthy"] else 1
        cluster = local_cluster(log)
        report = cluster.up()
        status = cluster.status()
        report |= {"frontend": cluster.state.address, "ui": cluster.state.ui_url}
        text = (
            f"cluster up in {report['up_seconds']} s: frontend {cluster.state.address},"
            f" UI {cluster.state.ui_url}\n"
            f"  export TEMPORAL_ADDRESS={cluster.state.address}"
            f" ACCORD_ACTOR_KEYS_FILE={local_actor_keys_path()}"
        )
        _print(as_json, {**report, "status": status}, text)
        return 0
    except (ClusterError, OSError, subprocess.CalledProcessError, asyncpg.PostgresError) as err:
        # A role that may not create databases, a server that is not there, no `go`.
        message = str(err).strip().splitlines()
        _print(as_json, {"ok": False, "code": "cluster", "message": str(err)}, "")
        if not as_json:
            print(f"accord cluster: {message[0] if message else err}", file=sys.stderr)
            for line in message[1:]:
                print(f"  {line}", file=sys.stderr)
        return 1


def _print(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        print(json.dumps(data, default=str))
    elif text:
        print(text)
