"""Headless Chromium for the dashboard's browser tests and screenshots: Debian's ``chromium``
driven through its ``chromedriver`` by selenium (no browser is downloaded), and a dashboard
served on a free loopback port by werkzeug's threaded server."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists() and shutil.which(path.name) is None:
            return f"{path} not found: apt-get install -y chromium chromium-driver (.ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 860) -> Iterator[Any]:
    """A headless Chromium while the block runs."""
    from selenium import webdriver
    from selenium.common.exceptions import SessionNotCreatedException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    size = f"--window-size={width},{height}"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", size,
                     "--hide-scrollbars", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(argument)
    driver_path = str(CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver"))
    # A log file of our own, closed here: older selenium releases open one and never close it.
    with open(os.devnull, "wb") as log:

        def start() -> Any:
            return webdriver.Chrome(
                options=options, service=Service(executable_path=driver_path, log_output=log)
            )

        try:
            driver = start()
        except SessionNotCreatedException:
            # Chromium now and then exits as it starts on a loaded machine: one more try.
            driver = start()
        try:
            yield driver
        finally:
            driver.quit()


class _Quiet(WSGIRequestHandler):
    """No line per request in the tests' output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served on a free loopback port while the block runs; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
