"""The methods RQ documents for custom worker classes, called by jq at the same moments.

A subclass of :class:`jq.Worker` (or :class:`jq.SimpleWorker`) that overrides one of these sees
it called where RQ calls it, and calling ``super()`` does what jq does there:

* ``execute_job(job, queue)``: in the worker, for each job it took (runs the job, whatever the
  worker class, and waits for its outcome).
* ``perform_job(job, queue, execution)``: where the job runs (the work horse, or the worker
  itself): calls ``prepare_job_execution(job)``, runs the job under its timeout and records the
  outcome; True when the job succeeded.
* ``handle_exception(job, *exc_info)``: when the job raised, before its failure is recorded: runs
  the exception-handler chain.
* ``handle_job_success(job, queue, started_job_registry, execution)``: records the job finished
  (its result, its dependents released).
* ``handle_job_failure(job, queue, started_job_registry=None, exc_string='', execution=None)``:
  records the job failed (or retried under its Retry policy, or stopped).
* ``handle_job_retry(job, queue, retry, started_job_registry, execution)``: when the job returned
  a :class:`jq.Retry`: records that outcome.
* ``handle_work_horse_killed(job, retpid, ret_val, rusage)``: when a work horse ended without
  reporting (killed, crashed, ``os._exit``); then calls ``work_horse_killed_handler``.
* ``main_work_horse(job, queue)``, ``setup_work_horse_signals()``: in a freshly forked horse.

jq runs the outcome steps in one atomic store call each (RQ uses several); the hooks wrap those
calls, they do not split them. The rest of the methods here exist with RQ's meaning.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jq.base.timeouts import BaseDeathPenalty, TimerDeathPenalty, UnixSignalDeathPenalty
from jq.core.execution import JobOutcome, JobRunner
from jq.core.job_state import JobStatus
from jq.core.retry import Retry
from jq.plugins import get_plugin_manager
from jq.plugins.hookspecs import ExceptionHandler
from jq.worker.executions import Execution
from jq.worker.proctitle import set_process_title
from jq.worker.strategies import KillReason

if TYPE_CHECKING:
    from jq.broker import Broker
    from jq.core.execution import ExcInfo
    from jq.core.job import Job
    from jq.core.lifecycle import NextClaim
    from jq.queueing.queue import Queue
    from jq.queueing.registry import StartedJobRegistry
    from jq.worker.base import BaseWorker
    from jq.worker.strategies import ExecutionStrategy, KillReason

__all__ = ["SHUTDOWN_SIGNAL", "WorkHorseKilledHandler", "WorkerHooks", "WorkerJobRunner"]

logger = logging.getLogger("jq.worker")

#: The signal that kills a work horse (``kill_horse()``'s default).
SHUTDOWN_SIGNAL: signal.Signals = signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM

#: ``work_horse_killed_handler(job, retpid, ret_val, rusage)``, called when a horse dies.
WorkHorseKilledHandler = Callable[..., None]


@dataclasses.dataclass
class _Step:
    """An outcome the runner is recording through a hook: what the hook's default needs, and
    what it did (``done``)."""

    value: Any = None
    exc_string: str = ""
    keep: bool = True
    stopped: bool = False
    next_claim: NextClaim | None = None
    done: Any = None
    #: The runner recording the outcome (a worker running several jobs has one per job).
    runner: JobRunner | None = None


class WorkerJobRunner(JobRunner):
    """The :class:`jq.core.execution.JobRunner` of a worker: its outcome steps go through the worker's
    hooks (see the module docstring), whose defaults call the runner's own steps."""

    worker: BaseWorker

    def call_exception_handlers(self, job: Job, exc_info: ExcInfo) -> bool:
        """Through ``worker.handle_exception``."""
        worker = self.worker
        worker._handler_verdict = True
        worker.handle_exception(job, *exc_info)
        return worker._handler_verdict

    def record_success(self, job: Job, return_value: Any, next_claim: NextClaim | None) -> bool:
        """Through ``worker.handle_job_success``."""
        worker = self.worker
        step = worker._step = _Step(value=return_value, next_claim=next_claim, runner=self)
        queue = worker.queue_for(job)
        try:
            worker.handle_job_success(job, queue, queue.started_job_registry, worker.prepare_execution(job))
        finally:
            worker._step = None
        if step.done is None:
            logger.warning(
                "job %s: the worker's handle_job_success() did not record the outcome (an override "
                "that does not call super()?): the job stays started until its lease runs out",
                job.id,
            )
            return True
        return bool(step.done)

    def record_retry(self, job: Job, retry: Retry, next_claim: NextClaim | None) -> JobStatus | None:
        """Through ``worker.handle_job_retry`` (the job returned ``retry``)."""
        worker = self.worker
        step = worker._step = _Step(value=retry, next_claim=next_claim, runner=self)
        queue = worker.queue_for(job)
        try:
            execution = worker.prepare_execution(job)
            worker.handle_job_retry(job, queue, retry, queue.started_job_registry, execution)
        finally:
            worker._step = None
        if step.done is None:
            logger.warning(
                "job %s: the worker's handle_job_retry() did not record the outcome (an override "
                "that does not call super()?): the job stays started until its lease runs out",
                job.id,
            )
            return JobStatus.QUEUED
        return step.done  # type: ignore[no-any-return]

    def record_failure(
        self,
        job: Job,
        exc_string: str,
        *,
        keep: bool,
        stopped: bool,
        next_claim: NextClaim | None,
    ) -> JobStatus | None:
        """Through ``worker.handle_job_failure``."""
        worker = self.worker
        step = worker._step = _Step(
            exc_string=exc_string, keep=keep, stopped=stopped, next_claim=next_claim, runner=self
        )
        queue = worker.queue_for(job)
        try:
            worker.handle_job_failure(
                job, queue, queue.started_job_registry, exc_string, worker.prepare_execution(job)
            )
        finally:
            worker._step = None
        if step.done is None:
            logger.warning(
                "job %s: the worker's handle_job_failure() did not record the outcome (an override "
                "that does not call super()?): the job stays started until its lease runs out",
                job.id,
            )
            return JobStatus.FAILED
        return step.done if isinstance(step.done, JobStatus) else None


class WorkerHooks:
    """RQ's customization points of a worker (mixed into :class:`jq.worker.BaseWorker`)."""

    name: str
    broker: Broker
    queues: list[Queue]
    job_class: type[Job]
    queue_class: type[Queue]
    serializer: Any
    runner: JobRunner
    strategy: ExecutionStrategy[Any]
    running_job: Job | None
    death_penalty_class: type[BaseDeathPenalty]
    disable_default_exception_handler: bool
    worker_ttl: int
    _exc_handlers: list[ExceptionHandler]
    _explicit_death_penalty: bool
    _kill: tuple[str | None, KillReason] | None
    _work_horse_killed_handler: WorkHorseKilledHandler | None

    # The loop's claim of the next job, for the runner that records this job's outcome.
    _next_claim: NextClaim | None = None
    # How the last perform_job() ended (read by whoever ran it: a horse reports it).
    _last_outcome: JobOutcome | None = None
    _is_horse = False

    if TYPE_CHECKING:

        def renew(self) -> None: ...
        def perform(self, job: Job, next_claim: NextClaim | None = None) -> JobOutcome: ...
        def kill_job(self, reason: KillReason, job_id: str | None = None) -> bool: ...
        @property
        def running_jobs(self) -> list[Job]: ...

    @property
    def _handler_verdict(self) -> bool:
        """What the exception-handler chain said last (False: a handler stopped it), per thread:
        a worker running jobs concurrently runs each job's chain on that job's thread."""
        return getattr(self._hook_state(), "verdict", True)

    @_handler_verdict.setter
    def _handler_verdict(self, value: bool) -> None:
        self._hook_state().verdict = value

    @property
    def _step(self) -> _Step | None:
        """What the runner hands a hook's default (see WorkerJobRunner), and what it hands back;
        per thread: a worker running jobs concurrently records each outcome on that job's thread."""
        step: _Step | None = getattr(self._hook_state(), "step", None)
        return step

    @_step.setter
    def _step(self, value: _Step | None) -> None:
        self._hook_state().step = value

    def _hook_state(self) -> threading.local:
        # Looked up first: a new threading.local per call (several per job) costs more than the
        # lookup. setdefault: two threads making the first at once get the same one.
        state = self.__dict__.get("_hook_local")
        if state is None:
            state = self.__dict__.setdefault("_hook_local", threading.local())
        return state  # type: ignore[no-any-return]

    # -- running a job ----------------------------------------------------------------------------

    def queue_for(self, job: Job) -> Queue:
        """The worker's queue the job came from (a new Queue object for another queue)."""
        for queue in self.queues:
            if queue.name == job.origin:
                return queue
        return self.queue_class(job.origin, connection=self.broker, job_class=self.job_class,
                                serializer=self.serializer)  # fmt: skip

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run a job the worker took, whatever its class (in a work horse, in a spawned process,
        in this process), and wait until its outcome is recorded."""
        next_claim, self._next_claim = self._next_claim, None
        self._last_outcome = self.perform(job, next_claim)

    def execute_claimed_job(self, job: Job, next_claim: NextClaim | None) -> None:
        """Run a job the loop claimed through :meth:`execute_job` (RQ's hook, whose signature
        has no room for it), ``next_claim`` riding along for the step that records its outcome."""
        self._next_claim = next_claim
        try:
            self.execute_job(job, self.queue_for(job))
        finally:
            self._next_claim = None

    def perform_job(self, job: Job, queue: Queue, execution: Execution | None = None) -> bool:
        """Run the job here, under its timeout, and record its outcome; True when it succeeded.

        Called where the job runs: in the work horse, or in the worker itself (SimpleWorker).
        Calls :meth:`prepare_job_execution` first.
        """
        self.prepare_job_execution(job)
        next_claim, self._next_claim = self._next_claim, None
        outcome = self._last_outcome = self.runner.run(job, next_claim)
        return outcome is JobOutcome.SUCCEEDED

    def perform_claimed_job(self, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Run a claimed job here through :meth:`perform_job` (RQ's hook, whose signature has no
        room for them), ``next_claim`` riding along; how it ended. STALE when an overriding
        ``perform_job()`` did not run the job through jq: its lease runs out and maintenance ends
        it, so it is never lost."""
        self._next_claim, self._last_outcome = next_claim, None
        try:
            self.perform_job(job, self.queue_for(job), self.prepare_execution(job))
            return self._last_outcome or JobOutcome.STALE
        finally:
            self._next_claim = None

    def run_in_horse(self, job: Job, queue: Queue) -> JobOutcome | None:
        """In a work horse started for ``job``: :meth:`main_work_horse` (RQ's hook), and how the
        job's run ended (None: an override did not run it through jq)."""
        self._last_outcome = None
        self.main_work_horse(job, queue)
        return self._last_outcome

    def serve_as_horse(self) -> None:
        """Make this process a work horse that runs job after job (a reused horse): its signals
        are a horse's (:meth:`setup_work_horse_signals`) and :attr:`is_horse` is true."""
        self.setup_work_horse_signals()
        self._is_horse = True

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Called where the job runs, just before it runs: override to prepare for it (open a
        database connection...). jq's claim already did RQ's bookkeeping (status ``started``,
        the started registry, the worker ``busy``) in the same atomic step that took the job."""

    def prepare_execution(self, job: Job) -> Execution:
        """The execution the worker starts for a job it took (jq's claim made it)."""
        return Execution.of(job, self.name)

    def cleanup_execution(self, job: Job, pipeline: Any = None, execution: Execution | None = None) -> None:
        """Forget an ended execution. Nothing to do in jq: recording the outcome ended it, in the
        same atomic step (``pipeline`` is accepted for RQ's signature)."""

    def on_horse_start(self, job: Job) -> None:
        """Called in a work horse before it runs ``job``. Override to prepare it."""
        set_process_title(f"horse of {self.name}: job {job.id}")

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        """The work horse forked for ``job`` starts here: it seeds ``random`` afresh, sets up its
        signals (:meth:`setup_work_horse_signals`) and runs the job (:meth:`perform_job`)."""
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self.perform_job(job, queue, self.prepare_execution(job))

    def setup_work_horse_signals(self) -> None:
        """In a work horse: ignore SIGINT (Ctrl+C is the worker's to decide on) and let SIGTERM
        end it."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    @property
    def is_horse(self) -> bool:
        """Whether this process is a work horse (not the worker)."""
        return self._is_horse

    @property
    def horse_pid(self) -> int:
        """The pid of the running work horse; 0 when none runs (always, for SimpleWorker)."""
        return getattr(self.strategy, "horse_pid", None) or 0

    # -- outcomes ---------------------------------------------------------------------------------

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """The job raised: run the exception-handler chain (``exception_handlers=``, then plugins'
        handlers), before the failure is recorded."""
        self._handler_verdict = JobRunner.call_exception_handlers(self.runner, job, exc_info)

    def handle_job_success(
        self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry, execution: Execution
    ) -> None:
        """Record that the job finished: its result kept ``result_ttl``, the worker's counters
        updated and its dependents released, in one atomic step."""
        step = self._step or _Step(value=getattr(job, "_return_value", None))
        step.done = JobRunner.record_success(step.runner or self.runner, job, step.value, step.next_claim)

    def handle_job_retry(
        self,
        job: Job,
        queue: Queue,
        retry: Retry,
        started_job_registry: StartedJobRegistry,
        execution: Execution,
    ) -> None:
        """Record the outcome of a job that returned ``retry`` (a :class:`jq.Retry`): back on its
        queue (or scheduled for the retry's interval) below ``retry.max`` retries, else failed."""
        step = self._step or _Step(value=retry)
        step.done = JobRunner.record_retry(step.runner or self.runner, job, retry, step.next_claim)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: StartedJobRegistry | None = None,
        exc_string: str = "",
        execution: Execution | None = None,
    ) -> None:
        """Record that the job failed with ``exc_string``: retried under its Retry policy, else
        failed (in the failed registry unless the default exception handler is disabled) or
        stopped, and the worker's counters updated, in one atomic step."""
        step = self._step or _Step(keep=not self.disable_default_exception_handler)
        step.done = JobRunner.record_failure(
            step.runner or self.runner,
            job,
            exc_string,
            keep=step.keep,
            stopped=step.stopped,
            next_claim=step.next_claim,
        )

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """Called by RQ when the job's function returned. Nothing to do in jq: ``ended_at`` is
        written with the outcome, in the same atomic step."""

    def handle_work_horse_killed(
        self, job: Job, retpid: int | None, ret_val: int | None, rusage: Any
    ) -> None:
        """A work horse ended without reporting an outcome (a signal, a crash, ``os._exit``, a
        kill-horse command): log it and call the ``work_horse_killed_handler`` given to the
        worker. The job's failure is recorded afterwards (:meth:`handle_job_failure`)."""
        logger.warning("work horse killed for job %s: retpid=%s, ret_val=%s", job.id, retpid, ret_val)
        if self._work_horse_killed_handler is not None:
            self._work_horse_killed_handler(job, retpid, ret_val, rusage)

    # -- horses -----------------------------------------------------------------------------------

    def kill_horse(self, sig: signal.Signals = SHUTDOWN_SIGNAL) -> None:
        """Stop the running job now: kill its work horse's process group (SimpleWorker: raise the
        stop in the job's code); nothing when no job runs."""
        kill = self._kill
        reason = kill[1] if kill is not None else KillReason.KILL_HORSE
        self.strategy.kill(reason)

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        """Wait for the work horse to exit: ``(pid, waitpid status, rusage)``; ``(None, None,
        None)`` when there is no horse (SimpleWorker)."""
        return None, None, None

    def request_stop_execution(self, execution_id: str) -> None:
        """Stop the running job if it is execution ``execution_id`` (it ends ``stopped``)."""
        job = next((job for job in self.running_jobs if job.execution_id == execution_id), None)
        if job is None or not self.kill_job(KillReason.STOP_JOB, job.id):
            logger.warning("worker %s: not running execution %s, command ignored", self.name, execution_id)

    # -- heartbeats and death penalties -----------------------------------------------------------

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """Seconds each heartbeat extends the running job's lease by: ``worker_ttl``."""
        return int(self.worker_ttl)

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        """Extend the running job's lease and the worker's record now (jq's heartbeat thread does
        it every ``job_monitoring_interval`` seconds)."""
        self.renew()

    def push_exc_handler(self, handler_func: ExceptionHandler) -> None:
        """Add a handler at the end of the chain."""
        self._exc_handlers.append(handler_func)

    def pop_exc_handler(self) -> ExceptionHandler:
        """Remove and return the last handler of the chain."""
        return self._exc_handlers.pop()

    def death_penalty_class_for(self, job: Job) -> type[BaseDeathPenalty]:
        """The class enforcing ``job``'s timeout: the explicit one, a plugin's, or the default."""
        if not self._explicit_death_penalty:
            chosen = get_plugin_manager().death_penalty_class(job, self)  # type: ignore[arg-type]
            if chosen is not None:
                return chosen
        penalty = self.death_penalty_class
        if penalty is UnixSignalDeathPenalty and threading.current_thread() is not threading.main_thread():
            # SIGALRM can only be handled by the main thread; a worker in a thread uses a timer.
            return TimerDeathPenalty
        return penalty
