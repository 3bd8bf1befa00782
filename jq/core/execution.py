"""Running one claimed job in the current process and recording how it ended.

:class:`JobRunner` is what a SimpleWorker calls directly, what a Worker's work horse calls after
the fork, and what a queue with ``is_async=False`` calls at enqueue time. It applies the death
penalty, runs the exception-handler chain, records the outcome atomically through
:mod:`jq.lifecycle`, then runs callbacks and tells plugins.
"""

from __future__ import annotations

import enum
import inspect
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jq.base.coroutines import run_coroutine
from jq.base.interrupts import InterruptWindow
from jq.base.logutils import format_duration
from jq.base.timeouts import (
    BaseDeathPenalty,
    BaseTimeoutException,
    JobTimeoutException,
    TimerDeathPenalty,
    UnixSignalDeathPenalty,
)
from jq.broker import WORKER_CURRENT_JOB, WORKER_STATE, Status, Transition, WorkerState, WorkerUpdate
from jq.core import job as job_module
from jq.core import lifecycle
from jq.core.callbacks import Callback
from jq.core.job_state import JobStatus
from jq.core.outage import retry_transient
from jq.core.rate_limit import release_slot
from jq.core.retry import Retry
from jq.defaults import DEFAULT_RESULT_TTL, effective_timeout
from jq.exceptions import JobStopped, SerializationError
from jq.plugins import get_plugin_manager
from jq.plugins.hookspecs import ExceptionHandler

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.worker import BaseWorker

__all__ = [
    "ExcInfo",
    "JobOutcome",
    "JobRunner",
    "PenaltyFactory",
    "call_callback",
    "callback_penalty",
    "error_summary",
    "format_exc_info",
    "report_final_failure",
    "run_callback",
    "run_exception_handlers",
]

logger = logging.getLogger("jq.worker")

# The worker state written when a job ends, as a record holds it.
_IDLE = WorkerState.IDLE.stored

_RUNNER_FILES = frozenset({__file__, job_module.__file__})

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class JobOutcome(enum.IntEnum):
    """How one execution ended, as far as the worker's statistics are concerned."""

    SUCCEEDED = 1
    FAILED = 2
    RETRIED = 3
    #: The outcome was refused: another execution owns the job now (this one lost its lease).
    STALE = 4


def error_summary(exc_info: ExcInfo) -> str:
    """The error in one line: ``ZeroDivisionError: division by zero`` (the first line of a
    message that has several)."""
    exc_type, exc_value, _tb = exc_info
    lines = str(exc_value).strip().splitlines()
    return f"{exc_type.__name__}: {lines[0]}" if lines else exc_type.__name__


def format_exc_info(exc_info: ExcInfo) -> str:
    """The traceback text of an exception, as stored in ``exc_info``.

    Leading frames of jq's own job-running code are left out: the text starts at the job's call.
    """
    exc_type, exc_value, tb = exc_info
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename in _RUNNER_FILES:
        tb = tb.tb_next
    return "".join(traceback.format_exception(exc_type, exc_value, tb))


def run_exception_handlers(handlers: Sequence[ExceptionHandler], job: Job, exc_info: ExcInfo) -> bool:
    """Call each handler in order; False as soon as one returns an explicit ``False`` (the
    handlers after it are not called), else True.

    A handler that raises is logged and counts as ``None`` (the chain goes on): the job keeps its
    own error either way. What the chain returns does not decide whether the failed job is kept in
    the failed registry (RQ keeps it all the same; see :meth:`JobRunner.handle_failure`).
    """
    for handler in handlers:
        try:
            verdict = handler(job, *exc_info)
        except Exception:
            logger.exception("exception handler %r raised; the job keeps its own error", handler)
            continue
        if verdict is False:
            return False
    return True


@dataclass
class JobRunner:
    """Runs claimed jobs and records their outcomes.

    :param worker: the worker running jobs, or None for ``is_async=False``.
    :param death_penalty_class: enforces ``job.timeout``; None runs without a time limit.
    :param exception_handlers: the chain, run on failure before the outcome is recorded.
    :param move_to_failed: the default handler: keep failed jobs in the failed registry (a
        handler that returns False stops the chain, not this).
    :param default_result_ttl: ``result_ttl`` for jobs that do not set one.
    """

    worker: BaseWorker | None
    death_penalty_class: type[BaseDeathPenalty] | None
    exception_handlers: Sequence[ExceptionHandler] = field(default_factory=list)
    move_to_failed: bool = True
    default_result_ttl: int = DEFAULT_RESULT_TTL
    #: Seconds to keep retrying an outcome write while the store is unreachable (0: do not).
    outage_patience: float = 0.0
    #: Put a job with retries left straight back on its queue, whatever its Retry interval
    #: (``is_async=False`` runs its retries at once: see :mod:`jq.queueing.synchronous`).
    retry_at_once: bool = False
    #: Whether the last job run ended by its timeout (a work horse's group is then killed).
    timed_out: bool = False
    #: Where an interruption (stop-job, cold shutdown) may land: the job's own code only.
    interrupts: InterruptWindow = field(default_factory=InterruptWindow)
    #: When (``time.monotonic()``) the job being run started, for the worker's working-time
    #: counter: set by :meth:`run`, and by the worker before it hands a job to a work horse (the
    #: worker records the outcome of a horse that died or overran).
    started: float | None = field(default=None, init=False, repr=False)

    @property
    def worker_name(self) -> str | None:
        """The name recorded on results."""
        return self.worker.name if self.worker is not None else None

    def _death_penalty(self, job: Job, timeout: int | None) -> BaseDeathPenalty:
        penalty_class = self.death_penalty_class
        if self.worker is not None:
            penalty_class = self.worker.death_penalty_class_for(job)
        if penalty_class is None:
            return BaseDeathPenalty(None)
        return penalty_class(timeout, JobTimeoutException, job_id=job.id)

    def run(self, job: Job, next_claim: lifecycle.NextClaim | None = None) -> JobOutcome:
        """Run the job's function and record the outcome. Never raises for the job's own errors.

        With ``next_claim``, the worker's next job is claimed in the same round trip that records
        the outcome (see :class:`jq.lifecycle.NextClaim`). The steps are :meth:`begin`, the call
        under the job's death penalty, then :meth:`conclude` or :meth:`conclude_error`.
        """
        self.begin(job)
        try:
            with (
                get_plugin_manager().perform_scope(job, self.worker),
                self._death_penalty(job, effective_timeout(job.timeout)),
                self.interrupts.open(),
            ):
                return_value = job.perform()
        except BaseException:
            return self.conclude_error(job, sys.exc_info(), next_claim)  # type: ignore[arg-type]
        finally:
            self.interrupts.discard()
        return self.conclude(job, return_value, next_claim)

    def begin(self, job: Job) -> None:
        """What comes before the job's function runs: the ``jq_job_started`` hook, the clock."""
        get_plugin_manager().job_started(job, self.worker)
        self.timed_out = False
        self.started = time.monotonic()

    def conclude_error(
        self, job: Job, exc_info: ExcInfo, next_claim: lifecycle.NextClaim | None = None
    ) -> JobOutcome:
        """The job's function raised ``exc_info``: record its failure (a stop, a retry). A
        KeyboardInterrupt is recorded, then raised again: the worker stops on it."""
        error = exc_info[1]
        self.timed_out = isinstance(error, BaseTimeoutException)
        interrupted = isinstance(error, KeyboardInterrupt)
        outcome = self.handle_failure(
            job,
            exc_info,
            stopped=isinstance(error, JobStopped),
            # The worker stops on a KeyboardInterrupt: it claims no job it would not run.
            next_claim=None if interrupted else next_claim,
        )
        if interrupted:
            raise error.with_traceback(exc_info[2])
        return outcome

    def conclude(
        self, job: Job, return_value: Any, next_claim: lifecycle.NextClaim | None = None
    ) -> JobOutcome:
        """The job's function returned ``return_value``: run its success callback, then record
        the outcome (a returned :class:`Retry` asks for a retry)."""
        if isinstance(return_value, Retry):
            return self._retry_returned(job, return_value, next_claim)
        success_callback = job.success_callback_ref
        if success_callback is not None:
            # Before the outcome is recorded, as in RQ: a callback that raises (or overruns its
            # timeout) fails the job, whose dependents then stay deferred.
            try:
                with self._death_penalty(job, success_callback.timeout):
                    call_callback(success_callback, job, job.connection, return_value)
            except BaseException:
                exc_info: Any = sys.exc_info()
                if isinstance(exc_info[1], KeyboardInterrupt | SystemExit):
                    # The callback ends the process: the job fails, saying why, before it does
                    # (left started, it would wait for its lease to run out); nothing is claimed.
                    self.handle_failure(job, exc_info)
                    raise
                self.timed_out = isinstance(exc_info[1], BaseTimeoutException)
                return self.handle_failure(job, exc_info, next_claim=next_claim)
        try:
            moved = self.record_success(job, return_value, next_claim)
        except SerializationError:
            return self.handle_failure(job, sys.exc_info(), next_claim=next_claim)  # type: ignore[arg-type]
        return self.succeeded(job, return_value, moved)

    def succeeded(self, job: Job, return_value: Any, moved: bool) -> JobOutcome:
        """What follows the write of a success (``moved``: whether it was made): its log line,
        webhooks and plugins; the outcome."""
        if not moved:
            logger.warning(
                "job %s: its result was not recorded: the job was canceled, deleted or taken over by "
                "another execution meanwhile",
                job.id,
            )
            return self._stale(job)
        if self.worker is not None and logger.isEnabledFor(logging.INFO):
            # Checked first: how long it took is formatted only for a line that is written.
            logger.info("%s: job %s finished%s", job.origin, job.id, self._took())
        # Once the outcome is recorded, as RQ documents: a webhook never changes it.
        job.send_webhooks(Status.FINISHED.value)
        get_plugin_manager().job_finished(job, return_value, self.worker)
        return JobOutcome.SUCCEEDED

    def _retry_returned(self, job: Job, retry: Retry, next_claim: lifecycle.NextClaim | None) -> JobOutcome:
        """Record an execution that returned ``Retry(...)``: retried, or failed once its ``max``
        retries were used up (see :func:`jq.lifecycle.retry_returned`)."""
        took = self._took()
        status = self.record_retry(job, retry, next_claim)
        if status is None:
            logger.warning("job %s: its retry was not recorded: another execution owns the job now", job.id)
            return self._stale(job)
        if status is not JobStatus.FAILED:
            logger.info(
                "%s: job %s returned %r%s: retry %d of %d",
                job.origin, job.id, retry, took, job.number_of_retries or 0, retry.max,
            )  # fmt: skip
            return JobOutcome.RETRIED
        logger.warning(
            "%s: job %s returned %r%s after %d retries: no retry left, it failed",
            job.origin, job.id, retry, took, retry.max,
        )  # fmt: skip
        job.send_webhooks(Status.FAILED.value, exc_string="")  # no exception: the job asked for the retries
        return JobOutcome.FAILED

    def handle_failure(
        self,
        job: Job,
        exc_info: ExcInfo,
        *,
        stopped: bool = False,
        next_claim: lifecycle.NextClaim | None = None,
    ) -> JobOutcome:
        """Run the exception chain and record a failure (or a retry) of a started job.

        A handler that returns False only stops the chain: the job is kept in the failed registry
        all the same, unless the worker's default exception handler is disabled (as in RQ).
        """
        exc_string = format_exc_info(exc_info)
        took = self._took()
        # A handler that returns False only stops the chain: the job is kept in the failed
        # registry all the same (as in RQ), unless the default exception handler is disabled.
        self.call_exception_handlers(job, exc_info)
        keep = self.move_to_failed
        status = self.record_failure(job, exc_string, keep=keep, stopped=stopped, next_claim=next_claim)
        # The traceback follows the one-line summary, when there is one to show (a work horse
        # that died leaves only the error).
        details = f"\n{exc_string.rstrip()}" if exc_info[2] is not None else ""
        summary = error_summary(exc_info)
        if status is None:
            logger.warning(
                "%s: job %s failed%s: %s; the failure was not recorded: another execution owns the job now%s",
                job.origin, job.id, took, summary, details,
            )  # fmt: skip
            return self._stale(job)
        if status in (JobStatus.QUEUED, JobStatus.SCHEDULED):
            logger.warning(
                "%s: job %s failed%s: %s; it will be retried (%s retries left)%s",
                job.origin, job.id, took, summary, job.retries_left, details,
            )  # fmt: skip
            return JobOutcome.RETRIED
        logger.error("%s: job %s %s%s: %s%s", job.origin, job.id, status.value, took, summary, details)
        report_final_failure(job, exc_info, self.worker, self._death_penalty, stopped=stopped)
        return JobOutcome.FAILED

    # The three steps below are separate methods so that a worker can route them through the
    # hooks RQ documents for custom workers (handle_exception, handle_job_success,
    # handle_job_failure: see jq.worker.hooks), whose defaults call them.

    def call_exception_handlers(self, job: Job, exc_info: ExcInfo) -> bool:
        """Run the exception-handler chain; False when a handler stopped it."""
        return run_exception_handlers(self.exception_handlers, job, exc_info)

    def record_success(self, job: Job, return_value: Any, next_claim: lifecycle.NextClaim | None) -> bool:
        """Record the job finished with ``return_value`` (or put back for its next repeat); False
        when the execution was stale.
        Raises :class:`SerializationError` (nothing written) for a value that cannot be stored."""
        return retry_transient(
            job.broker,
            lambda: lifecycle.conclude(job, *self.finishing(job, return_value), next_claim),
            patience=self.outage_patience,
            what=f"record the result of job {job.id}",
        )

    def finishing(self, job: Job, return_value: Any) -> tuple[Transition, Callable[[], None]]:
        """The job's success as this runner records it, unwritten (see
        :func:`jq.core.lifecycle.finishing`): written by :meth:`record_success`, or with other
        jobs' outcomes at once (see :mod:`jq.worker.concurrency.quiet`)."""
        return lifecycle.finishing(
            job,
            return_value,
            execution_id=job.execution_id,
            worker_name=self.worker_name,
            default_result_ttl=self.default_result_ttl,
            worker_update=self._worker_update(succeeded=True),
            repeat_at_once=self.retry_at_once,
        )

    def record_failure(
        self,
        job: Job,
        exc_string: str,
        *,
        keep: bool,
        stopped: bool,
        next_claim: lifecycle.NextClaim | None,
    ) -> JobStatus | None:
        """Record a failure (or a retry) of the job; its new status, None when it was stale."""
        return retry_transient(
            job.broker,
            lambda: lifecycle.fail(
                job,
                exc_string,
                execution_id=job.execution_id,
                worker_name=self.worker_name,
                keep=keep,
                stopped=stopped,
                worker_update=self._worker_update(succeeded=False),
                next_claim=next_claim,
                retry_at_once=self.retry_at_once,
            ),
            patience=self.outage_patience,
            what=f"record the failure of job {job.id}",
        )

    def record_retry(
        self, job: Job, retry: Retry, next_claim: lifecycle.NextClaim | None
    ) -> JobStatus | None:
        """Record an execution that returned ``retry``: retried, or failed once its ``max`` retries
        were used up; the job's new status, None when the execution was stale."""
        return retry_transient(
            job.broker,
            lambda: lifecycle.retry_returned(
                job,
                retry,
                execution_id=job.execution_id,
                worker_name=self.worker_name,
                worker_update=self._worker_update(succeeded=False),
                next_claim=next_claim,
                at_once=self.retry_at_once,
            ),
            patience=self.outage_patience,
            what=f"record the retry of job {job.id}",
        )

    def _stale(self, job: Job) -> JobOutcome:
        """An execution whose outcome was refused has ended all the same: a rate-limited job
        canceled or deleted while it ran kept its slot until now (its code was still running),
        so the slot is freed (a job of its key waiting for one is queued). Never raises."""
        if job.has_rate_limit:
            try:
                release_slot(job)
            except Exception:
                logger.exception("job %s: its rate-limit slot could not be freed; maintenance will", job.id)
        return JobOutcome.STALE

    def _took(self) -> str:
        """`` in 0.012 s`` since the job being run started, or nothing when that is not known."""
        if self.started is None:
            return ""
        return f" in {format_duration(time.monotonic() - self.started)}"

    def _worker_update(self, succeeded: bool) -> WorkerUpdate | None:
        """The worker record's change that goes with recording an outcome: idle again, counted."""
        if self.worker is None:
            return None
        elapsed = time.monotonic() - self.started if self.started is not None else 0.0
        return WorkerUpdate(
            self.worker.name,
            fields={WORKER_STATE: _IDLE, WORKER_CURRENT_JOB: b"", "last_heartbeat": lifecycle.now_text()},
            increments={
                "successful_job_count" if succeeded else "failed_job_count": 1,
                "total_working_time": elapsed,
            },
        )

    def _call(self, callback: Callback, job: Job, *args: Any) -> None:
        run_callback(callback, self._death_penalty(job, callback.timeout), job, *args)


#: Makes the death penalty that bounds a callback of a job: ``(job, seconds) -> penalty``.
PenaltyFactory = Callable[["Job", int], BaseDeathPenalty]


def call_callback(callback: Callback, job: Job, *args: Any) -> None:
    """Call ``callback(job, *args)``; an ``async def`` callback is awaited (RQ refuses them), on
    an event loop of its own, within whatever death penalty the caller holds."""
    result = callback.func(job, *args)
    if inspect.iscoroutine(result):
        run_coroutine(result)


def run_callback(callback: Callback, penalty: BaseDeathPenalty, job: Job, *args: Any) -> None:
    """Call ``callback(job, *args)`` under ``penalty`` (its timeout). Its errors and its timeout
    are logged, never raised: a callback never changes the job's recorded outcome."""
    try:
        with penalty:
            call_callback(callback, job, *args)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        logger.exception("job %s: callback %s failed; the job's outcome stands", job.id, callback.name)


def callback_penalty(worker: BaseWorker | None) -> PenaltyFactory:
    """Death penalties for callbacks run outside a job runner (abandoned jobs ended by
    maintenance): the worker's class for the job, else a signal in the main thread, else a timer.
    """

    def make(job: Job, timeout: int) -> BaseDeathPenalty:
        if worker is not None:
            penalty_class = worker.death_penalty_class_for(job)
        elif threading.current_thread() is threading.main_thread():
            penalty_class = UnixSignalDeathPenalty
        else:
            penalty_class = TimerDeathPenalty
        return penalty_class(timeout, JobTimeoutException, job_id=job.id)

    return make


def report_final_failure(
    job: Job, exc_info: ExcInfo, worker: BaseWorker | None, penalty: PenaltyFactory, *, stopped: bool = False
) -> None:
    """What follows a job's final failure (or stop) once it is recorded: its ``on_failure`` (or
    ``on_stopped``) callback, bounded by the callback's timeout, then the ``jq_job_failed`` hook.
    """
    callback = job.stopped_callback_ref if stopped else job.failure_callback_ref
    if callback is not None:
        extra = () if stopped else exc_info
        run_callback(callback, penalty(job, callback.timeout), job, job.connection, *extra)
    if not stopped:
        # A stopped job sends none, as in RQ (it did not fail); a retried one never gets here.
        job.send_webhooks(Status.FAILED.value, exc_string=format_exc_info(exc_info))
    get_plugin_manager().job_failed(job, exc_info, worker)
