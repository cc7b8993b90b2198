"""The codec server's HTTP: aiohttp's low-level server, hardened for a decryption oracle.

aiohttp parses requests, keeps connections alive and drops a client that sends no whole
request head within `keepalive_timeout` (counted from the connection's start, so a slow
sender of headers is dropped too). What the codec server needs beyond that is here:

- a connection cap: one connection more than `max_connections` is closed at once, unread;
- `read_body`: a `Content-Length` is required and checked against a limit before any byte
  is read, then the body is read within a deadline, or the connection is dropped unanswered;
  an answer the client does not read within the same deadline drops it too;
- nothing is read for a handler that refused: no draining of an unread body
  (`lingering_time=0`) and no inflating of one (`auto_decompress=False`); aiohttp's flow
  control holds at most about two read buffers (2 x 64 KiB) of it, unparsed;
- aiohttp answers a malformed request head itself (400, plain text, `HTTP/1.0`: it cannot
  know the client's version), and logs it with the offending header quoted, which may
  carry a token; those records are dropped.

`BackgroundServer` runs it on its own event loop, in a daemon thread or the caller's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

log = structlog.get_logger("accord.codec_server")


class Refused(Exception):
    """Answer `status` without reading the body: the connection cannot carry another
    request, so it is closed after the answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class _HungUp(Exception):
    """The connection was dropped: there is nobody left to answer."""


async def read_body(request: web.BaseRequest, limit: int, within: float) -> bytes:
    """The body, read only up to its declared length, at most `limit`, in `within` seconds."""
    if "Transfer-Encoding" in request.headers:
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length required, no chunks")
    length = request.content_length  # a malformed one was refused by aiohttp's parser
    if length is None:
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
    if length > limit:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body above {limit} bytes")
    try:
        async with asyncio.timeout(within):
            return await request.content.readexactly(length)
    except (TimeoutError, EOFError, ConnectionError):  # stalled, or the client went away
        _hang_up(request)
        raise _HungUp from None


class BackgroundServer:
    """Serves `handler` on `host:port`, bound at once (a port in use fails here and `port`
    is known before serving); `start` serves from a daemon thread, `serve_forever` from
    the calling one, `stop` from any other."""

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        *,
        request_timeout: float,
        max_connections: int,
    ) -> None:
        self._handler = handler
        self._socket = socket.create_server((host, port))
        self._request_timeout = request_timeout
        self._max_connections = max_connections
        self._thread: threading.Thread | None = None
        self._serving: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]]
        self._serving = concurrent.futures.Future()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        """Returns once connections are served; raises what prevented it."""
        self._thread = threading.Thread(target=self.serve_forever, name="codec-server", daemon=True)
        self._thread.start()
        self._serving.result(timeout=30)

    def serve_forever(self) -> None:
        asyncio.run(self._serve())

    def stop(self) -> None:
        if self._serving.done() and self._serving.exception() is None:
            loop, stopping = self._serving.result()
            with contextlib.suppress(RuntimeError):  # stopped already: its loop is closed
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._socket.close()

    async def _serve(self) -> None:
        server = _BoundedServer(
            self._answer,
            limit=self._max_connections,
            keepalive_timeout=self._request_timeout,
            lingering_time=0,
            auto_decompress=False,
            logger=_aiohttp_log,
            access_log_class=_RequestLog,
        )
        runner = web.ServerRunner(server, shutdown_timeout=2.0)  # in-flight requests at stop
        try:
            await runner.setup()
            await web.SockSite(runner, self._socket).start()
            stopping = asyncio.Event()
            self._serving.set_result((asyncio.get_running_loop(), stopping))
            await stopping.wait()
        except BaseException as err:
            if not self._serving.done():  # `start` is waiting for this
                self._serving.set_exception(err)
            raise
        finally:
            await runner.cleanup()

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        """The handler's answer, sent here so that a client that does not read it is
        dropped after the same timeout as one that does not send."""
        try:
            response = await self._handler(request)
            async with asyncio.timeout(self._request_timeout):
                await response.prepare(request)
                await response.write_eof()
        except (_HungUp, TimeoutError, ConnectionError):
            _hang_up(request)
            return web.Response(status=HTTPStatus.REQUEST_TIMEOUT)  # never sent: it is closed
        return response


class _BoundedServer(web.Server):
    """At most `limit` connections at once, so idle or slow clients cannot pile up (each
    is dropped after the keep-alive timeout); one more is closed at once, unread."""

    def __init__(self, handler: Handler, *, limit: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limit = limit

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if len(self.connections) >= self._limit:
            _close(transport)
            handler.force_close()  # its request loop ends before reading anything
            return
        super().connection_made(handler, transport)


def _hang_up(request: web.BaseRequest) -> None:
    if request.transport is not None:
        _close(request.transport)
    request.protocol.force_close()  # its request loop ends: nothing more is read


def _close(transport: asyncio.Transport) -> None:
    """FIN first, then close: a bare close with unread bytes is a reset, which the client
    reads as an error instead of the end of the connection. But a reset if part of an
    answer is still unsent: its reader stalled, and a close would wait for it to read."""
    if transport.get_write_buffer_size():
        transport.abort()
        return
    if transport.can_write_eof():
        transport.write_eof()
    transport.close()


class _RequestLog(AbstractAccessLogger):
    """Request lines only (method, path, status); bodies are never logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log.debug("codec request", line=f"{request.method} {request.path} {response.status}")


class _NoMalformedHeads(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], HttpProcessingError))


_aiohttp_log = logging.getLogger("accord.codec_server.http")
_aiohttp_log.addFilter(_NoMalformedHeads())
