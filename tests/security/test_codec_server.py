"""The codec server's HTTP contract: the UI's /encode and /decode, CORS, the token."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from security import codec_server
from security.codec import ENCODING, AesGcmCodec
from security.codec_server import MAX_BODY, CodecServer, ui_codec_endpoint
from tests.security.conftest import ring, ring_text

TOKEN = "s3cret-codec-token"
UI = "http://127.0.0.1:8233"
PLAIN = {"metadata": {"encoding": base64.b64encode(b"json/plain").decode()}, "data": ""}
PLAIN["data"] = base64.b64encode(b'{"summary":"ZEBRA-7731"}').decode()


@pytest.fixture
def server() -> Iterator[CodecServer]:
    s = CodecServer(AesGcmCodec(ring("k1")), TOKEN, [UI], port=0).start()
    try:
        yield s
    finally:
        s.stop()


def call(
    server: CodecServer,
    path: str,
    body: Any = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Origin": UI}


def test_encode_decode_round_trip_in_the_ui_format(server: CodecServer) -> None:
    status, headers, body = call(server, "/encode", {"payloads": [PLAIN]}, headers=AUTH)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == UI
    [sealed] = json.loads(body)["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    assert b"ZEBRA" not in base64.b64decode(sealed["data"])
    # Any prefix: only the last path segment picks the endpoint (X-Namespace is ignored).
    status, _, body = call(
        server,
        "/ns/default/decode",
        {"payloads": [sealed]},
        headers={**AUTH, "X-Namespace": "default"},
    )
    assert status == 200 and json.loads(body) == {"payloads": [PLAIN]}


def test_decodes_what_workers_encrypted(server: CodecServer) -> None:
    from temporalio.api.common.v1 import Payload

    [sealed] = [server.codec.encrypt(Payload(metadata={"encoding": b"json/plain"}, data=b"7"))]
    wire = {
        "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
        "data": base64.urlsafe_b64encode(sealed.data).decode().rstrip("="),  # either alphabet
    }
    status, _, body = call(server, "/decode", {"payloads": [wire]}, headers=AUTH)
    assert status == 200
    assert json.loads(body)["payloads"][0]["data"] == base64.b64encode(b"7").decode()


def test_cors_preflight_admits_only_the_ui_origin(server: CodecServer) -> None:
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    status, headers, _ = call(server, "/decode", method="OPTIONS", headers=preflight)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == UI
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    allowed = headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip() for h in allowed.split(",")
    }
    status, headers, _ = call(
        server, "/decode", method="OPTIONS", headers={**preflight, "Origin": "http://evil.test"}
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_token_is_required(server: CodecServer) -> None:
    body = {"payloads": [PLAIN]}
    for headers in (
        {"Origin": UI},
        {"Origin": UI, "Authorization": "Bearer wrong"},
        {"Origin": UI, "Authorization": TOKEN},  # not a bearer credential
        {"Origin": UI, "Cookie": f"accord_codec={TOKEN}"},  # the raw token is not the cookie
    ):
        status, got, reply = call(server, "/decode", body, headers=headers)
        assert status == 401, headers
        assert got["WWW-Authenticate"].startswith("Bearer")
        assert got["Access-Control-Allow-Origin"] == UI  # the UI can read the refusal
        assert b"ZEBRA" not in reply


def test_login_cookie_lets_the_dev_ui_in(server: CodecServer) -> None:
    status, _, page = call(server, "/login", method="GET")
    assert status == 200 and b"<form" in page
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, _ = call(server, "/login", raw=b"token=nope", headers=form)
    assert status == 401
    status, headers, _ = call(server, "/login", raw=f"token={TOKEN}".encode(), headers=form)
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    session = cookie.split(";", 1)[0]
    status, _, _ = call(
        server, "/encode", {"payloads": [PLAIN]}, headers={"Origin": UI, "Cookie": session}
    )
    assert status == 200


def test_bad_requests(server: CodecServer) -> None:
    assert call(server, "/decode", raw=b"{not json", headers=AUTH)[0] == 400
    assert call(server, "/decode", {"payloads": [{"data": "%%"}]}, headers=AUTH)[0] == 400
    unknown = {
        "metadata": {
            "encoding": base64.b64encode(ENCODING).decode(),
            "encryption-key-id": base64.b64encode(b"k9").decode(),
        },
        "data": base64.b64encode(b"\x00" * 40).decode(),
    }
    status, _, body = call(server, "/decode", {"payloads": [unknown]}, headers=AUTH)
    assert status == 400 and b"k9" in body
    assert call(server, "/other", {"payloads": []}, headers=AUTH)[0] == 404
    big = {**AUTH, "Content-Length": str(64 * 1024 * 1024)}
    assert call(server, "/decode", raw=b"{}", headers=big)[0] == 413


def test_server_needs_a_token() -> None:
    for weak in ("", "short-token"):  # /login lets anyone guess
        with pytest.raises(ValueError, match="at least 16 characters"):
            CodecServer(AesGcmCodec(ring("k1")), weak, port=0)


def exchange(server: CodecServer, head: str, wait: float = 5.0) -> tuple[bytes, float]:
    """Send a request's head only (never its body) and read the reply until the server
    closes: (reply, seconds until the server closed). Raises TimeoutError if it waits."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as conn:
        conn.sendall(head.encode())
        start, reply = time.monotonic(), b""
        while chunk := conn.recv(65536):
            reply += chunk
        return reply, time.monotonic() - start


def head(path: str, *lines: str) -> str:
    return "\r\n".join(
        [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Origin: {UI}", *lines, "", ""]
    )


def test_unauthorized_requests_are_answered_before_their_body_is_sent(
    server: CodecServer,
) -> None:
    """A 10 MiB body is announced but never sent: the server answers from the headers and
    closes; had it read the body first, it would wait, and `exchange` would time out."""
    announced = f"Content-Length: {10 * 1024 * 1024}"
    for credentials in ([], ["Authorization: Bearer wrong-token-of-some-length"]):
        reply, closed_after = exchange(server, head("/decode", announced, *credentials))
        assert reply.startswith(b"HTTP/1.1 401 "), reply[:80]
        assert b"\r\nConnection: close\r\n" in reply
        assert closed_after < 2
    # Unknown endpoints and oversized logins alike.
    reply, _ = exchange(server, head("/other", announced))
    assert reply.startswith(b"HTTP/1.1 404 ")
    reply, _ = exchange(server, head("/login", announced))
    assert reply.startswith(b"HTTP/1.1 413 ")


def test_authorized_bodies_are_bounded_before_they_are_read(server: CodecServer) -> None:
    bearer = f"Authorization: Bearer {TOKEN}"
    too_big = f"Content-Length: {MAX_BODY + 1}"
    reply, _ = exchange(server, head("/decode", bearer, too_big))
    assert reply.startswith(b"HTTP/1.1 413 ")
    # No length: nothing is read until the connection ends.
    reply, _ = exchange(server, head("/decode", bearer))
    assert reply.startswith(b"HTTP/1.1 411 ")
    reply, _ = exchange(server, head("/decode", bearer, "Transfer-Encoding: chunked"))
    assert reply.startswith(b"HTTP/1.1 411 ")
    # A malformed head is refused by aiohttp's parser, which answers as HTTP/1.0: it could
    # not read the client's version.
    reply, _ = exchange(server, head("/decode", bearer, "Content-Length: -5"))
    assert reply.startswith((b"HTTP/1.1 400 ", b"HTTP/1.0 400 "))
    # The contrast that makes the tests above mean something: an authorized request with a
    # body still to come is waited for.
    with pytest.raises(TimeoutError):
        exchange(server, head("/decode", bearer, "Content-Length: 20"), wait=0.5)


def test_a_stalled_sender_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec_server, "REQUEST_TIMEOUT", 0.5)
    stalled = CodecServer(AesGcmCodec(ring("k1")), TOKEN, [UI], port=0).start()
    try:
        bearer = f"Authorization: Bearer {TOKEN}"
        reply, closed_after = exchange(stalled, head("/decode", bearer, "Content-Length: 20"))
        assert reply == b"" and closed_after < 3
    finally:
        stalled.stop()


def test_a_stalled_request_head_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that never finishes its headers is dropped too (aiohttp's keep-alive
    timeout, counted from the connection's start)."""
    monkeypatch.setattr(codec_server, "REQUEST_TIMEOUT", 0.5)
    stalled = CodecServer(AesGcmCodec(ring("k1")), TOKEN, [UI], port=0).start()
    try:
        reply, closed_after = exchange(stalled, "POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\nAuth")
        assert reply == b"" and closed_after < 3
    finally:
        stalled.stop()


def test_a_client_that_does_not_read_its_answer_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An answer larger than the socket buffers, never read: after the timeout the server
    drops the connection and its slot comes back (the only slot, here)."""
    monkeypatch.setattr(codec_server, "REQUEST_TIMEOUT", 1.0)
    monkeypatch.setattr(codec_server, "MAX_CONNECTIONS", 1)
    bounded = CodecServer(AesGcmCodec(ring("k1")), TOKEN, [UI], port=0).start()
    data = base64.b64encode(b"a" * 1024 * 1024).decode()
    body = json.dumps({"payloads": [{"data": data}] * 8}).encode()
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    try:
        reader.connect(("127.0.0.1", bounded.port))
        request = head("/encode", f"Authorization: Bearer {TOKEN}", f"Content-Length: {len(body)}")
        reader.sendall(request.encode() + body)
        deadline = time.monotonic() + 10
        while True:  # the slot is held until the server gives up on the reader
            try:
                assert call(bounded, "/encode", {"payloads": []}, headers=AUTH)[0] == 200
                break
            except OSError:  # closed unread: beyond the bound
                assert time.monotonic() < deadline, "the stalled reader kept its connection"
                time.sleep(0.2)
    finally:
        reader.close()
        bounded.stop()


def test_a_malformed_head_is_refused_and_its_headers_not_logged(
    server: CodecServer, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp's parser answers 400 and would log the offending header line, which may
    carry a token."""
    with caplog.at_level(logging.DEBUG):
        reply, _ = exchange(server, head("/decode", f"Authorization: Bearer {TOKEN}\x01"))
    assert reply.split(b" ", 2)[1] == b"400"
    assert TOKEN not in caplog.text


def test_dev_server_ui_flag_only_with_codec_keys() -> None:
    keys = ring_text(ring("k1"))
    assert ui_codec_endpoint({}) is None
    assert ui_codec_endpoint({"ACCORD_CODEC_KEYS": keys}) == "http://127.0.0.1:8888"
    assert (
        ui_codec_endpoint({"ACCORD_CODEC_KEYS": keys, "ACCORD_CODEC_SERVER_PORT": "9999"})
        == "http://127.0.0.1:9999"
    )


def test_server_token_from_a_file(tmp_path: Path) -> None:
    from cli.codec_server import server_token
    from security.keys import KeyConfigError

    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    assert server_token({"ACCORD_CODEC_SERVER_TOKEN_FILE": str(token_file)}) == TOKEN
    # The variable wins over the file; no setting at all is None (the CLI then exits 2).
    assert (
        server_token(
            {
                "ACCORD_CODEC_SERVER_TOKEN": "x" * 20,
                "ACCORD_CODEC_SERVER_TOKEN_FILE": "/nonexistent",
            }
        )
        == "x" * 20
    )
    assert server_token({}) is None
    with pytest.raises(KeyConfigError, match="cannot read the file") as refused:
        server_token({"ACCORD_CODEC_SERVER_TOKEN_FILE": str(tmp_path / "missing")})
    assert "missing" not in str(refused.value)  # the path is not echoed either


def test_connections_beyond_the_bound_are_closed_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec_server, "MAX_CONNECTIONS", 2)
    bounded = CodecServer(AesGcmCodec(ring("k1")), TOKEN, [UI], port=0).start()
    idle = [socket.create_connection(("127.0.0.1", bounded.port), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.2)  # both accepted and holding their slot
        reply, closed_after = exchange(bounded, head("/decode", "Content-Length: 2"))
        assert reply == b"" and closed_after < 2  # closed without an answer
        for conn in idle:
            conn.close()
        time.sleep(0.2)  # their slots come back
        status, _, _ = call(bounded, "/encode", {"payloads": [PLAIN]}, headers=AUTH)
        assert status == 200
    finally:
        for conn in idle:
            conn.close()
        bounded.stop()


def test_cli_refuses_a_short_token_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    monkeypatch.setenv("ACCORD_CODEC_KEYS", ring_text(ring("k1")))
    monkeypatch.setenv("ACCORD_CODEC_SERVER_TOKEN", "short")
    assert main(["codec-server", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "at least 16 characters" in err and "Traceback" not in err and "short" not in err
