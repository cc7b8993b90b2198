"""Group commit for single-event appends: an option of `EventStore` around its one path.

`EventStore.append` writes an append with one call of the append function
(store/append.py). With group commit (`EventStore(group_commit=N)`, N >= 1; 1 is the
default), a single-event append goes through `GroupCommit.append`, which takes that same
path (`append_alone`) whenever it can and groups only appends that overlap.

A single-event append that finds nothing being written goes at once, alone. Otherwise it is
encoded in the caller's own task (so a caller's bad event fails only that caller) and waits
in a queue; the queue (up to `max_group`, one item per stream, in arrival order) goes to
PostgreSQL in one call of `accord.append_event_group` as soon as fewer than `limit` groups
are being written (default 1): one round trip, one transaction, one WAL flush for all of
them. Under load this is what PostgreSQL's own group commit cannot do for separate
transactions: the per-transaction work (start, commit record, flush wait, client round trip)
is paid once per group instead of once per event.

Each append keeps its own semantics: its own optimistic-concurrency check, its own
idempotency, its own typed error. The group skips heads that another transaction holds
locked (it never waits on them); an item the group did not write (its stream moved or is
locked, or it is a retry of an append already recorded) and every item of a group that
PostgreSQL refused as a whole (say one event's id is recorded elsewhere) are replayed alone
through the one-event append, outside the group's slot, which raises or returns exactly what
an ungrouped append would. So a slow or blocked append delays only itself. When the group's
outcome is unknown (the connection was lost, the write was cancelled), each caller gets a
`StoreError` saying so and may retry: appends are idempotent. A caller cancelled before its
group is formed is dropped from it; after that, its event may be recorded anyway, as with a
cancelled ungrouped append.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from store.append import append_arguments, as_columns
from store.errors import StoreError
from store.model import AppendResult, NewEvent

# `append_arguments` is the append's (store/append.py); named here too for the benchmarks
# that import it from this module (bench/append_paths.py).
__all__ = ["AppendAlone", "GroupCommit", "RunOnConnection", "append_arguments"]

_APPEND_GROUP_SQL = """
SELECT accord.append_event_group($1::text[], $2::integer[], $3::uuid[], $4::text[],
                                 $5::integer[], $6::text[]::jsonb[], $7::text[]::jsonb[],
                                 $8::text[], $9::text[], $10::text[], $11::text[],
                                 $12::text[], $13::bytea[], $14::text[]::jsonb[])
"""

AppendAlone = Callable[[str, int, NewEvent], Awaitable[AppendResult]]
RunOnConnection = Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


class _Pending:
    __slots__ = ("event", "expected_version", "future", "replaying", "row", "stream_id")

    def __init__(
        self,
        stream_id: str,
        expected_version: int,
        event: NewEvent,
        row: tuple[Any, ...],
        future: asyncio.Future[AppendResult],
    ) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.event = event
        self.row = row  # the group function's 14 arguments for this item
        self.future = future
        self.replaying = False  # handed over to a replay of its own


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
        self._groups_in_flight = 0
        self._alone_in_flight = 0
        self._queue: deque[_Pending] = deque()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._start_scheduled = False
        self._idle: asyncio.Event | None = None  # set when the queue and the writes are done
        # For tests and benchmarks: group calls made, appends they wrote, appends replayed alone.
        self.groups_sent = 0
        self.grouped_appends = 0
        self.replayed_alone = 0

    async def append(self, stream_id: str, expected_version: int, event: NewEvent) -> AppendResult:
        if not (self._alone_in_flight or self._groups_in_flight or self._queue):
            # Nothing being written: at once (the sequential case costs no extra hop).
            return await self._alone(stream_id, expected_version, event)
        # Encoded here, in the caller's task: a caller's bad event fails that caller only.
        row = append_arguments(stream_id, expected_version, event)
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(stream_id, expected_version, event, row, future))
        self._schedule_start()
        return await future

    async def drain(self) -> None:
        """Wait until every queued append has been written (for a clean close)."""
        while self._queue or self._tasks:
            self._idle = asyncio.Event()
            await self._idle.wait()

    def _notify_idle(self) -> None:
        if self._idle is not None and not self._queue and not self._tasks:
            self._idle.set()

    async def _alone(self, stream_id: str, expected_version: int, event: NewEvent) -> AppendResult:
        self._alone_in_flight += 1
        try:
            return await self._append_alone(stream_id, expected_version, event)
        finally:
            self._alone_in_flight -= 1

    def _schedule_start(self) -> None:
        # Deferred to the loop's next turn, so that appends arriving together form one group.
        if self._queue and self._groups_in_flight < self._limit and not self._start_scheduled:
            self._start_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_next)

    def _start_next(self) -> None:
        self._start_scheduled = False
        while self._groups_in_flight < self._limit and self._queue:
            group = self._take_group()
            if len(group) == 1:
                self._replay_alone(group[0], counted=False)
            elif group:
                self._groups_in_flight += 1
                task = asyncio.ensure_future(self._write(group))
                self._tasks.add(task)
                task.add_done_callback(functools.partial(self._written, group))

    def _take_group(self) -> list[_Pending]:
        group: list[_Pending] = []
        streams: set[str] = set()
        later: list[_Pending] = []
        while self._queue and len(group) < self._max_group:
            item = self._queue.popleft()
            if item.future.done():  # its caller was cancelled before the group formed
                continue
            if item.stream_id in streams:  # one item per stream and group, in arrival order
                later.append(item)
                continue
            streams.add(item.stream_id)
            group.append(item)
        self._queue.extendleft(reversed(later))
        return group

    async def _write(self, group: list[_Pending]) -> None:
        """One call for the group; whatever it did not write is replayed alone."""
        columns = as_columns([item.row for item in group])
        self.groups_sent += 1
        try:
            positions = await self._run(lambda conn: conn.fetchval(_APPEND_GROUP_SQL, *columns))
        except asyncpg.PostgresError:
            positions = [0] * len(group)  # the transaction rolled back: each on its own
        except Exception as error:  # the connection was lost: the commit's outcome is unknown
            for item in group:
                _settle(item.future, error=_outcome_unknown(error))
            return
        for item, position in zip(group, positions, strict=True):
            if position > 0:
                version = item.expected_version + 1
                self.grouped_appends += 1
                _settle(
                    item.future,
                    result=AppendResult(item.stream_id, version, version, [position], False),
                )
            elif not item.future.done():
                self._replay_alone(item)

    def _written(self, group: list[_Pending], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        for item in group:  # left unsettled only if the write was cancelled or broke
            if not item.replaying and not item.future.done():
                _settle(item.future, error=_outcome_unknown(error))
        # Let the callers just settled run first: a writer that appends again right away
        # joins the next group instead of racing ahead of it alone.
        asyncio.get_running_loop().call_soon(self._finish_write)

    def _finish_write(self) -> None:
        self._groups_in_flight -= 1
        self._start_next()
        self._notify_idle()

    def _replay_alone(self, item: _Pending, *, counted: bool = True) -> None:
        """The one-event append for one item, in a task of its own: it holds no group slot, so an
        append that waits on a lock delays nobody else."""
        item.replaying = True
        self.replayed_alone += counted
        task = asyncio.ensure_future(self._alone(item.stream_id, item.expected_version, item.event))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._replayed, item))

    def _replayed(self, item: _Pending, task: asyncio.Task[AppendResult]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            _settle(item.future, error=_outcome_unknown(None))
        elif (error := task.exception()) is not None:
            _settle(item.future, error=error)  # the caller's own error, as if ungrouped
        else:
            _settle(item.future, result=task.result())
        self._notify_idle()


def _outcome_unknown(cause: BaseException | None) -> StoreError:
    error = StoreError(
        "append outcome unknown: its group's write was interrupted"
        + (f" ({cause!r})" if cause is not None else " (cancelled)")
        + "; retrying the same append is safe"
    )
    error.__cause__ = cause
    return error


def _settle(
    future: asyncio.Future[AppendResult],
    *,
    result: AppendResult | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
