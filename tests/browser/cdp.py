"""Headless Chromium (Debian's package) driven over the DevTools protocol, offline.

No browser download: the system `chromium` runs with a throw-away profile, and a small
client speaks the protocol over one websocket (`websockets`), which is all the test needs:
navigate, read the page's text, take a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import websockets

FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1440,1000",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_PAGE_TEXT = """(() => {
  const parts = [document.body ? document.body.innerText : ""];
  for (const frame of document.querySelectorAll("iframe")) {
    try { parts.push(frame.contentDocument.body.innerText); } catch (e) { /* not ready */ }
  }
  return parts.join("\\n");
})()"""


class Page:
    """One tab: commands get their answer by id; events are ignored."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self._ws = ws
        self._next = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        await self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self._ws.recv(), timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        answer = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    async def text(self) -> str:
        """The visible text, including the iframes the UI renders Markdown in (same origin)."""
        value = await self.evaluate(_PAGE_TEXT)
        return str(value or "")

    async def wait_for_text(self, *needles: str, within: float = 60.0) -> str:
        """The page's visible text once it contains every needle (the UI loads lazily)."""
        deadline = time.monotonic() + within
        text = ""
        while time.monotonic() < deadline:
            text = await self.text()
            if all(n in text for n in needles):
                return text
            await asyncio.sleep(0.5)
        missing = [n for n in needles if n not in text]
        raise AssertionError(f"page never showed {missing}; it shows:\n{text[:3000]}")

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png")  # what the window shows
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@asynccontextmanager
async def open_browser(within: float = 30.0) -> AsyncIterator[Page]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="accord-chromium-") as profile:
        proc = _launch(Path(profile), port)
        try:
            url = await _page_socket(port, proc, within)
            async with websockets.connect(url, max_size=64 * 1024 * 1024) as ws:
                page = Page(ws)
                await page.send("Page.enable")
                await page.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=1440,
                    height=1000,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                yield page
        finally:
            _stop(proc)


def _launch(profile: Path, port: int) -> subprocess.Popen[bytes]:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed")
    return subprocess.Popen(
        [
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: stopped with every helper it forks
    )


def _targets(port: int) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
        targets: list[dict[str, Any]] = json.load(answer)
        return targets


async def _page_socket(port: int, proc: subprocess.Popen[bytes], within: float) -> str:
    """The websocket of the first tab, once the DevTools endpoint answers."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        try:
            for target in await asyncio.to_thread(_targets, port):
                if target.get("type") == "page":
                    return str(target["webSocketDebuggerUrl"])
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"chromium's DevTools endpoint did not answer on port {port}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Chromium and its helper processes: the session group this test started."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
