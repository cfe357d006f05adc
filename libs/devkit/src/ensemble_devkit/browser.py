"""Page tests in Debian's headless Chromium: whether the browser is here, a driver, a service's
app served on a thread, a form submitted and waited for, and where screenshots go
(run/screenshots, for a person to look at).

`make test` installs the browser and sets ENSEMBLE_REQUIRE_BROWSER: there a missing browser
fails the page tests instead of skipping them.
"""

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from ensemble_devkit import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO_ROOT / "run" / "screenshots"
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def needs_browser() -> pytest.MarkDecorator:
    """The mark of a page test: skipped without the browser, unless it is required."""
    present = CHROMIUM.exists() and CHROMEDRIVER.exists()
    if not present and os.environ.get("ENSEMBLE_REQUIRE_BROWSER"):
        raise RuntimeError("the page tests need /usr/bin/chromium and /usr/bin/chromedriver")
    return pytest.mark.skipif(
        not present, reason="needs Debian's chromium and chromedriver (deploy/browser/chromium.sh)"
    )


def chromium(profile: Path, window: str = "1366,768") -> WebDriver:
    """A fresh headless Chromium with its own profile directory (cookies, storage)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*_FLAGS, f"--window-size={window}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(
        service=ChromeService(executable_path=str(CHROMEDRIVER)), options=options
    )


@contextlib.contextmanager
def chromium_session(profile: Path) -> Iterator[WebDriver]:
    driver = chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()


def submit(driver: WebDriver, button: WebElement, seconds: float = 10) -> None:
    """Click a form's submit button and wait until the page it was on is gone: the click
    returns before the navigation it starts is over, and on a busy machine the next lookup
    would otherwise read the old page (e.g. the sign-in form posting to its own address)."""
    button.click()
    WebDriverWait(driver, seconds).until(staleness_of(button))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def served_on_thread(
    app: Any, beside: Callable[[], Awaitable[Callable[[], Awaitable[None]]]] | None = None
) -> Iterator[str]:
    """`app` under uvicorn on a thread of its own (no lifespan: no Kafka); its base URL.
    `beside` starts work the pages need on the server's loop and returns how to stop it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )

    async def serve() -> None:
        stop = await beside() if beside is not None else None
        try:
            await server.serve()
        finally:
            if stop is not None:
                await stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
