"""A consumer of the feed run as its own process by the restart test:

    python -m tests.feed.seen_consumer DATABASE_URL CONSUMER START_AFTER

It records every event it handles in `feed_test.seen` (in the batch transaction, with its
checkpoint) and, outside that transaction, every attempt in `feed_test.attempts`, so the
test can tell a batch that was handled but never committed (killed mid-batch) from a
duplicate. Runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from store import EventStore, RecordedEvent
from store.feed import ConsumerConnection, consume

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS feed_test;
CREATE TABLE IF NOT EXISTS feed_test.seen (
    seq       bigserial PRIMARY KEY,   -- the order events were handled in
    consumer  text   NOT NULL,
    position  bigint NOT NULL,
    event_id  uuid   NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_test.attempts (
    consumer  text   NOT NULL,
    position  bigint NOT NULL
);
"""


async def main(url: str, consumer: str, start_after: int) -> None:
    store = await EventStore.connect(url, min_size=2, max_size=4)
    attempts = await asyncpg.connect(url)  # autocommit: survives a rolled-back batch

    async def record(conn: ConsumerConnection, event: RecordedEvent) -> None:
        await attempts.execute(
            "INSERT INTO feed_test.attempts VALUES ($1, $2)", consumer, event.position
        )
        await conn.execute(
            "INSERT INTO feed_test.seen (consumer, position, event_id) VALUES ($1, $2, $3)",
            consumer,
            event.position,
            event.event_id,
        )
        await asyncio.sleep(0.004)  # real work takes time: kills land inside a batch

    await consume(store, consumer, record, start_after=start_after, batch_size=25)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
