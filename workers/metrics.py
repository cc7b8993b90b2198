"""The worker's Prometheus metrics: the SDK's own and Accord's, on one endpoint.

`ACCORD_METRICS_BIND` (host:port) turns them on: the worker then runs on a Temporal
runtime whose telemetry exports Prometheus metrics at `http://<host:port>/metrics`, and its
client connects with that runtime, so the SDK's series (`temporal_request`,
`temporal_workflow_completed`, `temporal_activity_execution_latency`, ...) and Accord's
(below, all `accord_`) come from the same exporter. Unset: no runtime of its own, no
listener. Bind it to 127.0.0.1 unless a scraper on another host must reach it (the
endpoint has no authentication; in a container, 0.0.0.0 on a port that is not published).

Accord's series, each recorded through the SDK's metric meters:

- `accord_commands_accepted{command}` and `accord_commands_refused{command,code}`
  (counters): every command sent as an update, by its DOMAIN.md name (`(unknown)` for a
  name that is none) and, when refused, by the stable code (`not_allowed`, `wrong_stage`,
  `busy`, ...). Counted in the process workflow through `workflow.metric_meter()`, which
  records nothing while a history is replayed, so a command counts once.
- `accord_event_append_latency_seconds{outcome}` (histogram): the store's append in
  `record_events`, by outcome (`appended`, `already_recorded`, `conflict`, `error`).
- `accord_feed_lag_events{consumer}` and `accord_feed_lag_seconds{consumer}` (gauges),
  per checkpointed feed consumer (`store.feed.consume`, `accord.consumer_checkpoints`):
  the events the feed would hand it now that it has not processed (counted up to
  LAG_COUNT_CAP), and how long ago the oldest of them was recorded (0 when caught up).
  Sampled every `ACCORD_FEED_LAG_INTERVAL` seconds (default 15).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from security.keys import KeyConfigError
from store import EventStore
from workers.runtime import core_logging
from workers.settings import MetricsSettings

METRICS_BIND = MetricsSettings.variable("metrics_bind")
FEED_LAG_INTERVAL = MetricsSettings.variable("feed_lag_interval")

COMMANDS_ACCEPTED = "accord_commands_accepted"  # also spelt in workflows/telemetry.py
COMMANDS_REFUSED = "accord_commands_refused"
APPEND_LATENCY = "accord_event_append_latency_seconds"  # also in activities/recording.py
FEED_LAG_EVENTS = "accord_feed_lag_events"
FEED_LAG_SECONDS = "accord_feed_lag_seconds"

# Seconds. An append takes a few milliseconds; the SDK's default buckets (50 ms and up)
# would put every one in the first.
APPEND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A consumer further behind reads as this many: counting a long tail costs the database.
LAG_COUNT_CAP = 1_000_000

log = structlog.get_logger("accord.metrics")


def metrics_bind(environ: Mapping[str, str] | None = None) -> str | None:
    """The `host:port` to serve metrics on, or None (no listener). A malformed value is a
    set-up mistake (KeyConfigError: one line, exit 2; the rule is in workers/settings.py)."""
    return MetricsSettings.load(environ).metrics_bind


def metrics_runtime(bind: str) -> Runtime:
    """A Temporal runtime exporting Prometheus metrics on `bind` (KeyConfigError when the
    address cannot be served, e.g. taken)."""
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                logging=core_logging(),  # as the default runtime: to stderr, not stdout
                metrics=PrometheusConfig(
                    bind_address=bind,
                    histogram_bucket_overrides={APPEND_LATENCY: APPEND_BUCKETS},
                ),
            )
        )
    except ValueError as err:  # the SDK's "Failed starting Prometheus exporter: ..."
        raise KeyConfigError(f"{METRICS_BIND}={bind}: {err}") from None


def feed_lag_interval(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between two feed-lag samples (KeyConfigError when out of 0.1 to 3600)."""
    return MetricsSettings.load(environ).feed_lag_interval


# Per consumer: its checkpoint's place in feed order (NULL when no event has that
# position), then the events after it that the feed would hand out now (the feed's own
# condition, accord.read_feed) and the oldest one's age.
_FEED_LAG_SQL = """
SELECT c.consumer, cursor.tx_id IS NOT NULL AS known, behind.events, oldest.age
  FROM accord.consumer_checkpoints c
  CROSS JOIN LATERAL (
        SELECT CASE WHEN c.position = 0 THEN '0'::xid8
                    ELSE (SELECT e.tx_id FROM accord.events e WHERE e.position = c.position)
               END AS tx_id) cursor
  CROSS JOIN LATERAL (
        SELECT count(*) AS events FROM (
            SELECT 1 FROM accord.events e
             WHERE (e.tx_id, e.position) > (cursor.tx_id, c.position)
               AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
             LIMIT $1) ahead) behind
  CROSS JOIN LATERAL (
        SELECT coalesce(extract(epoch FROM clock_timestamp() - min(first.recorded_at)), 0)
               AS age
          FROM (SELECT e.recorded_at FROM accord.events e
                 WHERE (e.tx_id, e.position) > (cursor.tx_id, c.position)
                   AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY e.tx_id, e.position
                 LIMIT 1) first) oldest
 ORDER BY c.consumer
"""


@dataclass(frozen=True)
class FeedLag:
    consumer: str
    events: int
    seconds: float


async def feed_lags(store: EventStore) -> list[FeedLag]:
    """Every checkpointed consumer's lag (a checkpoint naming no event is left out)."""
    rows = await store.pool.fetch(_FEED_LAG_SQL, LAG_COUNT_CAP)
    return [
        FeedLag(str(row["consumer"]), int(row["events"]), max(0.0, float(row["age"])))
        for row in rows
        if row["known"]
    ]


async def sample_feed_lag(store: EventStore, meter: MetricMeter, interval: float) -> None:
    """Set the feed-lag gauges now and every `interval` seconds, until cancelled. A failed
    sample (the database away) is logged and the gauges keep their last values."""
    events = meter.create_gauge(
        FEED_LAG_EVENTS, "events in the feed not yet processed by the consumer"
    )
    seconds = meter.create_gauge_float(
        FEED_LAG_SECONDS, "age of the oldest event the consumer has not processed", "s"
    )
    while True:
        try:
            for lag in await feed_lags(store):
                labels = {"consumer": lag.consumer}
                events.set(lag.events, labels)
                seconds.set(lag.seconds, labels)
        except Exception as err:  # a sample is best effort
            log.warning("feed lag not sampled", error=type(err).__name__, reason=str(err)[:200])
        await asyncio.sleep(interval)
