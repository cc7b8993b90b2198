"""`accord events`: the global feed for other services and operators.

    accord events --after 0 --json            # NDJSON, one event a line, then exit
    accord events --after 1234 --follow --json  # ... and keep following

Resume a reader with `--after <position of the last line it processed>`: the feed never
skips or repeats an event after a checkpoint (store/README.md, "The global feed").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from domain.text import visible
from store import EventStore, RecordedEvent, UnknownCheckpoint
from store.embedded import database_url
from store.feed import feed_event_json, subscribe


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("events", help="print the global event feed (NDJSON with --json)")
    p.add_argument(
        "--after",
        type=int,
        default=0,
        metavar="POSITION",
        help="the position of the last event already processed (0: from the start)",
    )
    p.add_argument("--follow", action="store_true", help="keep following new events")
    p.add_argument("--limit", type=int, metavar="K", help="stop after K events")
    p.add_argument("--json", action="store_true", help="one JSON object per line (NDJSON)")


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _line(event: RecordedEvent, as_json: bool) -> str:
    if as_json:
        # json.dumps escapes C0 controls; C1, separators and bidi characters are escaped
        # too, so a followed feed printed on a terminal cannot be driven by event data.
        line = json.dumps(feed_event_json(event), ensure_ascii=False, separators=(",", ":"))
        return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
    actor = event.metadata.actor or {}
    who = f"{actor.get('party', '-')}:{actor.get('role', '-')}" if actor else "-"
    # Escaped: other services' streams share the feed, and nothing they recorded may
    # drive the operator's terminal (the JSON form is escaped by json.dumps, below C1).
    return visible(
        f"{event.position:>10}  {event.metadata.occurred_on:<10}  {event.stream_id} "
        f"v{event.version}  {event.event_type}  {who}"
    )


async def run(args: argparse.Namespace) -> int:
    if args.after < 0 or (args.limit is not None and args.limit < 1):
        print("accord events: --after must be >= 0 and --limit >= 1", file=sys.stderr)
        return 2
    remaining = args.limit
    store = await EventStore.connect(database_url(), min_size=1, max_size=3)
    try:
        async with subscribe(
            store,
            args.after,
            follow=args.follow,
            batch_size=min(remaining or 500, 500),
        ) as feed:
            async for event in feed:
                # Flushed per line: a reader of a followed feed gets each event at once.
                print(_line(event, args.json), flush=args.follow)
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        break
    except UnknownCheckpoint as err:
        print(f"accord events: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`accord events | head`): not an error. Point stdout at
        # /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        await store.close()
    return 0
