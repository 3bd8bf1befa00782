"""RQ's ``rq.callbacks``, and jq's public path of :mod:`jq.core.callbacks`:
the same objects, re-exported."""

from __future__ import annotations

from jq.core.callbacks import (
    CALLBACK_TIMEOUT,
    DEFAULT_CALLBACK_TIMEOUT,
    Callback,
    execute_failure_callback,
    execute_stopped_callback,
    execute_success_callback,
    function_path,
)

__all__ = [
    "CALLBACK_TIMEOUT",
    "DEFAULT_CALLBACK_TIMEOUT",
    "Callback",
    "execute_failure_callback",
    "execute_stopped_callback",
    "execute_success_callback",
    "function_path",
]
