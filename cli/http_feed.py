"""The HTTP feed behind `accord feed-server` (cli/feed_server.py): an aiohttp application.

    GET /events?after=<position>&limit=<n>&wait=<seconds>
    Authorization: Bearer <token>

The token is checked first, on the headers alone; then the parameters; then the store is
read as the read-only `accord_reader` where it can (store/feed_reader.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from cli.events import _line as feed_line  # the very bytes `accord events --json` prints
from store import EventStore, RecordedEvent, UnknownCheckpoint

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_WAIT = 60.0
# A waiting long poll reads the feed this often. Polling rather than LISTEN/NOTIFY: a
# listener holds a connection per waiting client, and appends pay for notifying only while
# someone listens (0004_feed_notify.sql); a read of an idle feed is one index probe.
POLL_INTERVAL = 0.25
# Long polls waiting at once; more get 503 with Retry-After instead of a database connection.
MAX_WAITING = 64
_MAX_POSITION = 2**63 - 1
_PARAMETERS = {"after", "limit", "wait"}
NDJSON = "application/x-ndjson"

STORE_KEY = web.AppKey("store", EventStore)
WAITING_KEY = web.AppKey("waiting", asyncio.Semaphore)


def _error(status: int, code: str, message: str, **fields: str) -> web.Response:
    body = json.dumps({"error": code, **fields, "message": message}, separators=(",", ":"))
    return web.Response(
        status=status,
        text=body + "\n",
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _bad(parameter: str, rule: str) -> web.Response:
    # The rejected value is never echoed: it may be anything, and ends up in logs.
    return _error(400, "invalid_parameter", f"{parameter}: {rule}", parameter=parameter)


def _whole(text: str, parameter: str, low: int, high: int | None) -> int | web.Response:
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return _bad(parameter, f"must be a whole number >= {low}")
    value = int(text)
    if value < low or value > _MAX_POSITION:
        return _bad(parameter, f"must be a whole number >= {low}")
    return value if high is None else min(value, high)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(token: str) -> Any:
    expected = token.encode()

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        # First, before routing answers or parameters are looked at: a caller without the
        # token learns nothing (not even which paths or parameters exist) and reads nothing.
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        presented = given.strip().encode("utf-8", "replace")
        # The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, expected):
            response = _error(401, "unauthorized", "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer realm="accord-feed"'
            return response
        try:
            return await handler(request)
        except web.HTTPException as err:  # 404, 405: the same one-line JSON as the rest
            # The path is not echoed (it is the caller's text); only GET /events exists.
            code = "not_found" if err.status == 404 else "method_not_allowed"
            return _error(err.status, code, f"{err.reason}: the feed is GET /events")

    return check_token


async def events(request: web.Request) -> web.StreamResponse:
    query = request.query
    unknown = sorted(set(query) - _PARAMETERS)
    if unknown:
        return _error(
            400,
            "invalid_parameter",
            "unknown parameter; use after, limit, wait",
            parameter=unknown[0] if unknown[0].isidentifier() and len(unknown[0]) < 40 else "?",
        )
    if any(len(query.getall(name)) > 1 for name in query):
        return _error(400, "invalid_parameter", "each parameter at most once")
    after = _whole(query.get("after", "0"), "after", 0, None)
    if isinstance(after, web.Response):
        return after
    limit = _whole(query.get("limit", str(DEFAULT_LIMIT)), "limit", 1, MAX_LIMIT)
    if isinstance(limit, web.Response):
        return limit
    wait = _whole(query.get("wait", "0"), "wait", 0, int(MAX_WAIT))
    if isinstance(wait, web.Response):
        return wait

    store = request.app[STORE_KEY]
    try:
        batch = await store.read_all(after, limit)
        if not batch and wait > 0:
            waiting = request.app[WAITING_KEY]
            if waiting.locked():
                response = _error(503, "busy", "too many long polls waiting; retry shortly")
                response.headers["Retry-After"] = "1"
                return response
            async with waiting:
                batch = await _wait_for_events(store, after, limit, float(wait))
    except UnknownCheckpoint:
        return _bad("after", "no event has this position; send the position of an event read")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return _error(503, "unavailable", "the event store cannot be read now; retry shortly")
    last = batch[-1].position if batch else after
    return web.Response(
        body="".join(_json_line(event) for event in batch).encode(),
        headers={
            "Content-Type": f"{NDJSON}; charset=utf-8",
            "Cache-Control": "no-store",
            "Accord-Last-Position": str(last),
        },
    )


def _json_line(event: RecordedEvent) -> str:
    return feed_line(event, True) + "\n"


async def _wait_for_events(
    store: EventStore, after: int, limit: int, wait: float
) -> list[RecordedEvent]:
    """The first events after `after` to appear within `wait` seconds, or none."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return []
        await asyncio.sleep(min(POLL_INTERVAL, left))
        batch = await store.read_all(after, limit)
        if batch:
            return batch


# Seconds between keep-alive comments on a quiet stream, so that proxies keep it open.
KEEP_ALIVE = 15.0


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: every event after `after` (or the `Last-Event-ID` header, which
    an EventSource sends when it reconnects), then each new one as it is recorded, until the
    client hangs up. Each message is `id: <position>`, `event: accord-event`, `data: <the
    NDJSON line>`; the id is the checkpoint."""
    query = request.query
    if set(query) - {"after"} or len(query.getall("after", [])) > 1:
        return _error(400, "invalid_parameter", "the stream takes one parameter: after")
    resume = request.headers.get("Last-Event-ID")
    source = "after" if resume is None else "Last-Event-ID"
    after = _whole(query.get("after", "0") if resume is None else resume, source, 0, None)
    if isinstance(after, web.Response):
        return after
    store = request.app[STORE_KEY]
    waiting = request.app[WAITING_KEY]
    if waiting.locked():
        busy = _error(503, "busy", "too many clients waiting; retry shortly")
        busy.headers["Retry-After"] = "1"
        return busy
    async with waiting:
        try:
            batch = await store.read_all(after, MAX_LIMIT)
        except UnknownCheckpoint:
            return _bad(source, "no event has this position; send the position of an event read")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return _error(503, "unavailable", "the event store cannot be read now; retry shortly")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        quiet_since = asyncio.get_running_loop().time()
        try:
            while True:
                if batch:
                    await response.write(
                        "".join(
                            f"id: {e.position}\nevent: accord-event\ndata: {feed_line(e, True)}\n\n"
                            for e in batch
                        ).encode()
                    )
                    after = batch[-1].position
                    quiet_since = asyncio.get_running_loop().time()
                elif asyncio.get_running_loop().time() - quiet_since >= KEEP_ALIVE:
                    await response.write(b": keep-alive\n\n")
                    quiet_since = asyncio.get_running_loop().time()
                await asyncio.sleep(0 if len(batch) == MAX_LIMIT else POLL_INTERVAL)
                batch = await store.read_all(after, MAX_LIMIT)
        except (ConnectionError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # the client hung up, or the store failed: end the stream; it resumes by id
        return response


def build_app(store: EventStore, token: str) -> web.Application:
    app = web.Application(middlewares=[auth_middleware(token)], client_max_size=4096)
    app[STORE_KEY] = store
    app[WAITING_KEY] = asyncio.Semaphore(MAX_WAITING)
    app.router.add_get("/events", events, allow_head=False)
    app.router.add_get("/events/stream", stream, allow_head=False)
    return app


async def _may_append(store: EventStore) -> bool:
    """Whether this login could append: then it is not the read-only role."""
    allowed = await store.pool.fetchval(
        "SELECT has_function_privilege(current_user, 'accord.append_event(text, integer,"
        " uuid, text, integer, jsonb, jsonb, text, text, text, text, text, bytea, jsonb)',"
        " 'EXECUTE')"
    )
    return bool(allowed)


async def serve(bind: str, port: int, token: str) -> int:
    from store.feed_reader import feed_database_url

    try:
        url, _ = await asyncio.to_thread(feed_database_url)
        store = await EventStore.connect(url, min_size=1, max_size=4, migrate=False, group_commit=0)
    except Exception as err:  # a set-up mistake: say which kind, never the URL (a password)
        print(
            f"accord: feed-server: cannot connect to the event store ({type(err).__name__})",
            file=sys.stderr,
        )
        return 2
    # A client that hangs up cancels its long poll (freeing its place among MAX_WAITING);
    # on SIGTERM, waiting long polls get at most 2 s before they are cut.
    runner = web.AppRunner(
        build_app(store, token), access_log=None, handler_cancellation=True, shutdown_timeout=2.0
    )
    try:
        if await _may_append(store):
            print(
                "accord: feed-server: warning: this database role may append events; "
                "use a member of accord_reader (ACCORD_FEED_DATABASE_URL)",
                file=sys.stderr,
            )
        await runner.setup()
        site = web.TCPSite(runner, bind, port)
        try:
            await site.start()
        except OSError as err:
            print(
                f"accord: feed-server: cannot listen on {bind}:{port} "
                f"({err.strerror or type(err).__name__})",
                file=sys.stderr,
            )
            return 2
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"feed server on http://{bind}:{port}/events", file=sys.stderr, flush=True)
        await stop.wait()
        return 0
    finally:
        await runner.cleanup()
        await store.close()
