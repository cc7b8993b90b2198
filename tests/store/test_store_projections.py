"""Incremental projections: a refresh folds only the new events onto a cached state and
gives exactly the rows a full refold (`rebuild`) gives; the cache is bounded and never
trusted when the stored stream or the read models are not the ones it was folded from."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from domain import ProcessState, encode_event
from domain.vocabulary import PROCESS_STREAM_PREFIX
from readmodel.projections import Projections
from store import EventMetadata, EventStore, NewEvent, RecordedEvent
from tests.domain.domain_scenario import CONFIG, HAPPY_PATH, Run

Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def process_id() -> str:
    return f"{PROCESS_STREAM_PREFIX}{uuid.uuid4().hex[:12]}"


def happy_path(country: str = "Azerbaijan") -> Iterator[list[NewEvent]]:
    """The domain's happy path, command by command: the events each command records."""
    run = Run(config=CONFIG | {"country": country})
    for name, who, fields in HAPPY_PATH:
        emitted = run.do(name, who, **fields(run))
        run.tick()
        yield [
            NewEvent(
                uuid.uuid4(),  # replaced by `record`
                *encode_event(e),
                EventMetadata(occurred_on=e.occurred_on.text, actor=who),
            )
            for e in emitted
        ]


async def record(store: EventStore, stream_id: str, events: list[NewEvent]) -> None:
    """Append `events` (under new ids, so that one step may be recorded on several streams)."""
    fresh = [dataclasses.replace(e, event_id=uuid.uuid4()) for e in events]
    await store.append(stream_id, await store.stream_version(stream_id), fresh)


async def record_steps(
    store: EventStore,
    stream_id: str,
    steps: list[list[NewEvent]],
    projections: Projections | None = None,
) -> None:
    """`record` each step in turn, with a refresh of `projections` after each when given."""
    for events in steps:
        await record(store, stream_id, events)
        if projections is not None:
            await projections.refresh(stream_id)


async def rows(store: EventStore, *stream_ids: str) -> Rows:
    """Both read models' rows of the streams (all but `updated_at`)."""
    views = await store.pool.fetch(
        "SELECT stream_id, process_id, stage, version, pending_agencies, view::text AS view"
        " FROM accord.process_view WHERE stream_id = ANY($1) ORDER BY stream_id",
        list(stream_ids),
    )
    timeline = await store.pool.fetch(
        "SELECT stream_id, version, position, occurred_on, event_type, actor::text AS actor,"
        " summary FROM accord.timeline WHERE stream_id = ANY($1) ORDER BY stream_id, version",
        list(stream_ids),
    )
    return [dict(r) for r in views], [dict(r) for r in timeline]


async def fed(store: EventStore, *stream_ids: str) -> None:
    """Wait until the feed (which `rebuild` reads) delivers every event of the streams: it
    holds back events while an older transaction is open anywhere on the server."""
    wanted = {s: await store.stream_version(s) for s in stream_ids}
    deadline = time.monotonic() + 60
    while True:
        seen: Counter[str] = Counter()
        after = 0
        while batch := await store.read_all(after_position=after, limit=5000):
            seen.update(e.stream_id for e in batch if e.stream_id in wanted)
            after = batch[-1].position
        if all(seen[s] == n for s, n in wanted.items()):
            return
        assert time.monotonic() < deadline, "the feed did not deliver the streams in time"
        await asyncio.sleep(0.05)


async def rebuilt(store: EventStore, *stream_ids: str) -> Rows:
    """The rows a full refold of every stream gives."""
    await fed(store, *stream_ids)
    await Projections(store).rebuild()
    return await rows(store, *stream_ids)


class ReadSpy:
    """Records the `after_version` of every `read_stream` of a store."""

    def __init__(self, store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[tuple[str, int]] = []
        original = store.read_stream

        async def read_stream(stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
            self.reads.append((stream_id, after_version))
            return await original(stream_id, after_version)

        monkeypatch.setattr(store, "read_stream", read_stream)

    def take(self) -> list[tuple[str, int]]:
        taken, self.reads = self.reads, []
        return taken


def cached_version(projections: Projections, stream_id: str) -> int | None:
    entry = projections._cache.get(stream_id)
    return None if entry is None else entry.version


async def test_incremental_refreshes_give_the_rows_of_a_rebuild(
    fresh_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, spy = fresh_store, ReadSpy(fresh_store, monkeypatch)
    first, second = process_id(), process_id()
    projections = Projections(store)
    expected: list[tuple[str, int]] = []  # each refresh reads from the head it last folded
    heads = {first: 0, second: 0}
    for a, b in zip(happy_path(), happy_path("Armenia"), strict=True):
        for stream, events in ((first, a), (second, b)):
            await record(store, stream, events)
            await projections.refresh(stream)
            expected.append((stream, max(heads[stream] - 1, 0)))
            heads[stream] = await store.stream_version(stream)
    version = heads[first]
    assert version > 20 and cached_version(projections, first) == version
    assert spy.take() == expected
    incremental = await rows(store, first, second)
    assert [v["version"] for v in incremental[0]] == [version, version]
    assert len(incremental[1]) == 2 * version
    assert incremental == await rebuilt(store, first, second)


async def test_a_refresh_without_new_events_keeps_the_rows(fresh_store: EventStore) -> None:
    stream, projections = process_id(), Projections(fresh_store)
    for events in list(happy_path())[:4]:
        await record(fresh_store, stream, events)
    await projections.refresh(stream)
    before = await rows(fresh_store, stream)
    await projections.refresh(stream)  # an activity retry: nothing new
    assert await rows(fresh_store, stream) == before == await rebuilt(fresh_store, stream)


async def test_a_cached_state_with_another_hash_is_not_used(
    fresh_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, spy = fresh_store, ReadSpy(fresh_store, monkeypatch)
    stream, projections = process_id(), Projections(store)
    steps = list(happy_path())
    await record_steps(store, stream, steps[:5])
    await projections.refresh(stream)
    cached = projections._cache[stream]
    # What a cache folded on another database would hold: another hash, and a state that
    # gives another view (it must not be evolved further).
    projections._cache[stream] = dataclasses.replace(
        cached, hash=bytes(len(cached.hash)), state=ProcessState()
    )
    await record(store, stream, steps[5])
    spy.take()
    await projections.refresh(stream)
    assert spy.take() == [(stream, cached.version - 1), (stream, 0)]
    head = await store.read_stream(stream, after_version=await store.stream_version(stream) - 1)
    assert projections._cache[stream].version == head[0].version
    assert projections._cache[stream].hash == head[0].hash
    assert await rows(store, stream) == await rebuilt(store, stream)


async def test_a_cache_folded_on_another_database_is_not_used(
    store: EventStore, fresh_store: EventStore
) -> None:
    """The database is reset or replaced under a long-lived worker: same stream id and
    versions, other events. Its cached states must give way to a full refold."""
    stream, shorter = process_id(), process_id()
    elsewhere = Projections(store)
    for one, other in list(zip(happy_path("Georgia"), happy_path("Georgia"), strict=True))[:6]:
        await record(store, stream, one)
        await record(store, shorter, other)
    await elsewhere.refresh(stream)
    await elsewhere.refresh(shorter)

    here = Projections(fresh_store)
    here._cache = elsewhere._cache  # the cache survives the database
    steps = list(happy_path())
    await record_steps(fresh_store, stream, steps[:6])  # the same versions, other events
    await record(fresh_store, shorter, next(happy_path()))  # fewer events than cached
    assert cached_version(here, stream) == await fresh_store.stream_version(stream)
    await Projections(fresh_store).refresh(stream)  # the view is not behind: only the hash tells
    await here.refresh(stream)
    await here.refresh(shorter)
    assert cached_version(here, shorter) == await fresh_store.stream_version(shorter)
    await record_steps(fresh_store, stream, steps[6:8], here)

    projected = await rows(fresh_store, stream, shorter)
    assert "Azerbaijan" in str(projected) and "Georgia" not in str(projected)
    assert projected == await rebuilt(fresh_store, stream, shorter)


async def test_incremental_refresh_inserts_only_the_new_timeline_rows(
    fresh_store: EventStore,
) -> None:
    store, stream = fresh_store, process_id()
    warm = Projections(store)
    steps = list(happy_path())
    await record_steps(store, stream, steps[:5], warm)
    await store.pool.execute(
        "DELETE FROM accord.timeline WHERE stream_id = $1 AND version = 2", stream
    )
    await record(store, stream, steps[5])
    await warm.refresh(stream)  # incremental: versions 1..5 are not written again
    _, timeline = await rows(store, stream)
    head = await store.stream_version(stream)
    assert [t["version"] for t in timeline] == [v for v in range(1, head + 1) if v != 2]

    await Projections(store).refresh(stream)  # cold: a full refold fills the gap
    assert await rows(store, stream) == await rebuilt(store, stream)


@pytest.mark.parametrize("behind", ["rebuilt from fewer events", "view deleted"])
async def test_read_models_behind_the_cache_are_refolded(
    fresh_store: EventStore, monkeypatch: pytest.MonkeyPatch, behind: str
) -> None:
    """The read models lost rows the cache relies on: a rebuild in another process truncated
    them and refolded the feed as it was a few events earlier, or the view row was deleted.
    The incremental refresh must notice and refold, not leave older timeline rows missing."""
    store, stream = fresh_store, process_id()
    projections = Projections(store)
    steps = list(happy_path())
    await record_steps(store, stream, steps[:5], projections)
    if behind == "view deleted":
        await store.pool.execute("DELETE FROM accord.process_view WHERE stream_id = $1", stream)
        await store.pool.execute("DELETE FROM accord.timeline WHERE stream_id = $1", stream)
    else:
        cutoff = (await store.read_stream(stream))[2].position
        await fed(store, stream)
        read_all = store.read_all

        async def feed_until_cutoff(after_position: int = 0, limit: int = 1000) -> list[Any]:
            return [e for e in await read_all(after_position, limit) if e.position <= cutoff]

        with monkeypatch.context() as patched:
            patched.setattr(store, "read_all", feed_until_cutoff)
            await Projections(store).rebuild()
        views, timeline = await rows(store, stream)
        assert [v["version"] for v in views] == [3] and len(timeline) == 3
    await record(store, stream, steps[5])
    await projections.refresh(stream)
    assert await rows(store, stream) == await rebuilt(store, stream)


async def test_the_cache_holds_at_most_its_bound(
    fresh_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, spy = fresh_store, ReadSpy(fresh_store, monkeypatch)
    streams = [process_id() for _ in range(5)]
    projections = Projections(store, cached_streams=3)
    steps = list(happy_path())
    for events in steps[:3]:
        for stream in streams:
            await record(store, stream, events)
            await projections.refresh(stream)
            assert len(projections._cache) <= 3
        # Least recently refreshed first out: only the last three streams are cached.
        assert list(projections._cache) == streams[2:]
    # A cached stream refreshed again becomes the most recent; the oldest goes.
    await projections.refresh(streams[2])
    await record(store, streams[0], steps[3])
    await projections.refresh(streams[0])
    assert list(projections._cache) == [streams[4], streams[2], streams[0]]
    assert spy.take()[-1] == (streams[0], 0)  # evicted: read whole

    uncached = Projections(store, cached_streams=0)
    await record(store, streams[1], steps[3])
    await uncached.refresh(streams[1])
    await uncached.refresh(streams[1])
    assert not uncached._cache
    assert await rows(store, *streams) == await rebuilt(store, *streams)
    with pytest.raises(ValueError):
        Projections(store, cached_streams=-1)


async def test_concurrent_refreshes_of_one_stream(fresh_store: EventStore) -> None:
    """Activity retries and two workers refresh one stream at once, each from its cache."""
    store, stream = fresh_store, process_id()
    one, other = Projections(store), Projections(store)
    for events in happy_path():
        await record(store, stream, events)
        await asyncio.gather(
            one.refresh(stream), one.refresh(stream), other.refresh(stream), other.refresh(stream)
        )
    version = await store.stream_version(stream)
    assert cached_version(one, stream) == cached_version(other, stream) == version
    assert await rows(store, stream) == await rebuilt(store, stream)


async def test_a_slower_refresh_does_not_move_the_view_or_the_cache_back(
    fresh_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refresh A reads versions ..6 and stalls; refresh B reads ..7 and finishes first."""
    store, stream = fresh_store, process_id()
    projections = Projections(store)
    steps = list(happy_path())
    await record_steps(store, stream, steps[:5])
    await projections.refresh(stream)
    read_stream, gate, stalled = store.read_stream, asyncio.Event(), asyncio.Event()

    async def stall_first_read(stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        events = await read_stream(stream_id, after_version)
        if not stalled.is_set():
            stalled.set()
            await gate.wait()
        return events

    monkeypatch.setattr(store, "read_stream", stall_first_read)
    await record(store, stream, steps[5])
    slower = asyncio.create_task(projections.refresh(stream))
    await stalled.wait()
    await record(store, stream, steps[6])
    await projections.refresh(stream)
    head = await store.stream_version(stream)
    gate.set()
    await slower
    assert cached_version(projections, stream) == head
    views, _ = await rows(store, stream)
    assert views[0]["version"] == head
    assert await rows(store, stream) == await rebuilt(store, stream)
