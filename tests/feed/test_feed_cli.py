"""`accord events`: the feed as NDJSON for other services, resumable from any line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from typing import Any

from domain import decode_event
from store import EventStore
from store.feed import FeedEventJson
from tests.feed.feed_support import consent, feed_from, feed_head
from tests.processes import accord, spawn_accord


def environment(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url}


async def run_accord(database_url: str, *args: str) -> tuple[int, str, str]:
    return await accord(*args, env=environment(database_url), within=45)


def ndjson(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    assert all(line.startswith("{") for line in lines), text
    return [json.loads(line) for line in lines]


async def test_events_json_is_ndjson_and_resumes_after_any_line(
    store: EventStore, database_url: str
) -> None:
    start = await feed_head(store)
    run = uuid.uuid4().hex[:8]
    for i in range(30):
        await store.append(f"coop-cli-{run}-{i % 3}", i // 3, [consent("mfa")])
    feed = [e.position for e in await feed_from(store, start)]

    code, out, err = await run_accord(database_url, "events", "--after", str(start), "--json")
    assert code == 0, err
    lines = ndjson(out)
    assert [line["position"] for line in lines] == feed
    # Every key, `source` aside: it is there only when the event cites one.
    assert set(lines[0]) == set(FeedEventJson.__required_keys__)
    assert FeedEventJson.__optional_keys__ == {"source"}
    first = lines[0]
    assert first["type"] == "ConsentGranted" and first["schema_version"] == 1
    assert first["actor"] == {"party": "mfa", "role": "head"}
    decode_event(first["type"], first["schema_version"], first["data"])  # the domain's shape

    # A reader that stopped after 12 lines resumes after the 12th position.
    code, out, err = await run_accord(
        database_url, "events", "--after", str(start), "--limit", "12", "--json"
    )
    assert code == 0, err
    head = ndjson(out)
    code, out, err = await run_accord(
        database_url, "events", "--after", str(head[-1]["position"]), "--json"
    )
    assert code == 0, err
    assert [line["position"] for line in head + ndjson(out)] == feed


async def test_events_follow_prints_each_event_as_it_commits(
    store: EventStore, database_url: str
) -> None:
    start = await feed_head(store)
    process = await spawn_accord(
        "events",
        "--after",
        str(start),
        "--follow",
        "--json",
        env=environment(database_url),
        stdout=True,
    )
    assert process.stdout is not None
    try:
        run = uuid.uuid4().hex[:8]
        printed = []
        for version in range(3):
            new = consent("mfa")
            await store.append(f"coop-follow-{run}", version, [new])
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            printed.append(json.loads(line))
            assert printed[-1]["event_id"] == str(new.event_id)
        assert [p["version"] for p in printed] == [1, 2, 3]
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 15) == 130
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_events_refuses_a_checkpoint_that_names_no_event(database_url: str) -> None:
    code, out, err = await run_accord(database_url, "events", "--after", "987654321", "--json")
    assert code == 2
    assert out == ""
    assert "no event at position 987654321" in err
