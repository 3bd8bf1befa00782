"""Waiting on a condition in the benchmarks' measuring processes, by polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["poll_until"]

T = TypeVar("T")


def poll_until(check: Callable[[], T | None], timeout: float, what: str, interval: float) -> T:
    """Call ``check`` every ``interval`` seconds until it returns a value (not None) and return it;
    TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (value := check()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)
    return value
