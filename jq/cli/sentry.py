"""Reporting failed jobs to Sentry (``SENTRY_DSN``, ``JQ_SENTRY_DSN`` or ``--sentry-dsn``).

sentry-sdk is optional (``pip install 'jq-queue[sentry]'``); without it a DSN is a clear error.
"""

from __future__ import annotations

import importlib
from types import TracebackType
from typing import TYPE_CHECKING, Final

from jq.cli.errors import UserError

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.plugins.hookspecs import ExceptionHandler

__all__ = ["init_sentry"]

# A DSN of raven, Sentry's old client, started with a transport ("sync+https://..."); RQ's docs
# still show one. sentry-sdk refuses the prefix, so it is dropped.
_RAVEN_TRANSPORT_PREFIX: Final = "sync+"


def init_sentry(dsn: str) -> ExceptionHandler:
    """Initialise sentry-sdk with ``dsn`` (once, here) and return an exception handler that reports
    each failed job to Sentry and returns None, so the rest of the chain still runs.

    Raises :class:`UserError` when sentry-sdk is not installed.
    """
    try:
        sentry_sdk = importlib.import_module("sentry_sdk")
    except ModuleNotFoundError as exc:
        if exc.name != "sentry_sdk":
            raise UserError(f"sentry-sdk cannot be imported: {exc}") from None
        raise UserError(
            "a Sentry DSN is set but sentry-sdk is not installed: pip install 'jq-queue[sentry]'"
        ) from None
    except Exception as exc:
        raise UserError(f"sentry-sdk cannot be imported: {type(exc).__name__}: {exc}") from None
    if dsn.startswith(_RAVEN_TRANSPORT_PREFIX):
        dsn = dsn[len(_RAVEN_TRANSPORT_PREFIX) :]
    try:
        sentry_sdk.init(dsn)
    except Exception as exc:
        raise UserError(f"Sentry refused the DSN: {type(exc).__name__}: {exc}") from None

    def report_to_sentry(
        job: Job, exc_type: type[BaseException], exc_value: BaseException, tb: TracebackType | None
    ) -> None:
        """Send the job's exception to Sentry; never stops the chain."""
        sentry_sdk.capture_exception(exc_value)
        # A work horse leaves with os._exit, which skips sentry-sdk's atexit flush.
        flush = getattr(sentry_sdk, "flush", None)
        if callable(flush):
            flush()

    return report_to_sentry
