"""The trivial workflows of `bench.temporal_floor` (a module of their own: the workflow
sandbox re-imports a workflow's module, which must not be `__main__`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="floor_noop")
async def floor_noop(n: int) -> int:
    return n


class _Counter:
    """State and end signal shared by the three workflows; each has its own `bump`."""

    def __init__(self) -> None:
        self.total = 0
        self.done = False

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    async def _until_finished(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.total


@workflow.defn(name="FloorBare")
class FloorBare(_Counter):
    @workflow.run
    async def run(self) -> int:
        return await self._until_finished()

    @workflow.update
    async def bump(self, n: int) -> int:
        self.total += n
        return self.total


@workflow.defn(name="FloorActivity")
class FloorActivity(_Counter):
    @workflow.run
    async def run(self) -> int:
        return await self._until_finished()

    @workflow.update
    async def bump(self, n: int) -> int:
        self.total += await workflow.execute_activity(
            floor_noop, n, start_to_close_timeout=timedelta(seconds=30)
        )
        return self.total


@workflow.defn(name="FloorLocalActivity")
class FloorLocalActivity(_Counter):
    @workflow.run
    async def run(self) -> int:
        return await self._until_finished()

    @workflow.update
    async def bump(self, n: int) -> int:
        self.total += await workflow.execute_local_activity(
            floor_noop, n, start_to_close_timeout=timedelta(seconds=30)
        )
        return self.total
