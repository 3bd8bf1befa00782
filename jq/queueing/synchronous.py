"""``Queue(is_async=False)``: running each job at enqueue time, ending it exactly as a worker would.

The queue stores the job as usual, claims it (a job a worker took first is never run twice) and
runs it in the calling thread with the :class:`~jq.core.execution.JobRunner` a
:class:`~jq.worker.SimpleWorker` uses: the same outcome records, statuses, registries, results,
``result_ttl``/``failure_ttl``, callbacks and plugin events. What a worker would do later, this
does before ``enqueue`` returns:

* **Retries run at once.** A job that fails with retries left, or returns a
  :class:`~jq.retry.Retry`, runs again straight away, until it succeeds or its retries are used
  up; the intervals are not waited for (a web request or a test that sleeps for minutes helps
  nobody). Each attempt is recorded as a worker records it: ``retries_left`` (or
  ``number_of_retries``) moves on, one result per attempt.
* **Repeats run at once.** A job enqueued with ``repeat=Repeat(times, interval)`` runs again
  straight away after each success, ``times`` more times, without waiting for its intervals; each
  run is recorded as a worker records it (``repeats_left`` moves on, one result per run, the
  ``finished`` webhooks sent each time), and the job ends ``finished``.
* **The timeout is enforced** with the queue's ``death_penalty_class``, else as a SimpleWorker
  does it: :class:`~jq.timeouts.UnixSignalDeathPenalty` (SIGALRM) in the main thread, and
  :class:`~jq.timeouts.TimerDeathPenalty` in any other thread (a web server's request thread),
  where signals cannot be handled. A timer stops the job between two Python bytecodes: a job
  blocked in one long C call (``time.sleep``, a socket read) is stopped when that call returns,
  and ends ``failed`` with :class:`~jq.timeouts.JobTimeoutException` all the same.
* **Released dependents run too.** A job a synchronous queue had to defer, because the job it
  depends on had not ended yet (typically a job that enqueues its follow-up with
  ``depends_on=get_current_job()``), runs as soon as that job's outcome releases it, as a worker
  would run it next; one whose dependency failed stays ``deferred``, as with a worker.
* **Rate limits hold.** A job with ``rate_limit=`` takes a slot of its key like any other; when
  none is free (its key's jobs are queued or running elsewhere, or the job running now holds the
  slot and enqueues another one), it waits ``rate_limited`` and runs here as soon as a run in
  this context frees a slot for it, or else on a worker once one is free.

What stays a worker's own: no worker record, no heartbeat (the claim's lease covers the whole
timeout), no exception handlers (``exception_handlers=`` and the ``jq_exception_handlers`` hook
belong to workers): a job that ends failed is always kept in the failed registry.
"""

from __future__ import annotations

import contextvars
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jq.base.timeouts import BaseDeathPenalty, TimerDeathPenalty, UnixSignalDeathPenalty
from jq.core import lifecycle
from jq.core.execution import JobOutcome, JobRunner
from jq.core.job_state import JobStatus
from jq.defaults import effective_timeout
from jq.exceptions import NoSuchJobError

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.queueing.enqueueing import Enqueueing

__all__ = ["SYNC_RUNNER_NAME", "death_penalty_class_for", "note_deferred", "run_now"]

#: The name recorded as the job's ``worker_name`` when it was run by ``is_async=False``.
SYNC_RUNNER_NAME = "sync"


@dataclass
class _Session:
    """The synchronous runs started by one outermost synchronous run in this context, and the
    jobs that synchronous queues deferred meanwhile, each with the queue that enqueued it."""

    waiting: list[tuple[Enqueueing, Job]] = field(default_factory=list)


# Per context (thread, asyncio task): two requests of a threaded web server never share one.
_session: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("jq_sync_session", default=None)


def death_penalty_class_for(queue: Enqueueing) -> type[BaseDeathPenalty]:
    """The class that enforces the timeouts of ``queue``'s jobs run now, in this thread: the
    queue's ``death_penalty_class``, else SIGALRM in the main thread and a timer elsewhere (what
    a SimpleWorker does)."""
    chosen: type[BaseDeathPenalty] = queue.death_penalty_class or UnixSignalDeathPenalty
    if chosen is UnixSignalDeathPenalty and threading.current_thread() is not threading.main_thread():
        return TimerDeathPenalty
    return chosen


def run_now(queue: Enqueueing, job: Job) -> Job:
    """Run the queued ``job`` of ``queue`` in this thread until it ended (retries included),
    then the jobs its outcome released; returns ``job``."""
    session = _session.get()
    token = _session.set(_Session()) if session is None else None
    try:
        _run_attempts(queue, job)
        _run_released()
    finally:
        if token is not None:
            _session.reset(token)
    return job


def note_deferred(queue: Enqueueing, job: Job) -> None:
    """Remember that the synchronous ``queue`` deferred ``job``: if a synchronous run in this
    context releases it, it runs then. Outside a synchronous run nothing here can release it
    (the job it waits for runs elsewhere), and nothing is remembered."""
    session = _session.get()
    if session is not None:
        session.waiting.append((queue, job))


def _run_attempts(queue: Enqueueing, job: Job) -> None:
    """Claim and run ``job`` until it ended: once, once per retry, once per repeat."""
    runner = JobRunner(worker=None, death_penalty_class=death_penalty_class_for(queue), retry_at_once=True)
    # No heartbeat renews this lease: it covers the whole timeout (forever without one).
    timeout = effective_timeout(job.timeout)
    while True:
        lease_until = math.inf if timeout is None else queue.broker.now() + timeout + 60
        fields = lifecycle.claim_fields(SYNC_RUNNER_NAME)
        if queue.broker.claim_job(job.id, queue.name, fields, lease_until) is None:
            # Someone else (a worker on the same queue) claimed it first; it runs there.
            return
        job.refresh()
        outcome = runner.run(job)
        if outcome is JobOutcome.SUCCEEDED and job.get_status(refresh=False) is JobStatus.QUEUED:
            continue  # put back for its next repeat (Repeat), at once: run it again
        if outcome is not JobOutcome.RETRIED:
            return


def _run_released() -> None:
    """Run the remembered jobs that are queued now, until none is (each run may release more)."""
    session = _session.get()
    assert session is not None
    while True:
        ready: list[tuple[Enqueueing, Job]] = []
        still_waiting: list[tuple[Enqueueing, Job]] = []
        for queue, job in session.waiting:
            try:
                status = job.get_status()
            except NoSuchJobError:
                continue  # canceled and not kept, or deleted: nothing to run
            if status in (JobStatus.DEFERRED, JobStatus.RATE_LIMITED):
                still_waiting.append((queue, job))
            elif status is JobStatus.QUEUED:
                ready.append((queue, job))
        session.waiting[:] = still_waiting
        if not ready:
            return
        for queue, job in ready:
            _run_attempts(queue, job)
