"""Running a concurrent worker's jobs: each claimed job takes a slot and runs on a thread of the
pool, or as a task of the event loop (an ``async def`` job in the ``asyncio`` pool).

The engine belongs to the worker's main thread: it starts jobs, frees their slots when their
code has returned, stops them (a stop-job command, a kill-horse command, a cold shutdown; from
any thread) and takes over the outcome of a job that cannot give one:

* **A thread past its timeout.** The job's death penalty (a timer: signals reach only the main
  thread) raises :class:`jq.timeouts.JobTimeoutException` in its code, which ends a job running
  Python code. A job blocked in one long call outside Python (a socket read without a timeout,
  ``time.sleep``) cannot be interrupted, nor can a thread be killed: once its deadline and the
  worker's ``death_penalty_grace`` have passed, the worker records the job as timed out (failed,
  or retried under its Retry, its failure callback run), and the slot stays taken until the
  thread really returns, so the worker never runs more than its ``concurrency`` jobs at once.
  What the thread returns then is discarded (and logged).
* **A coroutine that blocks the event loop** is handled the same way: no cancellation can reach
  it.
* **A cold shutdown.** Async jobs are cancelled and thread jobs interrupted; those that have not
  ended within :data:`COLD_SHUTDOWN_WINDOW` seconds are recorded as ended by the shutdown
  (failed, or retried under their Retry), and the worker exits without waiting for their threads.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from jq.base.timeouts import JobTimeoutException
from jq.broker import Broker, Claimed, ClaimRequest, Transition, WorkerUpdate
from jq.core.execution import ExcInfo, JobOutcome
from jq.core.retry import Retry
from jq.defaults import effective_timeout
from jq.exceptions import JobStopped
from jq.plugins import get_plugin_manager
from jq.worker.concurrency.aio import EventLoopThread, is_coroutine_job, perform_on_loop
from jq.worker.concurrency.commits import GroupCommit
from jq.worker.concurrency.inbox import Inbox, SlotEnded
from jq.worker.concurrency.quiet import QuietConcluder, QuietEnd
from jq.worker.concurrency.runner import ConcurrentJobRunner, runs_no_user_code
from jq.worker.concurrency.settings import ConcurrencyPool, ConcurrencySettings
from jq.worker.concurrency.slots import Phase, Slot, SlotTable
from jq.worker.concurrency.threads import ThreadPool

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.worker.hooks import WorkerJobRunner
    from jq.worker.strategies import KillReason

__all__ = ["COLD_SHUTDOWN_WINDOW", "EngineHost", "JobEngine"]

logger = logging.getLogger("jq.worker")

#: Seconds a cold shutdown gives stopped jobs to end by themselves before their outcome is
#: recorded for them (a job running Python code ends within microseconds).
COLD_SHUTDOWN_WINDOW = 1.0


class EngineHost(Protocol):
    """What the engine uses of its worker."""

    name: str
    broker: Broker
    runner: WorkerJobRunner
    death_penalty_grace: float
    log_job_description: bool
    successful_job_count: int
    failed_job_count: int
    total_working_time: float
    stop_requested: bool
    cold_shutdown: bool

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None: ...


class JobEngine:
    """Runs up to ``settings.concurrency`` jobs at once for ``host`` (see the module)."""

    def __init__(self, host: EngineHost, settings: ConcurrencySettings, inbox: Inbox) -> None:
        self.host, self.settings, self.inbox = host, settings, inbox
        self.limit = settings.concurrency
        self.table = SlotTable()
        #: Where the jobs' outcomes are written, those ready at once in one call.
        self.commits = GroupCommit(
            host.broker, self._with_what_runs, host.runner.outage_patience, ride=self._ride
        )
        #: The claim that may ride on a job's outcome now (set by the main thread; None: no job
        #: may be claimed now, see :mod:`jq.worker.concurrency.commits`).
        self.ride: ClaimRequest | None = None
        self._threads = ThreadPool(self.limit, f"jq-job-{host.name}")
        # Async jobs' conclusions (callbacks, the outcome) and outcomes recorded on a job's behalf:
        # never on the event loop, which they would block. One thread each when they run user
        # code (it may block as long as it likes); the others go to the quiet conclusions.
        self._helpers = ThreadPool(self.limit, f"jq-conclude-{host.name}")
        self._loop: EventLoopThread | None = None
        #: Where async jobs whose conclusion runs no user code are concluded (the asyncio pool).
        self._quiet: QuietConcluder | None = None
        self._closed = False
        #: An exception that escaped a job's run and ends the worker once its jobs have ended
        #: (a KeyboardInterrupt or SystemExit raised by a job or its callback).
        self.fatal: BaseException | None = None

    @property
    def free(self) -> int:
        """How many more jobs may start now."""
        return self.limit - len(self.table)

    def start(self) -> None:
        """Start the event loop (the ``asyncio`` pool)."""
        if self.settings.pool is ConcurrencyPool.ASYNCIO:
            self._loop = EventLoopThread(f"jq-loop-{self.host.name}")
            self._quiet = QuietConcluder(
                f"jq-commit-{self.host.name}", self.commits, self.inbox, self._conclude_slowly
            )

    # -- running jobs ---------------------------------------------------------------------------

    def run(self, job: Job) -> None:
        """Start a claimed job in a free slot."""
        is_async = self._loop is not None and is_coroutine_job(job)
        timeout = effective_timeout(job.timeout)
        slot = Slot(job, is_async, float(timeout) if timeout is not None else None)
        runner = ConcurrentJobRunner.for_slot(
            self.host.runner, slot, self.table, self.inbox, commits=self.commits
        )
        slot.interrupts = runner.interrupts
        self.table.add(slot)
        if self.host.log_job_description:
            logger.info("%s: %s (%s)", job.origin, job.description, job.id)
        else:
            logger.info("%s: job %s started", job.origin, job.id)
        if self._loop is not None and is_async:
            loop = self._loop
            loop.submit(lambda: self._run_task(slot, runner))
        else:
            self._threads.submit(lambda: self._run_thread(slot, runner))

    def _run_thread(self, slot: Slot, runner: ConcurrentJobRunner) -> None:
        """On a thread of the pool: the job's whole run."""
        outcome: JobOutcome | None = None
        error: BaseException | None = None
        try:
            try:
                self.host.prepare_job_execution(slot.job)
            except Exception:
                runner.begin(slot.job)
                outcome = runner.conclude_error(slot.job, sys.exc_info())  # type: ignore[arg-type]
            else:
                outcome = runner.run(slot.job)
        except BaseException as escaped:
            error = escaped
        self.inbox.put(SlotEnded(slot, outcome, error))

    async def _run_task(self, slot: Slot, runner: ConcurrentJobRunner) -> None:
        """On the event loop: the job's call; its conclusion is handed to a helper thread."""
        value: Any = None
        exc_info: ExcInfo | None
        try:
            self.host.prepare_job_execution(slot.job)
            runner.begin(slot.job)
        except Exception:
            exc_info = sys.exc_info()  # type: ignore[assignment]
        else:
            # Plugins' perform scopes (a tracing span) around the call, told how it ended:
            # perform_on_loop returns the job's error rather than raising it.
            scope = get_plugin_manager().perform_scope(slot.job, runner.worker)
            scope.__enter__()
            exc_info = None
            try:
                value, exc_info = await perform_on_loop(slot)
            finally:
                scope.__exit__(*(exc_info or (None, None, None)))
        slot.end_performing()
        # The job's context (what plugins set in jq_job_started) goes with its conclusion.
        context = contextvars.copy_context()
        if self._closed:
            return
        quiet = self._quiet
        if (
            quiet is not None
            and exc_info is None
            and not isinstance(value, Retry)
            and runs_no_user_code(runner, slot.job)
        ):
            # Concluded with the others that end now, their outcomes in one write (see quiet.py).
            quiet.submit(QuietEnd(slot, runner, value, context))
        else:
            self._helpers.submit(lambda: context.run(self._conclude, slot, runner, value, exc_info))

    def _conclude_slowly(self, end: QuietEnd) -> None:
        """Conclude a job handed to the quiet conclusions on a helper thread after all."""
        self._helpers.submit(lambda: end.context.run(self._conclude, end.slot, end.runner, end.value, None))

    def _conclude(
        self, slot: Slot, runner: ConcurrentJobRunner, value: Any, exc_info: ExcInfo | None
    ) -> None:
        """On a helper thread: an async job's callbacks and outcome."""
        outcome: JobOutcome | None = None
        error: BaseException | None = None
        try:
            if exc_info is not None:
                outcome = runner.conclude_error(slot.job, exc_info)
            else:
                outcome = runner.conclude(slot.job, value)
        except BaseException as escaped:
            error = escaped
        self.inbox.put(SlotEnded(slot, outcome, error))

    def _ride(self) -> ClaimRequest | None:
        """The claim to make with an outcome's write (any thread), or None: none once the worker
        was told to stop, even before its main thread has seen it (a signal since its last turn)."""
        if self.host.stop_requested or self.host.cold_shutdown:
            return None
        return self.ride

    def ended(self, message: SlotEnded) -> Claimed | None:
        """The code of a slot's job has returned: free the slot and count the outcome; the job
        claimed with its outcome to run next in the slot, if any (the caller starts it, or gives
        it back)."""
        slot = message.slot
        self.table.remove(slot)
        self._count(message.outcome, slot)
        claimed, slot.next_claim = slot.next_claim, None
        error = message.error
        if error is None:
            return claimed
        if isinstance(error, KeyboardInterrupt | SystemExit):
            logger.warning(
                "job %s: its run raised %s: the worker stops once its other jobs have ended",
                slot.job.id, type(error).__name__,
            )  # fmt: skip
            if self.fatal is None:
                self.fatal = error
        else:
            logger.error("job %s: its run failed in jq", slot.job.id, exc_info=error)
        return claimed

    def _count(self, outcome: JobOutcome | None, slot: Slot) -> None:
        host = self.host
        if outcome is JobOutcome.SUCCEEDED:
            host.successful_job_count += 1
        elif outcome in (JobOutcome.FAILED, JobOutcome.RETRIED):
            host.failed_job_count += 1
        if outcome is not None and outcome is not JobOutcome.STALE:
            host.total_working_time += time.monotonic() - slot.started

    def _with_what_runs(self, changes: list[Transition]) -> list[Transition]:
        """The outcomes about to be written together, each worker update saying what still runs
        once they are written (every job of the batch is recording: none of them is listed)."""
        fields = self.table.record_fields()
        return [
            change
            if change.worker is None
            else replace(
                change,
                worker=WorkerUpdate(
                    change.worker.name, {**change.worker.fields, **fields}, change.worker.increments
                ),
            )
            for change in changes
        ]

    # -- stopping jobs ---------------------------------------------------------------------------

    def kill(self, reason: KillReason, job_id: str | None = None, execution_id: str | None = None) -> bool:
        """Stop the running jobs named (every one: none named) with ``reason``'s error; whether
        there was one (from any thread)."""
        found = [
            slot
            for slot in self.table.find(job_id=job_id, execution_id=execution_id)
            if slot.phase is Phase.PERFORMING and not slot.superseded
        ]
        for slot in found:
            self._stop(slot, reason.error())
        return bool(found)

    @staticmethod
    def _stop(slot: Slot, error: BaseException) -> None:
        if slot.stop_error is None:
            slot.stop_error = error
        if slot.is_async:
            cancel = slot.cancel
            if cancel is not None:  # else the task sees stop_error when it starts
                cancel(error)
        elif slot.interrupts is not None:
            slot.interrupts.interrupt(error)

    def check_deadlines(self) -> float | None:
        """Record as timed out every job still running past its deadline and the grace (see the
        module); seconds until the next one is due, None when none is."""
        now = time.monotonic()
        grace = self.host.death_penalty_grace
        due_in: float | None = None
        for slot in self.table.snapshot:
            deadline = slot.deadline
            if deadline is None or slot.phase is not Phase.PERFORMING or slot.superseded:
                continue
            left = deadline + grace - now
            if left > 0:
                due_in = left if due_in is None else min(due_in, left)
            elif slot.take_over():
                self._time_out(slot)
        return due_in

    def _time_out(self, slot: Slot) -> None:
        job = slot.job
        where = "blocks the event loop" if slot.is_async else "its thread is blocked outside Python code"
        logger.error(
            "%s: job %s ran past its timeout of %gs and did not stop (%s): it is recorded as timed "
            "out; its slot stays taken until it returns",
            job.origin, job.id, slot.timeout, where,
        )  # fmt: skip
        message = (
            f"Task exceeded maximum timeout value ({slot.timeout:g} seconds); the job did not stop ({where})"
        )
        if slot.is_async and slot.cancel is not None:
            slot.cancel(JobTimeoutException(message))
        error = _raised(JobTimeoutException(message))
        self._helpers.submit(lambda: self._record_for(slot, error))

    def stop_all(self, reason: KillReason) -> None:
        """Stop every running job (a cold shutdown)."""
        self.kill(reason)

    def end_unreported(self, reason: KillReason) -> None:
        """Record, here, every job that has not ended as ended for ``reason`` (a cold shutdown
        whose window has passed); their threads are not waited for."""
        for slot in self.table.snapshot:
            if slot.take_over(concluding_too=True):
                logger.warning(
                    "%s: job %s did not stop: it is recorded as ended by the shutdown",
                    slot.job.origin,
                    slot.job.id,
                )
                self._record_for(slot, _raised(slot.stop_error or reason.error()))

    def _record_for(self, slot: Slot, exc_info: ExcInfo) -> None:
        """Record the failure ``exc_info`` of the slot's job on its behalf (a helper thread, or
        the main thread at a cold shutdown)."""
        runner = ConcurrentJobRunner.for_slot(
            self.host.runner, slot, self.table, self.inbox, on_behalf=True, commits=self.commits
        )
        runner.started = slot.started
        try:
            outcome = runner.handle_failure(slot.job, exc_info, stopped=isinstance(exc_info[1], JobStopped))
        except Exception:
            logger.exception("job %s: its failure could not be recorded; its lease runs out", slot.job.id)
            return
        self.inbox.call(lambda: self._count(outcome, slot))

    def close(self) -> None:
        """Stop the pools and the event loop (threads still running a job are left behind), once
        the outcomes being written have been (up to :data:`COLD_SHUTDOWN_WINDOW` seconds: a write
        cut short by the exit would leave its job to its lease)."""
        deadline = time.monotonic() + COLD_SHUTDOWN_WINDOW
        while any(slot.recording and not slot.recorded for slot in self.table.snapshot):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.005)  # a write takes well under a millisecond
        self._closed = True
        self._threads.close()
        self._helpers.close()
        if self._quiet is not None:
            self._quiet.close()
        if self._loop is not None:
            self._loop.close(timeout=COLD_SHUTDOWN_WINDOW)


def _raised(error: BaseException) -> ExcInfo:
    """``error`` with a traceback, as a job's error is recorded."""
    try:
        raise error
    except BaseException:
        return sys.exc_info()  # type: ignore[return-value]
