"""Job functions for the add-on suites: importable by name from a worker started anywhere."""

from __future__ import annotations

import time
from pathlib import Path


def add(x: int, y: int) -> int:
    """Sum."""
    return x + y


def fail(message: str = "failed on purpose") -> None:
    """Fail with ValueError."""
    raise ValueError(message)


def run_until_released(started: str, release: str, timeout: float = 60.0) -> str:
    """Write ``started``, then run until the file ``release`` exists (or ``timeout`` passes): a job
    that stays ``started`` exactly as long as a test needs to look at it."""
    Path(started).write_text("started")
    deadline = time.monotonic() + timeout
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"


def on_success(job: object, connection: object, result: object) -> None:
    """A success callback that does nothing."""


def on_failure(job: object, connection: object, *exc_info: object) -> None:
    """A failure callback that does nothing."""
