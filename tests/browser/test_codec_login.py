"""The codec server as the UI's browser uses it (headless Chromium, `make browser`).

The compose UI sends the user's browser to the codec server with credentials included
(`TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true`) and no access token. This checks that contract
in a real browser, from a page on the UI's origin: before sign-in the browser gets 401;
after signing in at `/login` its cookie (HttpOnly, SameSite=Strict, set by another port of
the same host) goes with the cross-origin `fetch`, which then decodes; a page of another
origin is refused by CORS and gets nothing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload

from security.codec import AesGcmCodec
from security.codec_server import CodecServer, payloads_to_json
from tests.browser.cdp import Page, chromium, free_port, open_browser
from tests.security.conftest import ring

pytestmark = [
    pytest.mark.skipif(chromium() is None, reason="chromium is not installed (make browser)"),
    pytest.mark.timeout(120),
]

TOKEN = "browser-test-token-0123456789"
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"venue":"OKAPI-5150 Embassy"}')


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
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


async def decode_from_page(page: Page, codec_url: str, sealed: dict[str, Any]) -> Any:
    """What the UI does: POST the payloads with credentials; (status, body) or the error."""
    script = f"""
        fetch({json.dumps(codec_url + "/decode")}, {{
            method: "POST",
            credentials: "include",
            headers: {{"Content-Type": "application/json", "X-Namespace": "default"}},
            body: {json.dumps(json.dumps(sealed))},
        }}).then(async r => [r.status, await r.text()], e => ["error", String(e)])
    """
    answer = await page.send(
        "Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True
    )
    return answer.get("result", {}).get("value")


async def test_the_browser_decodes_only_after_signing_in(ui_origin: int) -> None:
    codec = AesGcmCodec(ring("k1"))
    ui = f"http://localhost:{ui_origin}"
    server = CodecServer(codec, TOKEN, [ui], port=0).start()
    codec_url = f"http://localhost:{server.port}"
    sealed = payloads_to_json([codec.encrypt(PLAIN)])
    try:
        async with open_browser() as page:
            await page.goto(ui + "/")
            await asyncio.sleep(0.5)
            status, body = await decode_from_page(page, codec_url, sealed)
            assert status == 401 and "OKAPI" not in body

            # Sign in as a person does: the form, the token, the button.
            await page.goto(codec_url + "/login")
            await page.wait_for_text("Codec server token")
            await page.evaluate(
                f"document.querySelector('input[name=token]').value = {json.dumps(TOKEN)};"
                "document.querySelector('form').submit();"
            )
            await page.wait_for_text("Signed in")
            assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script sees it

            await page.goto(ui + "/")
            await asyncio.sleep(0.5)
            status, body = await decode_from_page(page, codec_url, sealed)
            assert status == 200, body
            assert json.loads(body) == payloads_to_json([PLAIN])

            # Another origin, same browser, same cookie jar: CORS keeps the answer from it.
            await page.goto(f"http://127.0.0.1:{ui_origin}/")
            await asyncio.sleep(0.5)
            outcome = await decode_from_page(page, codec_url, sealed)
            assert outcome[0] == "error", outcome
    finally:
        server.stop()
