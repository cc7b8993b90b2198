"""What least privilege costs one append: `python -m bench.append_paths [--json]`.

On a shared machine the full benchmark (`bench.eventstore`) moves by more than this change
between runs, so this one isolates it. One connection with the store's session settings,
one event per call, in a dedicated database; the three ways to append are interleaved in
rounds, so a change in load or disk latency hits all of them alike:

  statement   the one-event statement the store sent itself until 0006 (it needs INSERT
              and UPDATE on the chain's tables: run here as the superuser)
  invoker     `accord.append_event` as it was (SECURITY INVOKER, one SET), copied from the
              current definition
  definer     `accord.append_event` now: SECURITY DEFINER, owned by accord_owner, with
              `SET search_path` too: what `EventStore.append` calls

each with durable commits (`synchronous_commit = on`: what an append costs) and without
(`off`: the CPU of the round trip alone, where the difference shows). Prints µs per append
(median over rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from typing import Any

import asyncpg

from bench.eventstore import METADATA, PAYLOAD
from store import EventStore, NewEvent
from store.embedded import admin_url
from store.eventstore import STORE_SESSION_SETTINGS, _init_connection
from store.group_commit import append_arguments

_LINK = (
    "sha256({prev} || $13 || int8send(t.pos)"
    " || int8send((extract(epoch FROM t.at) * 1000000)::bigint))"
)
_GENESIS = "'\\x" + "00" * 32 + "'::bytea"
# The store's one-event statement before 0006 (store/eventstore.py at 6f86f0d), with the
# business date as text and the source since 0008.
STATEMENT_FIRST = f"""
WITH t AS MATERIALIZED (
    SELECT pg_current_xact_id() AS tx, nextval('accord.event_position_seq') AS pos,
           clock_timestamp() AS at
), h AS (
    INSERT INTO accord.streams AS s (stream_id, version, head_hash)
    SELECT $1, 1, {_LINK.format(prev=_GENESIS)} FROM t
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING {_GENESIS} AS prev, s.head_hash AS hash
)
INSERT INTO accord.events (
    position, tx_id, event_id, stream_id, version, event_type, schema_version, data, actor,
    occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
    content_digest, prev_hash, hash, source)
SELECT t.pos, t.tx, $3, $1, $2 + 1, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, t.at, $9,
       $10, $11, $12, $13, h.prev, h.hash, $14::text::jsonb
  FROM t, h
RETURNING events.position
"""
STATEMENT_NEXT = STATEMENT_FIRST.replace(
    f"""INSERT INTO accord.streams AS s (stream_id, version, head_hash)
    SELECT $1, 1, {_LINK.format(prev=_GENESIS)} FROM t
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING {_GENESIS} AS prev, s.head_hash AS hash""",
    f"""UPDATE accord.streams s
       SET version = $2 + 1, head_hash = {_LINK.format(prev="s.head_hash")}
      FROM t
     WHERE s.stream_id = $1 AND s.version = $2
    RETURNING old.head_hash AS prev, new.head_hash AS hash""",
)
_CALL = (
    "SELECT accord.{name}($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, $9,"
    " $10, $11, $12, $13, $14::text::jsonb)"
)
PATHS = {
    "statement": None,
    "invoker": _CALL.format(name="append_event_invoker"),
    "definer": _CALL.format(name="append_event"),
}


async def _invoker_copy(conn: asyncpg.Connection) -> None:
    """`accord.append_event` as SECURITY INVOKER without the search_path SET."""
    definition: str = await conn.fetchval(
        "SELECT pg_get_functiondef('accord.append_event(text, integer, uuid, text, integer,"
        " jsonb, jsonb, text, text, text, text, text, bytea, jsonb)'::regprocedure)"
    )
    lines = [
        line
        for line in definition.splitlines()
        if line.strip() not in ("SECURITY DEFINER",)
        and not line.strip().startswith("SET search_path")
    ]
    copy = "\n".join(lines).replace("accord.append_event(", "accord.append_event_invoker(", 1)
    assert "SECURITY DEFINER" not in copy and "search_path" not in copy
    await conn.execute(copy)


async def _round(conn: asyncpg.Connection, path: str, streams: list[str], version: int) -> float:
    """Append version+1 to each stream, one call each; seconds taken."""
    sql = PATHS[path]
    started = time.perf_counter()
    for stream in streams:
        event = NewEvent(uuid.uuid4(), "ContactLogged", 2, PAYLOAD, METADATA)
        args = append_arguments(stream, version, event)
        if sql is None:
            statement = STATEMENT_NEXT if version else STATEMENT_FIRST
            position = await conn.fetchval(statement, *args)
        else:
            position = await conn.fetchval(sql, *args)
        assert position and position > 0
    return time.perf_counter() - started


async def run(rounds: int, per_round: int) -> dict[str, Any]:
    admin = admin_url()
    name = f"accord_bench_paths_{uuid.uuid4().hex[:8]}"
    url = f"{admin.rpartition('/')[0]}/{name}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        async with await EventStore.connect(url, min_size=1, max_size=1):
            pass  # migrations
        conn = await asyncpg.connect(url, server_settings=STORE_SESSION_SETTINGS)
        await _init_connection(conn)
        await _invoker_copy(conn)
        results: dict[str, Any] = {}
        for commit in ("on", "off"):
            await conn.execute(f"SET synchronous_commit = {commit}")
            streams = {p: [f"{p}-{commit}-{i}" for i in range(per_round)] for p in PATHS}
            for path in PATHS:  # warm-up: plans cached, first versions written
                await _round(conn, path, streams[path], 0)
            seconds: dict[str, list[float]] = {p: [] for p in PATHS}
            for r in range(1, rounds + 1):
                order = list(PATHS) if r % 2 else list(reversed(PATHS))
                for path in order:
                    seconds[path].append(await _round(conn, path, streams[path], r))
            micros = {p: statistics.median(s) / per_round * 1e6 for p, s in seconds.items()}
            results[f"commit_{commit}_us"] = micros
            print(
                f"synchronous_commit={commit}: "
                + ", ".join(f"{p} {us:,.0f} µs" for p, us in micros.items()),
                file=sys.stderr,
            )
        await conn.close()
        return results
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.append_paths", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--per-round", type=int, default=300, help="appends per path and round")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.rounds, args.per_round))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, micros in results.items():
            base = micros["statement"]
            print(
                f"{key}: "
                + ", ".join(f"{p} {us:,.0f} µs ({us / base:.2f}x)" for p, us in micros.items())
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
