"""The worker: a loop that claims jobs from its queues, in order, and hands them to a strategy.

Everything else is delegated: :mod:`loop` (the loop itself, suspensions and store outages),
:mod:`registration` (its record), :mod:`heartbeat` (leases), :mod:`strategies` (in-process or
work horse), :mod:`shutdown` (signals), :mod:`commands` (shutdown, kill-horse, stop-job),
:mod:`maintenance` (abandoned jobs, expired entries, scheduled jobs), :mod:`lookup`
(``Worker.all()``...) and :class:`jq.execution.JobRunner` (running one job and recording its
outcome).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

from jq import job_record, lifecycle
from jq.broker import Broker, Claimed, ClaimRequest, WorkerUpdate
from jq.connections import resolve_broker
from jq.cron import Cron, CronScheduler, load_cron
from jq.defaults import (
    DEFAULT_DEATH_PENALTY_GRACE,
    DEFAULT_JOB_MONITORING_INTERVAL,
    DEFAULT_MAINTENANCE_INTERVAL,
    DEFAULT_RESULT_TTL,
    DEFAULT_WORKER_TTL,
)
from jq.exceptions import (
    ConfigurationError,
    DeserializationError,
    ShutDownImminentException,
    UnsupportedByBrokerError,
)
from jq.execution import JobOutcome, JobRunner
from jq.job import Job
from jq.lifecycle import NextClaim
from jq.logutils import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT, setup_logging
from jq.outage import retry_transient
from jq.plugins import get_plugin_manager
from jq.plugins.hookspecs import ExceptionHandler
from jq.queue import Queue
from jq.serializers import resolve_serializer
from jq.timeouts import BaseDeathPenalty, TimerDeathPenalty, UnixSignalDeathPenalty
from jq.utils import import_attribute
from jq.worker.commands import CommandListener
from jq.worker.heartbeat import WorkerHeartbeat
from jq.worker.horse import ForkPerJobExecution, ReusedHorseExecution
from jq.worker.lookup import WorkerLookup
from jq.worker.loop import WorkLoop
from jq.worker.maintenance import Maintenance
from jq.worker.proctitle import set_process_title
from jq.worker.registration import Registration, WorkerStatus
from jq.worker.shutdown import ShutdownSignals
from jq.worker.strategies import ExecutionStrategy, InProcessExecution, KillReason

__all__ = ["BaseWorker", "SimpleWorker", "Worker"]

logger = logging.getLogger("jq.worker")

# The status a claimed record had before its claim when it is sound (see Claimed.prior_status).
_QUEUED = b"queued"


def _resolve_class(value: Any, base: type, what: str) -> Any:
    if isinstance(value, str):
        value = import_attribute(value)
    if not (isinstance(value, type) and issubclass(value, base)):
        raise ConfigurationError(
            f"{what} must be a subclass of {base.__module__}.{base.__name__}, not {value!r}"
        )
    return value


class BaseWorker(WorkerLookup):
    """Claims jobs from its queues, in the order given, and runs them one at a time.

    Subclasses pick the execution strategy: :class:`Worker` forks a work horse per job,
    :class:`SimpleWorker` runs jobs in its own process.
    """

    queue_class: type[Queue] = Queue
    job_class: type[Job] = Job
    death_penalty_class: type[BaseDeathPenalty] = UnixSignalDeathPenalty

    def __init__(
        self,
        queues: Iterable[Queue | str] | Queue | str,
        name: str | None = None,
        default_result_ttl: int = DEFAULT_RESULT_TTL,
        connection: Any = None,
        exc_handler: ExceptionHandler | None = None,
        exception_handlers: Iterable[ExceptionHandler | str] | ExceptionHandler | None = None,
        worker_ttl: int | None = None,
        job_monitoring_interval: float = DEFAULT_JOB_MONITORING_INTERVAL,
        maintenance_interval: float = DEFAULT_MAINTENANCE_INTERVAL,
        job_class: type[Job] | str | None = None,
        queue_class: type[Queue] | str | None = None,
        log_job_description: bool = True,
        disable_default_exception_handler: bool = False,
        prepare_for_work: bool = True,
        serializer: Any = None,
        death_penalty_class: type[BaseDeathPenalty] | str | None = None,
        default_worker_ttl: int | None = None,
        death_penalty_grace: float = DEFAULT_DEATH_PENALTY_GRACE,
        cron: Cron | str | None = None,
    ) -> None:
        if job_class is not None:
            self.job_class = _resolve_class(job_class, Job, "job_class")
        if queue_class is not None:
            self.queue_class = _resolve_class(queue_class, Queue, "queue_class")
        self._explicit_death_penalty = death_penalty_class is not None
        if death_penalty_class is not None:
            self.death_penalty_class = _resolve_class(
                death_penalty_class, BaseDeathPenalty, "death_penalty_class"
            )
        self.serializer = resolve_serializer(serializer)
        self.queues = self._resolve_queues(queues, connection)
        self.broker: Broker = self.queues[0].broker
        self.name: str = name or uuid.uuid4().hex
        self.pid = os.getpid()
        self.hostname: str | None = None
        self.worker_ttl = worker_ttl or default_worker_ttl or DEFAULT_WORKER_TTL
        self.job_monitoring_interval = job_monitoring_interval
        self.maintenance_interval = maintenance_interval
        self.default_result_ttl = default_result_ttl
        self.log_job_description = log_job_description
        self.disable_default_exception_handler = disable_default_exception_handler
        self._exc_handlers: list[ExceptionHandler] = self._resolve_handlers(exc_handler, exception_handlers)
        self.state = WorkerStatus.STARTED
        self.current_job_id: str | None = None
        self.birth_date: Any = None
        self.last_heartbeat: Any = None
        self.successful_job_count = 0
        self.failed_job_count = 0
        self.total_working_time = 0.0
        self.stop_requested = False
        #: The job being run now (its lease is renewed by the heartbeat), or None.
        self.running_job: Job | None = None
        #: A job claimed ahead (with the previous job's outcome) that waits to run here, or None:
        #: the heartbeat renews its lease too, so it never looks abandoned while it waits.
        self.held_job: Job | None = None
        #: Set by a cold shutdown: a job that reaches its runner from now on is killed at once.
        self.cold_shutdown = False
        # (execution id, reason) of a kill asked for the running job, so that a kill that comes
        # before the job has reached its work horse is carried out once it has (see kill_job).
        self._kill: tuple[str | None, KillReason] | None = None
        #: Held while the heartbeat talks to the store and while a work horse is forked, so that a
        #: horse is never forked in the middle of a call to the store.
        self.fork_guard = threading.Lock()
        #: Periodic jobs this worker fires too (a Cron, or the module holding one).
        self.cron = cron
        self.registration = Registration(self)
        self.death_penalty_grace = death_penalty_grace
        self.execution: ExecutionStrategy = self.make_execution()
        self.runner = JobRunner(worker=self, death_penalty_class=self.death_penalty_class)
        if prepare_for_work:
            self._check_broker()

    # -- set-up -----------------------------------------------------------------------------------

    def _resolve_queues(self, queues: Any, connection: Any) -> list[Queue]:
        items = [queues] if isinstance(queues, str | Queue) else list(queues or [])
        if not items:
            raise ConfigurationError(
                "a worker needs at least one queue to listen to, e.g. Worker(['default'])"
            )
        if connection is None:
            connection = next((item.broker for item in items if isinstance(item, Queue)), None)
        broker = resolve_broker(connection)
        resolved: list[Queue] = []
        for item in items:
            if isinstance(item, str):
                queue = self.queue_class(
                    item, connection=broker, job_class=self.job_class, serializer=self.serializer
                )
            elif not isinstance(item, Queue):
                raise ConfigurationError(f"a worker listens to queues or queue names, not {item!r}")
            elif item.broker is not broker:
                raise ConfigurationError(f"queue {item.name!r} uses another connection than the worker's")
            else:
                queue = item
            resolved.append(queue)
        return resolved

    @staticmethod
    def _resolve_handlers(single: Any, many: Any) -> list[ExceptionHandler]:
        handlers: list[Any] = []
        if single is not None:
            handlers.append(single)
        if many is not None:
            handlers.extend(many if isinstance(many, list | tuple) else [many])
        resolved = [import_attribute(h) if isinstance(h, str) else h for h in handlers]
        for handler in resolved:
            if not callable(handler):
                raise ConfigurationError(f"exception handler {handler!r} is not callable")
        return resolved

    def make_execution(self) -> ExecutionStrategy:
        """The strategy that runs this worker's jobs (in process; :class:`Worker`: work horses)."""
        return InProcessExecution()

    def _check_broker(self) -> None:
        if self.execution.uses_processes and not self.broker.shares_across_processes:
            raise UnsupportedByBrokerError(
                f"{type(self).__name__} runs each job in a forked work horse, but the {self.broker.url} "
                "store lives inside this process and a horse's writes would be lost: use SimpleWorker, "
                "or a redis:// connection"
            )

    def _check_store(self) -> None:
        # Before subscribing or registering: a permission the store refuses fails the start with
        # one message saying what to grant, instead of a traceback half-way through the first job.
        for warning in self.broker.preflight():
            logger.warning("worker %s: %s", self.name, warning)

    # -- identity and lookup ----------------------------------------------------------------------

    @property
    def key(self) -> str:
        """The key of this worker's record."""
        return self.broker.worker_key(self.name)

    @property
    def connection(self) -> Any:
        """The client of the worker's broker."""
        return self.broker.connection

    def queue_names(self) -> list[str]:
        """The names of the queues, in listening order."""
        return [queue.name for queue in self.queues]

    def queue_keys(self) -> list[str]:
        """The keys of the queues, in listening order."""
        return [queue.key for queue in self.queues]

    @property
    def current_job(self) -> Job | None:
        """The job this worker is running, or None."""
        if self.current_job_id is None:
            return None
        found = self.job_class.fetch_many(
            [self.current_job_id], connection=self.broker, serializer=self.serializer
        )
        return found[0]

    def get_state(self) -> WorkerStatus:
        """What the worker is doing."""
        return self.state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, queues={self.queue_names()})"

    # -- exception handlers and death penalties ---------------------------------------------------

    def push_exc_handler(self, handler: ExceptionHandler) -> None:
        """Add a handler at the end of the chain."""
        self._exc_handlers.append(handler)

    def pop_exc_handler(self) -> ExceptionHandler:
        """Remove and return the last handler of the chain."""
        return self._exc_handlers.pop()

    def death_penalty_class_for(self, job: Job) -> type[BaseDeathPenalty]:
        """The class enforcing ``job``'s timeout: the explicit one, a plugin's, or the default."""
        if not self._explicit_death_penalty:
            chosen = get_plugin_manager().death_penalty_class(job, self)
            if chosen is not None:
                return chosen
        penalty = self.death_penalty_class
        if penalty is UnixSignalDeathPenalty and threading.current_thread() is not threading.main_thread():
            # SIGALRM can only be handled by the main thread; a worker in a thread uses a timer.
            return TimerDeathPenalty
        return penalty

    # -- the loop ---------------------------------------------------------------------------------

    def work(
        self,
        burst: bool = False,
        logging_level: str | int = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        max_jobs: int | None = None,
        max_idle_time: float | None = None,
        with_scheduler: bool = False,
    ) -> bool:
        """Run jobs until told to stop; whether any job was run.

        :param burst: stop once every queue is empty.
        :param max_jobs: stop after this many jobs.
        :param max_idle_time: stop after waiting this many seconds for a job.
        :param with_scheduler: also queue due scheduled jobs of these queues.
        """
        if max_jobs is not None and max_jobs < 1:
            raise ConfigurationError(f"max_jobs must be at least 1, not {max_jobs}")
        setup_logging(logger, logging_level, log_format, date_format)
        self._check_broker()
        self._check_store()
        self._exc_handlers_with_plugins = [
            *self._exc_handlers,
            *get_plugin_manager().exception_handlers(self),
        ]
        self.runner = JobRunner(
            worker=self,
            death_penalty_class=self.death_penalty_class,
            exception_handlers=self._exc_handlers_with_plugins,
            move_to_failed=not self.disable_default_exception_handler,
            default_result_ttl=self.default_result_ttl,
            # Past two lease lengths another worker has ended the job as abandoned anyway.
            outage_patience=2 * self.worker_ttl,
        )
        maintenance = Maintenance(self, self.maintenance_interval, with_scheduler, self.cron_scheduler())
        loop = WorkLoop(self, maintenance, burst=burst, max_jobs=max_jobs, max_idle_time=max_idle_time)
        signals = ShutdownSignals(self)
        commands = CommandListener(self)
        heartbeat = WorkerHeartbeat(self, self.heartbeat_interval)
        # Listen before becoming visible: a command sent to a listed worker must reach it.
        commands.start()
        try:
            self.registration.register_birth()
        except BaseException:
            commands.stop()
            raise
        try:
            heartbeat.start()
            signals.install()
            logger.info("worker %s started, listening to %s", self.name, ", ".join(self.queue_names()))
            set_process_title(f"worker {self.name}: idle on {','.join(self.queue_names())}")
            # The store may drop the connection at any moment, this first write included.
            retry_transient(
                self.broker,
                lambda: self.registration.heartbeat(state=WorkerStatus.IDLE),
                patience=self.worker_ttl,
                what="record the worker as idle",
            )
            # Scheduling runs beside the loop, not between jobs: a long job must not stop it.
            maintenance.start()
            loop.run()
        except ShutDownImminentException:
            logger.warning("worker %s: stopped at once", self.name)
        finally:
            signals.restore()
            commands.stop()
            heartbeat.stop()
            self.execution.close()
            with contextlib.suppress(*self.broker.transient_errors):
                maintenance.stop()
            self._register_death()
            logger.info("worker %s stopped after %d job(s)", self.name, loop.processed)
        return loop.processed > 0

    def _register_death(self) -> None:
        try:
            retry_transient(self.broker, self.registration.register_death, patience=10, what="unregister")
        except self.broker.transient_errors:
            # Its record expires after worker_ttl anyway.
            logger.warning("worker %s: could not unregister (the store is unreachable)", self.name)

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between renewals of leases and of the worker's record."""
        return max(min(self.job_monitoring_interval, self.worker_ttl / 3), 0.05)

    def claim_request(self) -> ClaimRequest:
        """How this worker claims its next job: a new execution id, a lease, its record busy."""
        return ClaimRequest(
            self.queue_names(),
            # Called right before each attempt: started_at is when the job is claimed, even after
            # a long wait for one.
            lambda: lifecycle.claim_fields(self.name),
            # Also called at the claim: a request prepared before a job runs (the next claim made
            # with its outcome) must not carry a lease that ran out while the job ran.
            lambda: time.time() + self.worker_ttl,
            worker=WorkerUpdate(self.name, {"state": b"busy", "last_heartbeat": lifecycle.now_text()}),
        )

    def claim_next(self, wait: float | None) -> Claimed | None:
        """Claim the next job from the queues, waiting up to ``wait`` seconds; None if none came."""
        request = self.claim_request()
        return self.broker.claim(request.queues, request.fields, request.lease_until, wait=wait,
                                 worker=request.worker)  # fmt: skip

    def dequeue(self, wait: float | None) -> Job | None:
        """Claim the next job and read it; None if none came, or if its record was unreadable (the
        job was then failed: see :meth:`job_from_claim`)."""
        claimed = self.claim_next(wait)
        return None if claimed is None else self.job_from_claim(claimed)

    def job_from_claim(self, claimed: Claimed) -> Job | None:
        """The Job of a claimed record; None (the job failed, recorded) if the record is unreadable."""
        job = self.job_class(claimed.job_id, connection=self.broker, serializer=self.serializer)
        try:
            if claimed.prior_status != _QUEUED:
                status = "no status" if claimed.prior_status is None else f"status {claimed.prior_status!r}"
                raise DeserializationError(
                    f"the record of job {job.id!r} is corrupt: it was on queue {claimed.queue!r} with "
                    f"{status}, which is not a status jq knows; it was not run"
                )
            job_record.apply(job, claimed.record)
        except Exception:
            # A record that cannot be read must still end somewhere: fail it, do not crash. A
            # fresh stand-in, so nothing half-read from the record (a callback) is acted on.
            unreadable = self.job_class.unreadable(
                claimed.job_id,
                claimed.queue,
                claimed.record,
                connection=self.broker,
                serializer=self.serializer,
            )
            self.runner.handle_failure(unreadable, sys.exc_info())  # type: ignore[arg-type]
            return None
        return job

    def perform(self, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Run one claimed job with the execution strategy and count the outcome.

        With ``next_claim``, the strategy may claim the next job in the same round trip.
        """
        self.running_job, self.current_job_id = job, job.id
        if self.log_job_description:
            logger.info("%s: %s (%s)", job.origin, job.description, job.id)
        else:
            logger.info("%s: job %s started", job.origin, job.id)
        # The runner in this process records the outcome of a job whose work horse died or
        # overran: its working time counts from here.
        started = self.runner.started = time.monotonic()
        try:
            outcome = self.execution.execute(self, job, next_claim)
        finally:
            self.running_job, self.current_job_id, self._kill = None, None, None
            self.runner.started = None
            self.total_working_time += time.monotonic() - started
        # The runner that recorded the outcome (here, or in the work horse) logged it, with how
        # long the job ran.
        if outcome is JobOutcome.SUCCEEDED:
            self.successful_job_count += 1
        elif outcome in (JobOutcome.FAILED, JobOutcome.RETRIED):
            self.failed_job_count += 1
        return outcome

    def cron_scheduler(self) -> CronScheduler | None:
        """A scheduler for this worker's :attr:`cron`, or None without one."""
        if self.cron is None:
            return None
        cron = load_cron(self.cron) if isinstance(self.cron, str) else self.cron
        return CronScheduler(cron, self.broker)

    def renew(self) -> None:
        """Extend the leases of the running job and of a job held to run next, and this worker's
        record, by ``worker_ttl`` (the heartbeat thread calls this)."""
        for job in {id(job): job for job in (self.running_job, self.held_job) if job is not None}.values():
            if job.execution_id is not None:
                self.broker.extend_lease(job.origin, job.id, job.execution_id, time.time() + self.worker_ttl)
        self.registration.heartbeat()

    def on_horse_start(self, job: Job) -> None:
        """Called in a freshly forked work horse before it runs ``job``. Override to prepare it."""
        set_process_title(f"horse of {self.name}: job {job.id}")

    # -- stopping ---------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Warm shutdown: finish the current job, take no new one."""
        self.stop_requested = True

    def request_force_stop(self) -> None:
        """Cold shutdown: stop the current job now."""
        self.stop_requested = self.cold_shutdown = True
        self.kill_job(KillReason.COLD_SHUTDOWN)

    def kill_job(self, reason: KillReason, job_id: str | None = None) -> bool:
        """Stop the running job now (only if it is ``job_id``, when given); whether one ran.

        The kill is also remembered for that execution: one that comes while the job is being
        handed to its work horse is carried out as soon as the horse has it (see
        :meth:`kill_reason_for`), never lost and never followed by a second run of the job.
        """
        job = self.running_job
        if job is None or (job_id is not None and job.id != job_id):
            held = self.held_job
            if job_id is None or held is None or held.id != job_id:
                return False
            # Claimed ahead and waiting to run here: killed as soon as it starts.
            self._kill = (held.execution_id, reason)
            return True
        self._kill = (job.execution_id, reason)
        self.execution.kill(reason)
        return True

    def kill_reason_for(self, job: Job) -> KillReason | None:
        """Why ``job`` (the running job) must be killed now, or None: a kill asked for this very
        execution, or a cold shutdown."""
        kill = self._kill
        if kill is not None and kill[0] == job.execution_id:
            return kill[1]
        return KillReason.COLD_SHUTDOWN if self.cold_shutdown else None


class Worker(BaseWorker):
    """Runs jobs in a work horse process: a crash, a timeout or a leak in a job never reaches the
    worker. Needs a broker shared across processes (Redis).

    By default one horse runs job after job (see :mod:`jq.worker.horse` for what a job can
    observe of earlier ones); ``fork_per_job=True`` forks a fresh horse for every job, as RQ does.
    ``max_jobs_per_horse`` replaces a reused horse after that many jobs.
    """

    def __init__(
        self,
        *args: Any,
        fork_per_job: bool = False,
        max_jobs_per_horse: int | None = None,
        **kwargs: Any,
    ) -> None:
        if max_jobs_per_horse is not None and max_jobs_per_horse < 1:
            raise ConfigurationError(f"max_jobs_per_horse must be at least 1, not {max_jobs_per_horse}")
        self.fork_per_job = fork_per_job
        self.max_jobs_per_horse = max_jobs_per_horse
        super().__init__(*args, **kwargs)

    def make_execution(self) -> ExecutionStrategy:
        """A work horse per job, or one reused horse."""
        if self.fork_per_job:
            return ForkPerJobExecution(self.death_penalty_grace)
        return ReusedHorseExecution(self.death_penalty_grace, self.max_jobs_per_horse)


class SimpleWorker(BaseWorker):
    """Runs each job in the worker's own process: no fork, fastest, works with every broker."""
