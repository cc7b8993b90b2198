"""The codec server: Temporal's remote codec protocol, so the web UI can show decrypted data.

`POST .../encode` and `POST .../decode` take and return `{"payloads": [...]}`, the proto
JSON form of `Payloads` (metadata values and data in base64), as the UI and the
`temporal` CLI send it; only the last path segment selects the endpoint. Every request
needs the shared secret `ACCORD_CODEC_SERVER_TOKEN`, either as `Authorization: Bearer`
(scripts, a UI that passes its access token) or as the cookie set by `/login` (the dev
UI has no access token: sign in once at `<server>/login`, then enable "Include
cross-origin credentials" in the UI's codec settings). CORS admits only the configured
UI origins; preflights need no token (browsers never send one with them).

It is a decryption oracle, so nothing of a request is read before it is known to be
allowed: the token is checked on the headers alone, then a `Content-Length` is required
and checked against the cap, and only then is the body read (at most that many bytes,
within `REQUEST_TIMEOUT`). A refused request is answered at once and its connection
closed without reading its body. `/login` reads at most `MAX_LOGIN_BODY` bytes.

Standard library only: `ThreadingHTTPServer` in a background thread; the codec is
synchronous and thread-safe.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from temporalio.api.common.v1 import Payload

from security.codec import AesGcmCodec, CodecError, codec_keys_from_env

DEFAULT_PORT = 8888
DEFAULT_ORIGIN = "http://127.0.0.1:8233"
MAX_BODY = 16 * 1024 * 1024  # a history page's payloads; Temporal caps one payload at 2 MiB
MAX_LOGIN_BODY = 4096  # a form with one token
REQUEST_TIMEOUT = 30.0  # seconds a client may take to send a request (slow senders)
MAX_CONNECTIONS = 64  # open at once; a UI opens a handful
COOKIE = "accord_codec"
# `/login` lets anyone guess: the token must be out of reach of guessing (`openssl rand
# -base64 32`, as deploy/init-secrets.sh does).
MIN_TOKEN = 16

log = structlog.get_logger("accord.codec_server")


def ui_codec_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """Where the dev server's UI finds the codec server: set only when keys are configured.

    `ACCORD_CODEC_SERVER_URL`, else `http://127.0.0.1:<ACCORD_CODEC_SERVER_PORT or 8888>`.
    """
    env = os.environ if environ is None else environ
    if codec_keys_from_env(env) is None:
        return None
    port = env.get("ACCORD_CODEC_SERVER_PORT") or str(DEFAULT_PORT)
    return env.get("ACCORD_CODEC_SERVER_URL") or f"http://127.0.0.1:{port}"


_LOGIN_FORM = b"""<!doctype html><meta charset="utf-8"><title>Accord codec server</title>
<form method="post" action="login"><p>Codec server token
<input type="password" name="token" autofocus> <button>Sign in</button></p></form>
<p>Then enable <b>Include cross-origin credentials</b> in the Temporal UI's codec settings.</p>
"""
_SIGNED_IN = b"""<!doctype html><meta charset="utf-8"><title>Accord codec server</title>
<p>Signed in: the Temporal UI on this host can now decode payloads.</p>
"""


def _b64decode(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("base64 string expected")
    # Proto JSON readers accept both alphabets, with or without padding.
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("invalid base64") from None


def payloads_from_json(body: Any) -> list[Payload]:
    """`{"payloads": [{"metadata": {k: b64}, "data": b64}]}` -> payloads."""
    items = body.get("payloads") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError('expected {"payloads": [...]}')
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each payload must be an object")
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ValueError("payload metadata must be an object")
        out.append(
            Payload(
                metadata={str(k): _b64decode(v) for k, v in metadata.items()},
                data=_b64decode(item.get("data", "")),
            )
        )
    return out


def payloads_to_json(payloads: Sequence[Payload]) -> dict[str, Any]:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return {
        "payloads": [
            {"metadata": {k: b64(v) for k, v in p.metadata.items()}, "data": b64(p.data)}
            for p in payloads
        ]
    }


class _BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most `MAX_CONNECTIONS` at once: one more is closed at
    once, unread, so that idle or slow clients cannot pile up threads (each lives at most
    `REQUEST_TIMEOUT` per read)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class CodecServer:
    """`/encode`, `/decode` and `/login` over HTTP, served from a background thread."""

    def __init__(
        self,
        codec: AesGcmCodec,
        token: str,
        origins: Sequence[str] = (DEFAULT_ORIGIN,),
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
    ) -> None:
        if len(token) < MIN_TOKEN:
            raise ValueError(
                f"the codec server needs a token of at least {MIN_TOKEN} characters"
                " (ACCORD_CODEC_SERVER_TOKEN)"
            )
        self.codec = codec
        self.origins = frozenset(o.rstrip("/") for o in origins)
        # Digests are compared, so compare_digest's time does not depend on the length.
        self._token_digest = hashlib.sha256(token.encode()).digest()
        # The cookie holds a value derived from the token, never the token itself.
        self._cookie_value = hmac.new(token.encode(), b"accord-codec-cookie", "sha256").hexdigest()
        self.host = host
        self._httpd = _BoundedHTTPServer((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def authorized(self, authorization: str | None, cookie_header: str | None) -> bool:
        if authorization and authorization.startswith("Bearer "):
            presented = authorization.removeprefix("Bearer ").strip().encode()
            if hmac.compare_digest(hashlib.sha256(presented).digest(), self._token_digest):
                return True
        if cookie_header:
            try:
                morsel = SimpleCookie(cookie_header).get(COOKIE)
            except CookieError:
                return False
            if morsel is not None:
                return hmac.compare_digest(morsel.value.encode(), self._cookie_value.encode())
        return False

    def login_cookie(self, presented: str) -> str | None:
        digest = hashlib.sha256(presented.encode()).digest()
        if not hmac.compare_digest(digest, self._token_digest):
            return None
        return f"{COOKIE}={self._cookie_value}; HttpOnly; SameSite=Strict; Path=/"

    def start(self) -> CodecServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="codec-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve loop that never began
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()


def _handler_for(server: CodecServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "AccordCodec"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        # Applies to every read of the connection: headers, body, the idle wait between
        # requests; a client that stalls is dropped instead of holding a thread.
        timeout = REQUEST_TIMEOUT

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines only (method, path, status); bodies are never logged.
            log.debug("codec request", line=format % args)

        def _endpoint(self) -> str:
            return urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1]

        def _cors(self) -> None:
            origin = (self.headers.get("Origin") or "").rstrip("/")
            if origin in server.origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Vary", "Origin")

        def _reply(
            self,
            status: HTTPStatus,
            body: bytes = b"",
            content_type: str = "application/json",
            extra: Callable[[], None] | None = None,
        ) -> None:
            if self.command != "POST" and (
                self.headers.get("Transfer-Encoding")
                or (self.headers.get("Content-Length") or "0").strip() != "0"
            ):
                self.close_connection = True  # a body nobody reads: no next request after it
            self.send_response(status)
            self._cors()
            if extra is not None:
                extra()
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")  # the client knows not to send more
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: HTTPStatus, message: str) -> None:
            extra = None
            if status == HTTPStatus.UNAUTHORIZED:

                def extra() -> None:
                    self.send_header("WWW-Authenticate", 'Bearer realm="accord-codec"')

            self._reply(status, json.dumps({"error": message}).encode(), extra=extra)

        def _refuse(self, status: HTTPStatus, message: str) -> None:
            """Answer without reading the body: the connection cannot carry another request."""
            self.close_connection = True
            self._error(status, message)

        def _body(self, limit: int) -> bytes | None:
            """The body, read only up to its declared length and the limit; None if refused."""
            if self.headers.get("Transfer-Encoding"):
                self._refuse(HTTPStatus.LENGTH_REQUIRED, "Content-Length required, no chunks")
                return None
            declared = self.headers.get("Content-Length")
            if declared is None:
                self._refuse(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
                return None
            if not declared.strip().isascii() or not declared.strip().isdigit():
                self._refuse(HTTPStatus.BAD_REQUEST, "Content-Length must be a number")
                return None
            length = int(declared)
            if length > limit:
                self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body above {limit} bytes")
                return None
            try:
                raw = self.rfile.read(length)
            except OSError:  # the timeout, or the client went away
                self.close_connection = True
                return None
            if len(raw) != length:
                self.close_connection = True
                return None
            return raw

        def do_OPTIONS(self) -> None:
            origin = (self.headers.get("Origin") or "").rstrip("/")
            if origin not in server.origins:
                self._reply(HTTPStatus.FORBIDDEN)
                return

            def allow() -> None:
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header(
                    "Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace"
                )
                self.send_header("Access-Control-Max-Age", "600")

            self._reply(HTTPStatus.NO_CONTENT, extra=allow)

        def do_GET(self) -> None:
            if self._endpoint() == "login":
                self._reply(HTTPStatus.OK, _LOGIN_FORM, "text/html; charset=utf-8")
            else:
                self._error(HTTPStatus.NOT_FOUND, "not found")

        def do_POST(self) -> None:
            endpoint = self._endpoint()
            if endpoint not in ("encode", "decode", "login"):
                self._refuse(HTTPStatus.NOT_FOUND, "not found")
                return
            if endpoint == "login":
                raw = self._body(MAX_LOGIN_BODY)
                if raw is not None:
                    self._login(raw)
                return
            # The headers alone decide: an unauthorized caller's body is never read.
            if not server.authorized(self.headers.get("Authorization"), self.headers.get("Cookie")):
                self._refuse(HTTPStatus.UNAUTHORIZED, "codec server token required")
                return
            raw = self._body(MAX_BODY)
            if raw is None:
                return
            try:
                payloads = payloads_from_json(json.loads(raw or b"{}"))
                convert = server.codec.encrypt if endpoint == "encode" else server.codec.decrypt
                result = payloads_to_json([convert(p) for p in payloads])
            except (ValueError, CodecError) as err:  # CodecError names the key id only
                self._error(HTTPStatus.BAD_REQUEST, str(err))
                return
            self._reply(HTTPStatus.OK, json.dumps(result).encode())

        def _login(self, raw: bytes) -> None:
            presented = parse_qs(raw.decode("utf-8", "replace")).get("token", [""])[0]
            cookie = server.login_cookie(presented)
            if cookie is None:
                self._error(HTTPStatus.UNAUTHORIZED, "wrong token")
                return
            self._reply(
                HTTPStatus.OK,
                _SIGNED_IN,
                "text/html; charset=utf-8",
                extra=lambda: self.send_header("Set-Cookie", cookie),
            )

    return Handler
