"""Where a CLI command runs: a configured cluster, or everything embedded on this machine.

With `TEMPORAL_ADDRESS` set, the CLI talks to that cluster and expects a worker there.
Without it, it uses the embedded dev server (started if needed) and the embedded
PostgreSQL, and runs a worker in-process for the command's duration.

Either way the client mints a 5-minute actor token for each start and update, for the
actor the command names and the process it targets (`security.actor_binding`), from
`ACCORD_ACTOR_KEYS(_FILE)` or, without a cluster, the local ring `.data/keys/actor.keys`
that the worker on this machine uses too (created on first use).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client

from cli.devserver import DevServer, embedded_dev_server
from store import EventStore
from store.embedded import database_url
from workers.config import TemporalSettings
from workers.main import running_worker


@dataclass
class Session:
    client: Client
    store: EventStore
    task_queue: str
    embedded: DevServer | None  # set when the dev server on this machine is used

    @property
    def ui_url(self) -> str | None:
        return self.embedded.ui_url if self.embedded else None


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@asynccontextmanager
async def open_session(
    *, stop_started_server: bool = False, in_process_worker: bool | None = None
) -> AsyncIterator[Session]:
    """Connect (starting embedded services when no cluster is configured)."""
    remote = os.environ.get("TEMPORAL_ADDRESS")
    server = None if remote else embedded_dev_server()
    # Settings first (keys, the local actor key ring): a configuration mistake is reported
    # before anything is started.
    settings = TemporalSettings.from_env(address=remote or (server.address if server else None))
    started = False
    if server is not None:
        if not server.running():
            _progress(f"starting the Temporal dev server on {server.address} ...")
        started = server.start()
    async with AsyncExitStack() as stack:
        if started and stop_started_server and server is not None:
            stack.callback(server.stop)
        db_url = database_url()
        store = await EventStore.connect(db_url)
        stack.push_async_callback(store.close)
        client = await settings.connect()
        if in_process_worker if in_process_worker is not None else not remote:
            await stack.enter_async_context(running_worker(client, settings.task_queue, db_url))
        yield Session(client=client, store=store, task_queue=settings.task_queue, embedded=server)
