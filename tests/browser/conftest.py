"""Headless Chromium (Debian's package) driven by Playwright, offline.

No browser download: Playwright launches the system `chromium` through `executable_path`.
One browser for the session (starting it is the slow part); each test gets a fresh context,
its own cookie jar and cache, so nothing a test signs into leaks into the next.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

# Playwright's 5 s default is short for the Temporal UI, which loads its lists and queries
# lazily on two shared cores: the old polling waited up to 60 s, so do the assertions.
expect.set_options(timeout=60_000)

# The window the screenshots in `.data/` are taken at.
VIEWPORT = ViewportSize(width=1440, height=1000)

ARGS = [
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium; every test asking for it is skipped if it is not installed."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make browser)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile for one test, closed with it."""
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        yield context
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
