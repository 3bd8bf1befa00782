"""RQ's ``rq.job_lifecycle``, and jq's public path of :mod:`jq.compat.job_lifecycle`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.job_lifecycle import (
    call_exception_handlers,
    format_exc_info,
    record_job_failure,
)

__all__ = [
    "call_exception_handlers",
    "format_exc_info",
    "record_job_failure",
]
