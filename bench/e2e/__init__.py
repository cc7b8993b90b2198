"""End-to-end benchmark: `python -m bench.e2e [--json] [--processes N] [--in-flight K] [--open M]`.

One run, on its own services: a Temporal dev server started here (temporary data dir, free
ports, no UI) and a dedicated PostgreSQL database on the embedded server (or on the
server of DATABASE_URL), created and dropped by the run. `--target cluster` (or HOST:PORT)
runs on the native cluster instead, `--side-by-side` on both, interleaved, with their
ratios (bench/targets.py). Workers run in subprocesses
(`bench.e2e_worker`, i.e. `accord worker`), so that each has its own interpreter and its
memory can be read from /proc.

  throughput  N processes play the whole story (scenarios/azerbaijan-icmp.yaml: open, then
              23 commands) concurrently, each process's commands in order, at most K
              commands in flight (a semaphore). Measured: processes per minute, commands
              per second, and the latency of each update as the client sees it
              (`execute_update`, through `cli.operations.send_command`).
  baseline    the same, against a worker whose `record_events` activity returns a
              RecordResult without touching PostgreSQL ("pure Temporal": same workflows,
              same updates, same activities). Accord and baseline runs alternate in rounds
              (A B, B A, ...) so that drift in the machine's load hits both alike;
              `e2e_vs_pure_temporal` = Accord time / baseline time.
  feed        a follower of the global feed (`store.feed.subscribe(follow=True)`) runs
              during the Accord rounds; its lag is the time between an event's
              `recorded_at` and the moment the follower holds it.
  memory      a fresh Accord worker, warmed with a few processes; M more processes are
              opened and given one command each, then left waiting. The growth of the
              worker's VmRSS, per 1,000 processes, with every one of them in the
              workflow cache (max_cached_workflows >= all open processes). The same for
              a fresh baseline worker.

CPU seconds of each part (worker, Temporal server, the bench database's PostgreSQL
backends, this driver) are read from /proc around each phase;
`cpu_per_command_vs_pure_temporal` compares the two arms by CPU, which the machine's other
load disturbs less than time. The workers import a copy of the source tree taken at the
start (the sandbox re-reads workflow modules for every new workflow instance, so edits to
the working tree would otherwise reach them mid-run). Progress goes to stderr; the table
(or with --json one JSON object) to stdout. BENCHMARKS.md has the figures.

The package, by job: `workload` (the story, the settings, the workers, `drive`), `measure`
(CPU, memory, feed lag, profiles), `run` (one run from set-up to result), `figures` (the
result's numbers), `render` (the tables), `cli` (the command line).
"""
