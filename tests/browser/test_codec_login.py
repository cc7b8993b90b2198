"""The codec server as the UI's browser uses it (headless Chromium, `make browser`).

The compose UI sends the user's browser to the codec server with credentials included
(`TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true`) and no access token. This checks that contract
in a real browser, from a page on the UI's origin: before sign-in the browser gets 401;
after signing in at `/login` its cookie (HttpOnly, SameSite=Strict, set by another port of
the same host) goes with the cross-origin `fetch`, which then decodes; a page of another
origin is refused by CORS and gets nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect
from temporalio.api.common.v1 import Payload

from security.codec import AesGcmCodec
from security.codec_server import CodecServer, payloads_to_json
from tests.security.conftest import ring

pytestmark = pytest.mark.timeout(120)

TOKEN = "browser-test-token-0123456789"
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"venue":"OKAPI-5150 Embassy"}')

# What the UI's code sends: the payloads POSTed with credentials. [status, body], or
# ["error", message] when the browser keeps the answer from the page (CORS).
DECODE = """async ({url, body}) => {
    try {
        const r = await fetch(url, {
            method: "POST",
            credentials: "include",
            headers: {"Content-Type": "application/json", "X-Namespace": "default"},
            body,
        });
        return [r.status, await r.text()];
    } catch (e) {
        return ["error", String(e)];
    }
}"""


class _Blank(BaseHTTPRequestHandler):
    """The UI's origin: any page there will do, the fetch is what the UI's code sends."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>ui</title><p>ui</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ui_origin() -> Iterator[int]:
    """The port of a page standing in for the UI (bound to port 0: the OS picks it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


async def decode_from(page: Page, origin: str, codec_url: str, sealed: object) -> Any:
    """Open a page of `origin` and send the codec server what the UI sends from there."""
    await page.goto(origin + "/")
    return await page.evaluate(DECODE, {"url": codec_url + "/decode", "body": json.dumps(sealed)})


async def test_the_browser_decodes_only_after_signing_in(
    page: Page, context: BrowserContext, ui_origin: int
) -> None:
    codec = AesGcmCodec(ring("k1"))
    ui = f"http://localhost:{ui_origin}"
    server = CodecServer(codec, TOKEN, [ui], port=0).start()
    codec_url = f"http://localhost:{server.port}"
    sealed = payloads_to_json([codec.encrypt(PLAIN)])
    try:
        status, body = await decode_from(page, ui, codec_url, sealed)
        assert status == 401 and "OKAPI" not in body

        # Sign in as a person does: the form, the token, the button.
        await page.goto(codec_url + "/login")
        await expect(page.get_by_text("Codec server token")).to_be_visible()
        await page.locator("input[name=token]").fill(TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_text("Signed in")).to_be_visible()
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script sees it
        cookies = await context.cookies(codec_url)
        assert cookies and all(c["httpOnly"] and c["sameSite"] == "Strict" for c in cookies)

        status, body = await decode_from(page, ui, codec_url, sealed)
        assert status == 200, body
        assert json.loads(body) == payloads_to_json([PLAIN])

        # Another origin, same browser, same cookie jar: CORS keeps the answer from it.
        outcome = await decode_from(page, f"http://127.0.0.1:{ui_origin}", codec_url, sealed)
        assert outcome[0] == "error", outcome
    finally:
        server.stop()
