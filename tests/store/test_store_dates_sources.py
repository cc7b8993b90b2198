"""Business dates as written (EDTF text) and sources in the store (issue 17): every append
path keeps them, the feed shows them, the digest covers them, and a database that recorded
`date` rows before 0008 keeps them readable, as the same text, with their chain and their
transaction ids intact."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from typing import Any

import asyncpg
import pytest

from readmodel.projections import Projections
from store import EventStore, NewEvent, RecordedEvent
from store.append import append_arguments
from store.eventstore import _init_connection
from store.feed import feed_event_json
from store.migrate import _apply, migrate, migrations
from tests.store.store_support import SOURCE, event, metadata

EDTF = ["2022-04-04", "2021-11", "2021", "2022-01~", "2021?", "2020%", "2023-06-16/2025-03-10"]


def cited(occurred_on: str, source: dict[str, Any] | None = SOURCE, **data: Any) -> NewEvent:
    return dataclasses.replace(
        event(**(data or {"n": 1})), metadata=metadata(occurred_on=occurred_on, source=source)
    )


def fields(e: RecordedEvent | NewEvent) -> tuple[Any, ...]:
    return (e.event_id, e.event_type, e.data, e.metadata)


async def test_dates_as_written_and_sources_round_trip_on_every_append_path(
    fresh_store: EventStore,
) -> None:
    store = fresh_store
    # One event a call (alone), a batch, and concurrent single appends (groups).
    alone = [cited(on, source=SOURCE if i % 2 else None) for i, on in enumerate(EDTF)]
    for version, new in enumerate(alone):
        await store.append("process-alone", version, [new])
    batch = [cited(on, source=SOURCE | {"locator": f"§{i}"}) for i, on in enumerate(EDTF)]
    await store.append("process-batch", 0, batch)
    grouped = [cited(on) for on in EDTF]
    await asyncio.gather(*(store.append(f"process-g{i}", 0, [e]) for i, e in enumerate(grouped)))
    assert store.group_commit is not None and store.group_commit.grouped_appends > 0

    streams = {"process-alone": alone, "process-batch": batch} | {
        f"process-g{i}": [e] for i, e in enumerate(grouped)
    }
    feed = {e.event_id: e for e in await store.read_all(limit=1000)}
    for stream_id, written in streams.items():
        recorded = await store.read_stream(stream_id)
        assert [fields(r) for r in recorded] == [fields(w) for w in written]
        for r in recorded:
            assert fields(feed[r.event_id]) == fields(r)
            line = feed_event_json(feed[r.event_id])
            assert line["occurred_on"] == r.metadata.occurred_on
            if r.metadata.source is None:
                assert "source" not in line
            else:
                assert line["source"] == dict(r.metadata.source)
    assert (await store.verify()).ok


async def test_the_feed_function_returns_the_date_as_text_and_the_source(
    fresh_store: EventStore,
) -> None:
    """Consumers of the SQL feed (`SELECT * FROM accord.read_feed(...)`) get both columns;
    the legacy `occurred_on_date` stays behind the function."""
    await fresh_store.append("process-sql", 0, [cited("2021-11~"), cited("2021", source=None)])
    rows = await fresh_store.pool.fetch("SELECT * FROM accord.read_feed(0, 10)")
    assert [(r["occurred_on"], r["source"]) for r in rows] == [("2021-11~", SOURCE), ("2021", None)]
    assert "occurred_on_date" not in rows[0]


@pytest.mark.parametrize(
    "edit",
    [
        "source = jsonb_set(source, '{title}', '\"Another article\"')",
        "source = NULL",
        "occurred_on = '2021-12'",
    ],
    ids=["source edited", "source removed", "date edited"],
)
async def test_verify_names_an_event_whose_source_or_date_was_edited(
    fresh_store: EventStore, edit: str
) -> None:
    for version in range(3):
        await fresh_store.append("process-cited", version, [cited("2021-11", step=version)])
    assert (await fresh_store.verify()).ok
    edited = (await fresh_store.read_stream("process-cited"))[1]
    async with fresh_store.pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE accord.events DISABLE TRIGGER events_append_only")
        await conn.execute(
            f"UPDATE accord.events SET {edit} WHERE stream_id = 'process-cited' AND version = 2"
        )
        await conn.execute("ALTER TABLE accord.events ENABLE TRIGGER events_append_only")

    breaks = (await fresh_store.verify()).breaks
    assert [(b.stream_id, b.version, b.position, b.reason) for b in breaks] == [
        ("process-cited", 2, edited.position, "digest mismatch")
    ]


async def test_the_timeline_keeps_the_date_as_written_and_the_source(
    fresh_store: EventStore,
) -> None:
    from tests.store.test_store_projections import happy_path, process_id

    stream = process_id()
    first = next(happy_path())
    opened = [
        dataclasses.replace(e, metadata=metadata(occurred_on="2018~", source=SOURCE)) for e in first
    ]
    await fresh_store.append(stream, 0, opened)
    await Projections(fresh_store).refresh(stream)
    rows = await Projections(fresh_store).timeline(stream)
    assert [(r["occurred_on"], r["source"]) for r in rows] == [("2018~", SOURCE)] * len(opened)


# -- a database with events recorded before 0008 --------------------------------------------

_OLD_APPEND_ONE = (
    "SELECT accord.append_event($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8, $9,"
    " $10, $11, $12, $13)"
)
_OLD_APPEND_BATCH = (
    "SELECT * FROM accord.append_events($1, $2, $3, $4, $5, $6::text[]::jsonb[],"
    " $7::text[]::jsonb[], $8, $9, $10, $11, $12, $13)"
)


def _old_arguments(stream_id: str, expected_version: int, new: NewEvent) -> list[Any]:
    """The 13 arguments the functions of 0006 took: the business date as a `date`."""
    args = list(append_arguments(stream_id, expected_version, new)[:13])
    args[7] = date.fromisoformat(args[7])
    return args


async def test_events_recorded_as_dates_before_0008_read_as_their_text_and_verify(
    fresh_database_url: str,
) -> None:
    before = [m for m in migrations() if m.version < 8]
    assert [m.version for m in before] == list(range(1, 8))
    conn = await asyncpg.connect(fresh_database_url)
    await _init_connection(conn)
    try:
        await _apply(conn, before)
        old = [event(step=i) for i in range(5)]  # occurred_on 2021-11-15, given as a date
        positions = [
            await conn.fetchval(_OLD_APPEND_ONE, *_old_arguments("process-old", 0, old[0]))
        ]
        positions += [
            await conn.fetchval(_OLD_APPEND_ONE, *_old_arguments("process-old", 1, old[1]))
        ]
        rows = [_old_arguments("process-old", 2 + i, e) for i, e in enumerate(old[2:])]
        columns = [list(column) for column in zip(*rows, strict=True)]
        batch = await conn.fetchrow(_OLD_APPEND_BATCH, "process-old", 2, *columns[2:])
        assert batch is not None and batch["last_version"] == 5
        await conn.execute(
            "INSERT INTO accord.timeline (stream_id, version, position, occurred_on, event_type,"
            " summary) VALUES ('process-old', 1, $1, '2021-11-15', 'ContactLogged', 'met')",
            positions[0],
        )
        xmins = await conn.fetch("SELECT position, xmin::text FROM accord.events ORDER BY 1")
    finally:
        await conn.close()

    assert await migrate(fresh_database_url) == [8]

    async with await EventStore.connect(fresh_database_url, min_size=1, max_size=4) as store:
        # Not rewritten: every row keeps the transaction that wrote it (verify checks it).
        assert (
            await store.pool.fetch("SELECT position, xmin::text FROM accord.events ORDER BY 1")
            == xmins
        )
        recorded = await store.read_stream("process-old")
        assert [fields(r) for r in recorded] == [fields(e) for e in old]
        assert {r.metadata.occurred_on for r in recorded} == {"2021-11-15"}
        assert all(r.metadata.source is None for r in recorded)
        feed = await store.read_all()
        assert [fields(e) for e in feed] == [fields(e) for e in old]
        assert feed_event_json(feed[0])["occurred_on"] == "2021-11-15"
        report = await store.verify()
        assert report.ok and report.events_checked == 5

        # The chain goes on with dates as written and sources.
        new = [cited("2021-11"), cited("2022~", source=None)]
        await store.append("process-old", 5, new[:1])
        await store.append("process-old", 6, new[1:])
        recorded = await store.read_stream("process-old")
        assert [fields(r) for r in recorded] == [fields(e) for e in old + new]
        report = await store.verify()
        assert report.ok and report.events_checked == 7

        timeline = await store.pool.fetchrow(
            "SELECT occurred_on, source FROM accord.timeline WHERE stream_id = 'process-old'"
        )
        assert timeline is not None and tuple(timeline) == ("2021-11-15", None)
