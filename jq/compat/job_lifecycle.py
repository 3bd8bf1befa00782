"""RQ's module ``rq.job_lifecycle``: the exception-handler chain, traceback text, and recording
a failure without a worker.

jq's workers do all of this themselves (:mod:`jq.core.execution`, :mod:`jq.lifecycle`); these functions
are for code written for RQ that calls them.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from jq.base.utils import format_timestamp, now
from jq.broker import PERSIST, STATUS, Place, PlaceKind, Transition
from jq.core import lifecycle
from jq.core.job_state import STATUS_PLACE, JobStatus
from jq.core.results import Result, encode_result
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.exceptions import InvalidJobOperation

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["call_exception_handlers", "format_exc_info", "record_job_failure"]


def call_exception_handlers(handlers: Iterable[Callable[..., Any]], job: Job, *exc_info: Any) -> None:
    """Call ``handler(job, *exc_info)`` for each handler in order, stopping after one that returns
    a false value other than None (None means "go on"). A handler that raises stops the chain
    with its exception, as in RQ (jq's workers log it and go on instead)."""
    for handler in handlers:
        verdict = handler(job, *exc_info)
        if verdict is not None and not verdict:
            return


def format_exc_info(exc_info: tuple[Any, Any, Any]) -> str:
    """The traceback text of ``(type, value, traceback)``, every frame included."""
    return "".join(traceback.format_exception(*exc_info))


def record_job_failure(job: Job, exc_string: str, pipeline: Any = None) -> None:
    """Fail ``job`` wherever it is (queued, started, deferred...) without a worker: status
    ``failed``, a FAILED result with ``exc_string``, kept in its queue's failed registry for its
    ``failure_ttl``; the jobs waiting for it are settled as for any failed job. With ``pipeline``
    it happens when the pipeline is executed.

    Raises :class:`InvalidJobOperation` when the job changed state meanwhile (no pipeline).
    """
    status = job.get_status(refresh=pipeline is None)
    kind = STATUS_PLACE.get(status) if status is not None else None
    ended = now()
    ttl = DEFAULT_FAILURE_TTL if job.failure_ttl is None else job.failure_ttl
    if ttl < 0:
        score, record_ttl = math.inf, PERSIST
    else:
        score, record_ttl = job.broker.now() + ttl, ttl
    result = Result(job.id, Result.Type.FAILED, ended, exc_string=exc_string, worker_name="")
    change = Transition(
        job.id,
        source=Place(kind, job.origin) if kind is not None else None,
        target=Place(PlaceKind.FAILED, job.origin) if ttl != 0 else None,
        score=score,
        fields={
            STATUS: JobStatus.FAILED.value.encode(),
            "ended_at": format_timestamp(ended).encode(),
            "exc_info": exc_string.encode(),
        },
        record_ttl=record_ttl,
        result=encode_result(result, None),
        results_kept=lifecycle.results_kept(job),
        **lifecycle.failed_dependents(),
    )
    if pipeline is not None:
        job.broker.pipeline_writes(pipeline).transition(change)
    elif not job.broker.transition(change):
        raise InvalidJobOperation(f"job {job.id!r} changed state while its failure was recorded")
    job.note_outcome(JobStatus.FAILED, result, ended_at=ended)
