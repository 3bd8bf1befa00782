"""The worker: a loop that claims jobs from its queues, in order, and hands them to a strategy.

Everything else is delegated: :mod:`loop` (the loop itself, suspensions and store outages),
:mod:`registration` (its record), :mod:`heartbeat` (leases), :mod:`strategies` (in-process or
work horse), :mod:`shutdown` (signals), :mod:`commands` (shutdown, kill-horse, stop-job),
:mod:`maintenance` (abandoned jobs, expired entries, scheduled jobs), :mod:`lookup`
(``Worker.all()``...) and :class:`jq.core.execution.JobRunner` (running one job and recording its
outcome). Each of these receives what it uses (the broker, the worker's name and settings, and the
worker's methods it calls, bound, so that a subclass's overrides of RQ's hooks are called), not
the worker. One that calls several of those hooks or reads members as they change (an execution
strategy, the command handlers, the registration) receives the worker typed by a Protocol that
lists what it uses, such as :class:`jq.worker.horse.HorseHost`; the JobRunner receives the worker
itself, which it hands to plugins' hooks. RQ's members live in mixins of their own: :mod:`info`
(what a worker says about itself), :mod:`hooks` (what custom worker classes override),
:mod:`control` (its life's steps), :mod:`claiming` (claiming its next job and reading it). The
worker classes (Worker, SimpleWorker, SpawnWorker...) are in :mod:`jq.worker.worker_classes`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

from jq.base.logutils import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT, setup_logging
from jq.base.timeouts import (
    BaseDeathPenalty,
    UnixSignalDeathPenalty,
    get_default_death_penalty_class,
    hold_alarm_handler,
)
from jq.base.utils import MAX_SECONDS, import_attribute, validate_ttl
from jq.broker import Broker
from jq.core.execution import JobOutcome
from jq.core.job import Job
from jq.core.lifecycle import NextClaim
from jq.core.outage import retry_transient
from jq.defaults import (
    DEFAULT_DEATH_PENALTY_GRACE,
    DEFAULT_JOB_MONITORING_INTERVAL,
    DEFAULT_MAINTENANCE_INTERVAL,
    DEFAULT_RESULT_TTL,
    DEFAULT_WORKER_TTL,
)
from jq.exceptions import (
    ConfigurationError,
    ShutDownImminentException,
    StoreDataError,
    UnsupportedByBrokerError,
)
from jq.io.connections import resolve_broker, same_store
from jq.io.serializers import resolve_serializer
from jq.plugins import get_plugin_manager
from jq.plugins.hookspecs import ExceptionHandler
from jq.queueing.queue import Queue
from jq.scheduling.cron import Cron, CronScheduler, load_cron
from jq.worker.batching import checked_batch_size
from jq.worker.claiming import WorkerClaims
from jq.worker.commands import CommandListener
from jq.worker.concurrency.settings import ConcurrencyPool, ConcurrencySettings
from jq.worker.concurrency.working import WorkerConcurrency
from jq.worker.control import DequeueStrategy, WorkerChores, WorkerControl
from jq.worker.heartbeat import WorkerHeartbeat
from jq.worker.hooks import SHUTDOWN_SIGNAL, WorkerHooks, WorkerJobRunner, WorkHorseKilledHandler
from jq.worker.info import WorkerInfo
from jq.worker.lookup import WorkerLookup
from jq.worker.loop import LoopCalls
from jq.worker.maintenance import Maintenance
from jq.worker.pulse import LeasePulse
from jq.worker.registration import WorkerStatus, registration_of
from jq.worker.shutdown import ShutdownSignals
from jq.worker.store_watch import StoreWatch
from jq.worker.strategies import ExecutionStrategy, InProcessExecution, KillReason

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "SHUTDOWN_SIGNAL",
    "BaseWorker",
    "DequeueStrategy",
    "WorkerStatus",
    "_signames",
    "logger",
    "signal_name",
]

logger = logging.getLogger("jq.worker")


#: Signal numbers and their names (``SIGTERM``...), as RQ lists them.
_signames = {
    getattr(signal, name): name for name in dir(signal) if name.startswith("SIG") and "_" not in name
}


def signal_name(signum: int) -> str:
    """The name of a signal number (``"SIGTERM"``), or ``"SIG_UNKNOWN"``."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "SIG_UNKNOWN"


def _resolve_class(value: Any, base: type, what: str) -> Any:
    if isinstance(value, str):
        value = import_attribute(value)
    if not (isinstance(value, type) and issubclass(value, base)):
        raise ConfigurationError(
            f"{what} must be a subclass of {base.__module__}.{base.__name__}, not {value!r}"
        )
    return value


#: A number of seconds, kept as the caller's type (int for a TTL, float for an interval).
_N = TypeVar("_N", int, float)


def _seconds(value: _N, name: str) -> _N:
    """``value``, a number of seconds above 0 and at most ``MAX_SECONDS``; a
    :class:`ConfigurationError` that says what was given otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_SECONDS:
        raise ConfigurationError(
            f"{name} must be a number of seconds above 0 (at most {MAX_SECONDS}), not {value!r}"
        )
    return value


def _result_ttl(value: Any) -> Any:
    """``default_result_ttl`` as a job's ``result_ttl`` is checked (``'1h'`` is 3600); None stays."""
    checked = validate_ttl(value, name="default_result_ttl", allow_zero=True)
    return value if checked is None else checked


def _checked_name(name: Any) -> str | None:
    """``name`` if it is None or text; a :class:`ConfigurationError` otherwise."""
    if name is not None and not isinstance(name, str):
        raise ConfigurationError(f"a worker's name must be text (a str), not {type(name).__name__} {name!r}")
    return name


class BaseWorker(
    WorkerLookup, WorkerInfo, WorkerHooks, WorkerControl, WorkerChores, WorkerClaims, WorkerConcurrency
):
    """Claims jobs from its queues, in the order given, and runs them one at a time, or several at
    once (``concurrency=N``, ``pool="asyncio"`` or ``"threads"``: see :mod:`jq.worker.concurrency`).

    Subclasses pick the execution strategy (:meth:`make_strategy`): :class:`jq.Worker` forks a
    work horse per job, :class:`jq.SimpleWorker` runs jobs in its own process,
    :class:`jq.SpawnWorker` starts a fresh Python process per job.
    """

    queue_class: type[Queue] = Queue
    job_class: type[Job] = Job
    death_penalty_class: type[BaseDeathPenalty] = get_default_death_penalty_class()
    #: Whether a finished job's log line says how long its result is kept (RQ's switch).
    log_result_lifespan = True
    #: RQ's back-off settings for a lost store; jq's worker backs off up to 2 s between tries.
    exponential_backoff_factor = 2.0
    max_connection_wait_time = 60.0
    #: The start of a worker record's key with the default prefix (the driver names the keys).
    redis_worker_namespace_prefix = "jq:worker:"
    #: The key listing the live workers, with the default prefix.
    redis_workers_keys = "jq:workers"

    def __init__(
        self,
        queues: Iterable[Queue | str] | Queue | str,
        name: str | None = None,
        default_result_ttl: int = DEFAULT_RESULT_TTL,
        connection: Any = None,
        exception_handlers: Iterable[ExceptionHandler | str] | ExceptionHandler | None = None,
        maintenance_interval: float = DEFAULT_MAINTENANCE_INTERVAL,
        default_worker_ttl: int | None = None,
        worker_ttl: int | None = None,
        job_class: type[Job] | str | None = None,
        queue_class: type[Queue] | str | None = None,
        log_job_description: bool = True,
        job_monitoring_interval: float = DEFAULT_JOB_MONITORING_INTERVAL,
        disable_default_exception_handler: bool = False,
        prepare_for_work: bool = True,
        serializer: Any = None,
        work_horse_killed_handler: WorkHorseKilledHandler | None = None,
        *,
        exc_handler: ExceptionHandler | None = None,
        death_penalty_class: type[BaseDeathPenalty] | str | None = None,
        death_penalty_grace: float = DEFAULT_DEATH_PENALTY_GRACE,
        cron: Cron | str | None = None,
        concurrency: int = 1,
        pool: ConcurrencyPool | str | None = None,
        batch_size: int = 1,
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
        # What the worker was told to connect with (SpawnWorker hands a URL on to its horses).
        self._connection_arg = connection
        self.queues = self._resolve_queues(queues, connection)
        self._ordered_queues = list(self.queues)
        self._dequeue_strategy = DequeueStrategy.DEFAULT
        self.broker: Broker = self.queues[0].broker
        self.name: str = _checked_name(name) or uuid.uuid4().hex
        self.pid = os.getpid()
        self.hostname: str | None = socket.gethostname() if prepare_for_work else None
        # Checked here: a wrong one would otherwise stop work() at its first heartbeat or job.
        self.worker_ttl, self.job_monitoring_interval, self.maintenance_interval = (
            _seconds(worker_ttl or default_worker_ttl or DEFAULT_WORKER_TTL, "worker_ttl"),
            _seconds(job_monitoring_interval, "job_monitoring_interval"),
            _seconds(maintenance_interval, "maintenance_interval"),
        )
        self.default_result_ttl = _result_ttl(default_result_ttl)
        self.log_job_description = log_job_description
        self.disable_default_exception_handler = disable_default_exception_handler
        self._exc_handlers: list[ExceptionHandler] = self._resolve_handlers(exc_handler, exception_handlers)
        self._work_horse_killed_handler = work_horse_killed_handler
        self.state = WorkerStatus.STARTED
        self.current_job_id: str | None = None
        self.birth_date: Any = None
        self.last_heartbeat: Any = None
        self.last_cleaned_at: Any = None
        self.successful_job_count = self.failed_job_count = 0
        self.total_working_time = 0.0
        self.stop_requested = False
        #: The worker's logger (RQ's ``worker.log``).
        self.log = logger
        #: The job being run now (its lease is renewed by the heartbeat), or None.
        self.running_job: Job | None = None
        #: A job claimed ahead (with the previous job's outcome) that waits to run here, or None:
        #: the heartbeat renews its lease too, so it never looks abandoned while it waits.
        self.held_job: Job | None = None
        # Renews the running job's lease from another process while jobs run in this one.
        self._pulse: LeasePulse | None = None
        #: Set by a cold shutdown: a job that reaches its runner from now on is killed at once.
        self.cold_shutdown = False
        # (execution id, reason) of a kill asked for the running job, so that a kill that comes
        # before the job has reached its work horse is carried out once it has (see kill_job).
        self._kill: tuple[str | None, KillReason] | None = None
        #: Held while the heartbeat talks to the store and while a work horse is forked, so that a
        #: horse is never forked in the middle of a call to the store.
        self.fork_guard = threading.Lock()
        #: Periodic jobs this worker fires too (a Cron, or the module holding one); and
        #: ``batch_size``, the most jobs a claim takes at once from a deep queue: the one it starts
        #: and those it reserves to run next (see :mod:`jq.worker.batching`); 1: one per claim.
        self.cron, self.batch_size = cron, checked_batch_size(batch_size)
        self.registration = registration_of(self)
        self._commands = CommandListener(self.broker, self.name, self.handle_payload)
        self._maintenance: Maintenance | None = None
        self.death_penalty_grace = death_penalty_grace
        #: How this worker runs its jobs (in process, work horses...).
        self.strategy: ExecutionStrategy[Self] = self.make_strategy()
        self.concurrency_settings = self._check_concurrency(ConcurrencySettings.of(concurrency, pool))
        # The runner work() builds adds the plugins' exception handlers; a view of a worker
        # (Worker.all()) never runs a job, so asking plugins is left until then.
        self.runner: WorkerJobRunner = WorkerJobRunner(
            worker=self, death_penalty_class=self.death_penalty_class
        )
        self.validate_queues()
        if prepare_for_work:
            self._check_broker()

    # -- set-up -----------------------------------------------------------------------------------

    def _resolve_queues(self, queues: Any, connection: Any) -> list[Queue]:
        if queues is not None and not isinstance(queues, str | Queue | Iterable):
            raise ConfigurationError(f"a worker listens to queues or queue names, not {queues!r}")
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
            # RQ's worker reads every queue through its own connection: django-rq hands it queues
            # made on one client each, of the same server. Another store is refused.
            elif item.broker is not broker and not same_store(item.broker, broker):
                raise ConfigurationError(
                    f"queue {item.name!r} uses another connection than the worker's: a worker reads "
                    "all its queues from one store (one Redis, database and key prefix); run a "
                    "worker for each store"
                )
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

    def make_strategy(self) -> ExecutionStrategy[Self]:
        """The strategy that runs this worker's jobs (in process; :class:`Worker`: work horses)."""
        return InProcessExecution()

    def _make_runner(self) -> WorkerJobRunner:
        return WorkerJobRunner(
            worker=self,
            death_penalty_class=self.death_penalty_class,
            exception_handlers=[*self._exc_handlers, *get_plugin_manager().exception_handlers(self)],
            move_to_failed=not self.disable_default_exception_handler,
            default_result_ttl=self.default_result_ttl,
            # Past two lease lengths another worker has ended the job as abandoned anyway.
            outage_patience=2 * self.worker_ttl,
        )

    def _check_broker(self) -> None:
        if self.strategy.uses_processes and not self.broker.shares_across_processes:
            raise UnsupportedByBrokerError(
                f"{type(self).__name__} runs each job in another process, but the {self.broker.url} "
                "store lives inside this process and that process's writes would be lost: use "
                "SimpleWorker, or a redis:// connection"
            )

    def _check_store(self) -> None:
        # Before subscribing or registering: a permission the store refuses fails the start with
        # one message saying what to grant, instead of a traceback half-way through the first job.
        for warning in self.broker.preflight():
            logger.warning("worker %s: %s", self.name, warning)

    def _setup_logging(self, level: str | int | None, date_format: str, log_format: str) -> None:
        # None leaves a level set before alone (RQ's rule); an unset level means INFO, as RQ's
        # worker logger has from import on.
        if level is None:
            level = logger.level or logging.INFO
        setup_logging(logger, level, log_format, date_format)
        self._log_settings = (level, date_format, log_format)

    # -- the loop ---------------------------------------------------------------------------------

    def work(
        self,
        burst: bool = False,
        logging_level: str | int | None = None,
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        max_jobs: int | None = None,
        max_idle_time: float | None = None,
        with_scheduler: bool = False,
        dequeue_strategy: DequeueStrategy | str = DequeueStrategy.DEFAULT,
    ) -> bool:
        """Run jobs until told to stop; whether any job was run.

        :param burst: stop once every queue is empty.
        :param logging_level: the ``jq.worker`` logger's level; None leaves it as it is (INFO
            unless set before).
        :param max_jobs: stop after this many jobs.
        :param max_idle_time: stop after waiting this many seconds for a job.
        :param with_scheduler: also queue due scheduled jobs of these queues.
        :param dequeue_strategy: the order in which queues are looked at (:class:`DequeueStrategy`).
        """
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1
        ):
            raise ConfigurationError(f"max_jobs must be a whole number of jobs, at least 1, not {max_jobs!r}")
        if max_idle_time is not None:
            max_idle_time = _seconds(max_idle_time, "max_idle_time")
        self._dequeue_strategy = DequeueStrategy.parse(dequeue_strategy)
        self._ordered_queues = list(self.queues)
        self.runner = self._make_runner()
        # The heartbeat's calls tell maintenance whether expired leases can be trusted.
        watch = StoreWatch(self.heartbeat_interval)
        maintenance = self._maintenance = Maintenance(
            self.name,
            self.broker,
            self.queues,
            self.maintenance_interval,
            run_tasks=self.run_maintenance_tasks,
            fork_guard=self.fork_guard,
            reporter=self,
            with_scheduler=with_scheduler,
            cron=self.cron_scheduler(),
            store_watch=watch,
            lease_grace=self.worker_ttl,
        )
        loop = self.make_work_loop(maintenance, burst=burst, max_jobs=max_jobs, max_idle_time=max_idle_time)
        signals = ShutdownSignals(self.name, self.request_stop, self.request_force_stop)
        heartbeat = self._heartbeat = WorkerHeartbeat(
            self.name, self.heartbeat_interval, self.renew, self.fork_guard, watch, broker=self.broker
        )
        self.bootstrap(logging_level, date_format, log_format)
        try:
            if not self.strategy.uses_processes and self.broker.shares_across_processes:
                # Jobs run in this interpreter: a job holding the GIL must not stop the renewals.
                self._pulse = LeasePulse(
                    self.name, self.broker, self.heartbeat_interval, self.worker_ttl, self.fork_guard
                )
                self._pulse.start()
            heartbeat.start()
            signals.install()
            concurrent = self.concurrency_settings
            logger.info(
                "worker %s started, listening to %s%s",
                self.name, ", ".join(self.queue_names()),
                f", running {concurrent.describe()}" if concurrent.concurrent else "",
            )  # fmt: skip
            self.procline(f"idle on {','.join(self.queue_names())}")
            # The store may drop the connection at any moment, this first write included.
            retry_transient(
                self.broker,
                lambda: self.set_state(WorkerStatus.IDLE),
                patience=self.worker_ttl,
                what="record the worker as idle",
            )
            # Scheduling runs beside the loop, not between jobs: a long job must not stop it.
            maintenance.start()
            with self._alarm_hold():
                loop.run()
        except ShutDownImminentException:
            logger.warning("worker %s: stopped at once", self.name)
        finally:
            try:
                if self._pulse is not None:
                    self._pulse.stop()
                    self._pulse = None
                heartbeat.stop()
                self._heartbeat = None
                self.strategy.close()
                self._engine = None
                self.stop_scheduler()
                self.teardown()
            finally:
                # Only now: a second SIGTERM during the shutdown (a cold one) must not kill the
                # worker before it has unregistered, or its record would hold its name.
                signals.restore()
            logger.info("worker %s stopped after %d job(s)", self.name, loop.processed)
        return loop.processed > 0

    def _alarm_hold(self) -> AbstractContextManager[None]:
        """SIGALRM's handler held for the loop when jobs stop by SIGALRM: each job's penalty then
        only sets the timer (see :func:`jq.timeouts.hold_alarm_handler`)."""
        if issubclass(self.death_penalty_class, UnixSignalDeathPenalty):
            return hold_alarm_handler()
        return nullcontext()

    def loop_calls(self) -> LoopCalls:
        """The worker's methods its loop calls, bound (overrides included)."""
        return LoopCalls(
            stop_requested=lambda: self.stop_requested,
            claim_next=self.claim_next,
            claim_request=self.claim_request,
            job_from_claim=self.job_from_claim,
            execute_job=self.execute_claimed_job,
            hold_job=self._hold_job,
            procline=self.procline,
            queue_names=self.queue_names,
            heartbeat=self.heartbeat,
            set_state=self.set_state,
        )

    def _hold_job(self, job: Job | None) -> None:
        self.held_job = job

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between renewals of leases and of the worker's record."""
        return max(min(self.job_monitoring_interval, self.worker_ttl / 3), 0.05)

    def perform(self: Self, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Run one claimed job with the execution strategy and count the outcome.

        With ``next_claim``, the strategy may claim the next job in the same round trip.
        """
        self.running_job, self.current_job_id = job, job.id
        # The claim recorded the worker busy in the store; this object says so too.
        self.state = WorkerStatus.BUSY
        if self.log_job_description:
            logger.info("%s: %s (%s)", job.origin, job.description, job.id)
        else:
            logger.info("%s: job %s started", job.origin, job.id)
        # The runner in this process records the outcome of a job whose work horse died or
        # overran: its working time counts from here.
        started = self.runner.started = time.monotonic()
        pulse = self._pulse
        if pulse is not None and job.execution_id is not None:
            pulse.running([(job.origin, job.id, job.execution_id)])
        try:
            outcome = self.strategy.execute(self, job, next_claim)
        except StoreDataError as error:
            # Bad data in the store refused the outcome's write, which wrote nothing: the job
            # stays started until its lease runs out, and maintenance ends it then.
            logger.error("job %s: its outcome could not be recorded: %s", job.id, error)
            outcome = JobOutcome.STALE
        finally:
            if pulse is not None:
                pulse.running([])
            self.running_job, self.current_job_id, self._kill = None, None, None
            self.runner.started = None
            self.total_working_time += time.monotonic() - started
            self.state = WorkerStatus.IDLE
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
        """Extend the leases of the running jobs and of a job held to run next, and this worker's
        record (:meth:`heartbeat`), by ``worker_ttl`` (the heartbeat thread calls this)."""
        for job in self._leased_jobs():
            if job.execution_id is not None:
                lease_until = self.broker.now() + self.worker_ttl
                self.broker.extend_lease(job.origin, job.id, job.execution_id, lease_until)
        self.heartbeat()
        pulse = self._pulse
        if pulse is not None and not pulse.check():
            self._pulse = None

    # -- stopping jobs ----------------------------------------------------------------------------

    def kill_job(self, reason: KillReason, job_id: str | None = None) -> bool:
        """Stop the running job now (only if it is ``job_id``, when given); whether one ran.

        The kill is also remembered for that execution: one that comes while the job is being
        handed to its work horse is carried out as soon as the horse has it (see
        :meth:`kill_reason_for`), never lost and never followed by a second run of the job. The
        kill itself is :meth:`kill_horse`. A worker running several jobs stops the one named, or
        every one it runs (``job_id`` None: a kill-horse command, a cold shutdown).
        """
        engine = self._engine
        if engine is not None:
            return engine.kill(reason, job_id)
        job = self.running_job
        if job is None or (job_id is not None and job.id != job_id):
            held = self.held_job
            if held is None or (job_id is not None and held.id != job_id):
                return False
            # Claimed and about to run here (the store names it the worker's job already), or
            # claimed ahead while no job runs: killed as soon as it starts.
            self._kill = (held.execution_id, reason)
            return True
        self._kill = (job.execution_id, reason)
        self.kill_horse()
        return True

    def kill_reason_for(self, job: Job) -> KillReason | None:
        """Why ``job`` (the running job) must be killed now, or None: a kill asked for this very
        execution, or a cold shutdown."""
        kill = self._kill
        if kill is not None and kill[0] == job.execution_id:
            return kill[1]
        return KillReason.COLD_SHUTDOWN if self.cold_shutdown else None


def __getattr__(name: str) -> Any:
    """``jq.worker.base.Worker`` and ``SimpleWorker``, where earlier versions of jq defined them
    (they live in :mod:`jq.worker.worker_classes` now)."""
    if name in ("Worker", "SimpleWorker"):
        # lazy: breaks the cycle jq.worker.base <-> jq.worker.worker_classes (whose classes
        # subclass BaseWorker); only code reading the old path gets here
        from jq.worker import worker_classes

        return getattr(worker_classes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
