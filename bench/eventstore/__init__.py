"""Event store benchmark: `python -m bench.eventstore [--json] [--events N]`.

Everything runs in one process against one PostgreSQL, in a dedicated database that is
created and dropped here, with the same ~300-byte JSON payload and durable commits
throughout (fsync on, synchronous_commit on):

  raw        asyncpg single-row INSERT into a bigserial table, one transaction per event
  floor      the store's full event row (its 20 columns and 4 indexes, the client's encoding
             and digest) as one plain prepared INSERT per transaction, on a direct
             connection: no chain, no head row or concurrency check, no idempotency, no
             feed notification, no pool. No append that records this row can beat it, so
             `row_floor_seq_vs_raw` bounds `append_seq_vs_raw` on the machine of the run
  store      EventStore.append, one event per call; and 100 events per call
  es         the `eventsourcing` library's PostgreSQL application recorder, one event per save
  rebuild    read the whole feed (the narrow `replay`: data as JSON text), decode each event
             with the domain codec straight from that text, evolve the state

Sequential raw and store runs are interleaved in rounds so that drift in disk latency hits
both alike. Progress goes to stderr; the table (or with --json one JSON object) to stdout.
"""

# The package (the docstring above is also `--help`): the writes and the log they produce
# (workload.py), each side timed (measure.py), the rounds on a dedicated database (run.py),
# the table and its targets (render.py), the command line (cli.py).

from bench.eventstore.render import TARGETS, render
from bench.eventstore.run import run_benchmark
from bench.eventstore.workload import METADATA, PAYLOAD

__all__ = ["METADATA", "PAYLOAD", "TARGETS", "render", "run_benchmark"]
