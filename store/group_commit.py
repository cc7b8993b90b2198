"""Group commit for single-event appends (see `EventStore`).

A single-event append that finds nothing being written goes at once. Otherwise it waits in
a queue, and the queue (up to `max_group`, one item per stream) goes to PostgreSQL in one
call, `accord.append_event_group`, as soon as fewer than `limit` writes are in progress
(default 1): one round trip, one transaction, one WAL flush for all of them. Under load
this is what PostgreSQL's own group commit cannot do for separate transactions: the
per-transaction work (start, commit record, flush wait, client round trip) is paid once per
group instead of once per event.

Each append keeps its own semantics: its own optimistic-concurrency check, its own
idempotency, its own typed error. An item the group did not write (its stream moved, or it
is a retry of an append already recorded) and every item of a group that failed as a whole
(say one event's id is recorded elsewhere) are replayed alone through `append_event`,
which raises or returns exactly what an ungrouped append would. A caller that is cancelled
before its group is sent is dropped from it; after that, its event may be recorded anyway,
as with a cancelled ungrouped append.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from store.digest import encode_content
from store.model import AppendResult, NewEvent

_APPEND_GROUP_SQL = """
SELECT accord.append_event_group($1::text[], $2::integer[], $3::uuid[], $4::text[],
                                 $5::integer[], $6::text[]::jsonb[], $7::text[]::jsonb[],
                                 $8::date[], $9::text[], $10::text[], $11::text[],
                                 $12::text[], $13::bytea[])
"""

AppendAlone = Callable[[str, int, NewEvent], Awaitable[AppendResult]]
RunOnConnection = Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


class _Pending:
    __slots__ = ("event", "expected_version", "future", "stream_id")

    def __init__(
        self,
        stream_id: str,
        expected_version: int,
        event: NewEvent,
        future: asyncio.Future[AppendResult],
    ) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.event = event
        self.future = future


class GroupCommit:
    def __init__(
        self,
        run: RunOnConnection,
        append_alone: AppendAlone,
        *,
        limit: int = 1,
        max_group: int = 100,
    ) -> None:
        if limit < 1 or max_group < 2:
            raise ValueError("group commit needs limit >= 1 and max_group >= 2")
        self._run = run
        self._append_alone = append_alone
        self._limit = limit
        self._max_group = max_group
        self._in_flight = 0
        self._queue: deque[_Pending] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._start_scheduled = False
        self.groups_sent = 0  # groups of two or more sent together (for tests and benches)

    async def append(self, stream_id: str, expected_version: int, event: NewEvent) -> AppendResult:
        if self._in_flight == 0 and not self._queue:
            # Nothing to wait for: write at once (the sequential case costs no extra hop).
            self._in_flight += 1
            try:
                return await self._append_alone(stream_id, expected_version, event)
            finally:
                self._in_flight -= 1
                self._start_next()
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(stream_id, expected_version, event, future))
        self._schedule_start()
        return await future

    async def drain(self) -> None:
        """Wait until every queued append has been written (for a clean close)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _schedule_start(self) -> None:
        # Deferred to the loop's next turn, so that appends arriving together form one group.
        if self._in_flight < self._limit and not self._start_scheduled:
            self._start_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_next)

    def _start_next(self) -> None:
        self._start_scheduled = False
        while self._in_flight < self._limit and self._queue:
            group = self._take_group()
            if not group:
                continue
            self._in_flight += 1
            task = asyncio.ensure_future(self._write(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take_group(self) -> list[_Pending]:
        group: list[_Pending] = []
        streams: set[str] = set()
        later: list[_Pending] = []
        while self._queue and len(group) < self._max_group:
            item = self._queue.popleft()
            if item.future.done():  # its caller was cancelled before it was sent
                continue
            if item.stream_id in streams:  # one item per stream and group, in arrival order
                later.append(item)
                continue
            streams.add(item.stream_id)
            group.append(item)
        self._queue.extendleft(reversed(later))
        return group

    async def _write(self, group: list[_Pending]) -> None:
        try:
            alone = group
            if len(group) > 1:  # a group of one goes the cheaper single-event way
                alone = await self._write_together(group)
            for item in alone:
                if item.future.done():
                    continue
                try:
                    result = await self._append_alone(
                        item.stream_id, item.expected_version, item.event
                    )
                except Exception as error:  # the caller's own error, as if ungrouped
                    _settle(item.future, error=error)
                else:
                    _settle(item.future, result=result)
        except BaseException as error:  # cancelled (shutdown) or worse: nobody is left waiting
            for item in group:
                _settle(item.future, error=error)
            raise
        finally:
            # Let the callers just settled run first: a writer that appends again right away
            # joins the next group instead of racing ahead of it alone.
            asyncio.get_running_loop().call_soon(self._finish_write)

    def _finish_write(self) -> None:
        self._in_flight -= 1
        self._start_next()

    async def _write_together(self, group: list[_Pending]) -> list[_Pending]:
        """Write the group in one call; return the items to replay alone."""
        args = _group_arguments(group)
        self.groups_sent += 1
        try:
            positions = await self._run(lambda conn: conn.fetchval(_APPEND_GROUP_SQL, *args))
        except asyncpg.PostgresError:
            return group  # the transaction rolled back: nothing written, each on its own
        except Exception as error:  # connection lost: the commit's outcome is unknown
            for item in group:
                _settle(item.future, error=error)
            return []
        alone = []
        for item, position in zip(group, positions, strict=True):
            if position > 0:
                version = item.expected_version + 1
                _settle(
                    item.future,
                    result=AppendResult(item.stream_id, version, version, [position], False),
                )
            else:
                alone.append(item)
        return alone


def _settle(
    future: asyncio.Future[AppendResult],
    *,
    result: AppendResult | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    elif error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


def _group_arguments(group: list[_Pending]) -> tuple[list[Any], ...]:
    columns: tuple[list[Any], ...] = tuple([] for _ in range(13))
    for item in group:
        e, m = item.event, item.event.metadata
        version = item.expected_version + 1
        digest, data_json, actor_json = encode_content(
            event_id=e.event_id,
            stream_id=item.stream_id,
            version=version,
            event_type=e.event_type,
            schema_version=e.schema_version,
            data=e.data,
            metadata=m,
        )
        for column, value in zip(
            columns,
            (
                item.stream_id,
                item.expected_version,
                e.event_id,
                e.event_type,
                e.schema_version,
                data_json,
                actor_json,
                m.occurred_on,
                m.correlation_id,
                m.causation_id,
                m.workflow_id,
                m.run_id,
                digest,
            ),
            strict=True,
        ):
            column.append(value)
    return columns
