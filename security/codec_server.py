"""The codec server: Temporal's remote codec protocol, so the web UI can show decrypted data.

`POST .../encode` and `POST .../decode` take and return `{"payloads": [...]}`, the proto
JSON form of `Payloads` (read and written by protobuf's `json_format`), as the UI and the
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

This module decides what each request gets; `security/codec_http.py` serves it (aiohttp's
low-level server in a background thread: one handler, no router, since the last segment
is the route) and bounds what is read and how long it may take.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from security.codec import AesGcmCodec, CodecError, codec_keys_from_env
from security.codec_http import BackgroundServer, Refused, read_body
from security.settings import DEFAULT_CODEC_SERVER_PORT, CodecServerSettings

DEFAULT_PORT = DEFAULT_CODEC_SERVER_PORT
DEFAULT_ORIGIN = "http://127.0.0.1:8233"
MAX_BODY = 16 * 1024 * 1024  # a history page's payloads; Temporal caps one payload at 2 MiB
MAX_LOGIN_BODY = 4096  # a form with one token
REQUEST_TIMEOUT = 30.0  # seconds a client may take to send a request, or to read its answer
MAX_CONNECTIONS = 64  # open at once; a UI opens a handful
COOKIE = "accord_codec"
# `/login` lets anyone guess: the token must be out of reach of guessing (`openssl rand
# -base64 32`, as deploy/init-secrets.sh does).
MIN_TOKEN = 16


def ui_codec_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """Where the dev server's UI finds the codec server: set only when keys are configured.

    `ACCORD_CODEC_SERVER_URL`, else `http://127.0.0.1:<ACCORD_CODEC_SERVER_PORT or 8888>`.
    """
    if codec_keys_from_env(environ) is None:
        return None
    settings = CodecServerSettings.load(environ)
    return settings.codec_server_url or f"http://127.0.0.1:{settings.codec_server_port}"


_HTML = "text/html; charset=utf-8"
_PREFLIGHT = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Namespace",
    "Access-Control-Max-Age": "600",
}
_LOGIN_FORM = b"""<!doctype html><meta charset="utf-8"><title>Accord codec server</title>
<form method="post" action="login"><p>Codec server token
<input type="password" name="token" autofocus> <button>Sign in</button></p></form>
<p>Then enable <b>Include cross-origin credentials</b> in the Temporal UI's codec settings.</p>
"""
_SIGNED_IN = b"""<!doctype html><meta charset="utf-8"><title>Accord codec server</title>
<p>Signed in: the Temporal UI on this host can now decode payloads.</p>
"""


def payloads_from_json(body: Any) -> list[Payload]:
    """`{"payloads": [{"metadata": {k: b64}, "data": b64}]}` -> payloads.

    Fields this protobuf does not know are ignored (a newer UI or CLI may send them).
    `json_format` reads bytes leniently (characters outside the alphabet are dropped, so
    `"%%"` would be empty data); Go's protojson refuses them, and so does this server.
    """
    if not isinstance(body, dict) or not isinstance(body.get("payloads"), list):
        raise ValueError('expected {"payloads": [...]}')
    try:
        message = json_format.ParseDict(body, Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError as err:
        raise ValueError(str(err)) from None
    for item in body["payloads"]:  # the shape is known now: ParseDict accepted it
        for value in (item.get("data"), *(item.get("metadata") or {}).values()):
            if value is not None and not _is_base64(value):
                raise ValueError("invalid base64")
    return list(message.payloads)


def _is_base64(text: str) -> bool:
    """Either alphabet, padding optional, as proto JSON readers accept."""
    text = text.replace("-", "+").replace("_", "/")
    try:
        base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        return False
    return True


def payloads_to_json(payloads: Sequence[Payload]) -> dict[str, Any]:
    """Proto JSON, as Temporal's own codec servers answer: empty fields are left out,
    except the list itself, which the UI reads as `.payloads` even when it is empty."""
    answer = json_format.MessageToDict(Payloads(payloads=payloads))
    answer.setdefault("payloads", [])
    return answer


class CodecServer:
    """`/encode`, `/decode` and `/login` over HTTP, served from a background thread.

    The port is bound here: a port in use fails at construction, and `port` is known
    before `start`.
    """

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
        self._http = BackgroundServer(
            self._handle,
            host,
            port,
            request_timeout=REQUEST_TIMEOUT,
            max_connections=MAX_CONNECTIONS,
        )

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> CodecServer:
        self._http.start()
        return self

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def stop(self) -> None:
        self._http.stop()

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

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await self._answer(request)
        except Refused as refusal:  # answered unread: the connection closes after it
            return self._error(request, refusal.status, str(refusal), close=True)

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        endpoint = request.path.rstrip("/").rsplit("/", 1)[-1]
        if request.method == "OPTIONS":
            if self._origin(request) is None:
                return self._reply(request, HTTPStatus.FORBIDDEN)
            return self._reply(request, HTTPStatus.NO_CONTENT, headers=_PREFLIGHT)
        if request.method == "GET":
            if endpoint == "login":
                return self._reply(request, HTTPStatus.OK, _LOGIN_FORM, _HTML)
            return self._error(request, HTTPStatus.NOT_FOUND, "not found")
        if request.method != "POST":
            return self._error(request, HTTPStatus.NOT_IMPLEMENTED, "unsupported method")
        if endpoint not in ("encode", "decode", "login"):
            raise Refused(HTTPStatus.NOT_FOUND, "not found")
        if endpoint == "login":
            return self._login(request, await read_body(request, MAX_LOGIN_BODY, REQUEST_TIMEOUT))
        # The headers alone decide: an unauthorized caller's body is never read.
        if not self.authorized(request.headers.get("Authorization"), request.headers.get("Cookie")):
            raise Refused(HTTPStatus.UNAUTHORIZED, "codec server token required")
        raw = await read_body(request, MAX_BODY, REQUEST_TIMEOUT)
        try:  # in a thread, as before: a large page does not hold up other connections
            result = await asyncio.to_thread(self._convert, endpoint, raw)
        except (ValueError, CodecError) as err:  # CodecError names the key id only
            return self._error(request, HTTPStatus.BAD_REQUEST, str(err))
        return self._reply(request, HTTPStatus.OK, result)

    def _convert(self, endpoint: str, raw: bytes) -> bytes:
        convert = self.codec.encrypt if endpoint == "encode" else self.codec.decrypt
        payloads = [convert(p) for p in payloads_from_json(json.loads(raw))]
        return json.dumps(payloads_to_json(payloads)).encode()

    def _login(self, request: web.BaseRequest, raw: bytes) -> web.StreamResponse:
        presented = parse_qs(raw.decode("utf-8", "replace")).get("token", [""])[0]
        cookie = self.login_cookie(presented)
        if cookie is None:
            return self._error(request, HTTPStatus.UNAUTHORIZED, "wrong token")
        return self._reply(request, HTTPStatus.OK, _SIGNED_IN, _HTML, {"Set-Cookie": cookie})

    def _origin(self, request: web.BaseRequest) -> str | None:
        origin = (request.headers.get("Origin") or "").rstrip("/")
        return origin if origin in self.origins else None

    def _error(
        self, request: web.BaseRequest, status: HTTPStatus, message: str, close: bool = False
    ) -> web.StreamResponse:
        headers = {}
        if status == HTTPStatus.UNAUTHORIZED:
            headers["WWW-Authenticate"] = 'Bearer realm="accord-codec"'
        body = json.dumps({"error": message}).encode()
        return self._reply(request, status, body, headers=headers, close=close)

    def _reply(
        self,
        request: web.BaseRequest,
        status: HTTPStatus,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> web.StreamResponse:
        response = web.Response(status=status, body=body, headers=headers)
        response.headers.update(
            {"Server": "AccordCodec", "Vary": "Origin", "Cache-Control": "no-store"}
        )
        if origin := self._origin(request):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if body:
            response.headers["Content-Type"] = content_type
        if close or (request.method != "POST" and request.body_exists):
            response.force_close()  # `Connection: close`: a body nobody reads ends it
        return response
