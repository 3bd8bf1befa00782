"""RQ's ``rq.job``, and jq's public path of :mod:`jq.core.job`:
the same objects, re-exported."""

from __future__ import annotations

# A job's queue, registries and executions are the queueing layer's objects, plugged into the
# core's Job when that layer is imported (see jq.core.job_layout): the jobs this module gives out
# have them.
import jq.queueing  # noqa: F401
from jq.core.job import (
    JOB_ID_PATTERN,
    UNEVALUATED,
    Callback,
    Dependency,
    Job,
    JobStatus,
    Retry,
    cancel_job,
    get_current_job,
    new_job_id,
    parse_job_id,
    requeue_job,
    validate_job_id,
)

__all__ = [
    "JOB_ID_PATTERN",
    "UNEVALUATED",
    "Callback",
    "Dependency",
    "Job",
    "JobStatus",
    "Retry",
    "cancel_job",
    "get_current_job",
    "new_job_id",
    "parse_job_id",
    "requeue_job",
    "validate_job_id",
]
