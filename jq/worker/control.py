"""A worker's life as RQ 3.0 names its steps: birth and death, heartbeats, state, signals and
commands, maintenance and the order of its queues.

jq's worker calls these methods at the moments RQ's does (see each docstring), so a subclass
that overrides one sees it called, and ``super()`` does what jq does there.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from jq.base.utils import format_timestamp, now
from jq.core.outage import retry_transient, wait_for_room
from jq.exceptions import StopRequested
from jq.worker.command import handle_command, parse_payload
from jq.worker.commands import CommandListener
from jq.worker.info import client_address
from jq.worker.maintenance import Maintenance
from jq.worker.proctitle import set_process_title
from jq.worker.registration import Registration, WorkerStatus
from jq.worker.strategies import KillReason

if TYPE_CHECKING:
    from jq.broker import Broker, CommandSubscription
    from jq.core.job import Job
    from jq.queueing.queue import Queue
    from jq.scheduling.scheduler import Scheduler
    from jq.worker.heartbeat import WorkerHeartbeat
    from jq.worker.maintenance import Maintenance
    from jq.worker.strategies import KillReason

__all__ = ["DequeueStrategy", "WorkerChores", "WorkerControl"]

logger = logging.getLogger("jq.worker")


class DequeueStrategy(str, enum.Enum):
    """The order in which a worker takes jobs from its queues (``work(dequeue_strategy=...)``).

    ``default``: always in the order given (the first queue with a job wins); ``round_robin``:
    after taking a job from a queue, that queue goes last; ``random``: the order is shuffled after
    every job.
    """

    DEFAULT = "default"
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"

    @classmethod
    def parse(cls, value: DequeueStrategy | str | None) -> DequeueStrategy:
        """The strategy named ``value``; ValueError for a name jq does not know."""
        if value is None:
            return cls.DEFAULT
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in cls)
            raise ValueError(f"dequeue strategy {value!r} is not allowed: use one of {allowed}") from None


class WorkerControl:
    """Birth, death, heartbeats, state, signals and commands (mixed into
    :class:`jq.worker.BaseWorker`)."""

    name: str
    broker: Broker
    registration: Registration
    stop_requested: bool
    cold_shutdown: bool
    birth_date: datetime.datetime | None
    ip_address: str | None
    shutdown_requested_at: datetime.datetime | None
    _death_date: datetime.datetime | None
    _commands: CommandListener
    _heartbeat: WorkerHeartbeat | None = None
    # Fields to write with the next heartbeat (a shutdown asked from a signal handler, where
    # talking to the store could deadlock with the call the signal interrupted).
    _pending_fields: dict[str, bytes] | None = None

    if TYPE_CHECKING:

        def _check_broker(self) -> None: ...
        def _check_store(self) -> None: ...
        def _setup_logging(self, level: str | int | None, date_format: str, log_format: str) -> None: ...
        def kill_job(self, reason: KillReason, job_id: str | None = None) -> bool: ...
        def request_stop_execution(self, execution_id: str) -> None: ...
        def _nudge(self) -> None: ...
        def _running_fields(self) -> dict[str, bytes]: ...

    def bootstrap(
        self,
        logging_level: str | int | None = "INFO",
        date_format: str = "%H:%M:%S",
        log_format: str = "%(asctime)s %(message)s",
    ) -> None:
        """What ``work()`` does before its first job: set up logging, check the store, listen to
        commands (:meth:`subscribe`), then register (:meth:`register_birth`). Override to do more
        at that moment (call ``super()``)."""
        self._setup_logging(logging_level, date_format, log_format)
        self._check_broker()
        # A store that is full (Redis at maxmemory) is an outage a worker waits out, starting
        # once there is room again, rather than a reason to exit.
        starting = f"worker {self.name}: cannot start"
        wait_for_room(self.broker, self._check_store, what=starting)
        # Listen before becoming visible: a command sent to a listed worker must reach it.
        self.subscribe()
        try:
            wait_for_room(self.broker, self.register_birth, what=starting)
        except BaseException:
            self.unsubscribe()
            raise

    def register_birth(self) -> None:
        """Create the worker's record (raises :class:`jq.exceptions.DuplicateWorkerError` when a
        live worker has its name)."""
        if self.ip_address in (None, "unknown"):
            self.ip_address = client_address(self.broker.connection)
        self.registration.register_birth()

    def register_death(self) -> None:
        """Delete the worker's record (it would expire after ``worker_ttl`` anyway when the store
        stays unreachable)."""
        self._death_date = now()
        try:
            retry_transient(self.broker, self.registration.register_death, patience=10, what="unregister")
        except self.broker.transient_errors:
            logger.warning("worker %s: could not unregister (the store is unreachable)", self.name)

    def teardown(self) -> None:
        """What ``work()`` does last: stop listening to commands, then register the death."""
        self.unsubscribe()
        self.register_death()

    def heartbeat(self, timeout: float | None = None, pipeline: Any = None) -> None:
        """Renew the worker's record for another ``worker_ttl`` (jq's heartbeat thread calls this
        every ``job_monitoring_interval`` seconds, with the running job's lease)."""
        fields, self._pending_fields = self._pending_fields, None
        running = self._running_fields()
        if running:
            # What a concurrent worker runs, as it is now (claims and outcomes write it too).
            fields = {**running, **(fields or {})}
        self.registration.heartbeat(fields=fields)

    def set_state(self, state: WorkerStatus | str, pipeline: Any = None) -> None:
        """Record what the worker does now. jq calls it when the worker starts waiting for jobs,
        and when it is suspended or resumed; the ``busy``/``idle`` changes of each job are made
        in the same atomic steps that take the job and record its outcome, without this call."""
        self.registration.heartbeat(state=WorkerStatus(state))

    def procline(self, message: str) -> None:
        """Show ``message`` in the process title (``ps``), when setproctitle is installed."""
        set_process_title(f"worker {self.name}: {message}")

    # -- stopping ---------------------------------------------------------------------------------

    def request_stop(self, signum: int | None = None, frame: Any = None) -> None:
        """Warm shutdown: finish the current job, take no new one. The first SIGINT or SIGTERM and
        a shutdown command call this; it calls :meth:`handle_warm_shutdown_request`."""
        self.stop_requested = True
        self.shutdown_requested_at = now()
        self._pending_fields = {
            "shutdown_requested_date": format_timestamp(self.shutdown_requested_at).encode()
        }
        if self._heartbeat is not None:
            self._heartbeat.beat_now()
        self._nudge()
        self.handle_warm_shutdown_request()

    def handle_warm_shutdown_request(self) -> None:
        """Called when a warm shutdown is asked; the default logs it."""
        logger.info("worker %s: warm shut down requested", self.name)

    def request_force_stop(self, signum: int | None = None, frame: Any = None) -> None:
        """Cold shutdown: stop the current job now (it is recorded failed, or retried). A second
        SIGINT or SIGTERM calls this."""
        self.stop_requested = self.cold_shutdown = True
        self.kill_job(KillReason.COLD_SHUTDOWN)
        self._nudge()

    def set_shutdown_requested_date(self) -> None:
        """Write when the warm shutdown was asked in the worker's record (jq writes it with the
        next heartbeat, which a shutdown request hastens)."""
        moment = self.shutdown_requested_at or now()
        self.registration.heartbeat(fields={"shutdown_requested_date": format_timestamp(moment).encode()})

    # -- commands ---------------------------------------------------------------------------------

    def subscribe(self) -> None:
        """Start listening to the worker's commands (shutdown, kill-horse, stop-job...)."""
        self._commands.start()

    def unsubscribe(self) -> None:
        """Stop listening to commands."""
        self._commands.stop()

    @property
    def pubsub(self) -> CommandSubscription | None:
        """The broker's command subscription while the worker listens, else None."""
        return self._commands.subscription

    #: RQ's listener thread; jq's broker runs its own (see :attr:`pubsub`).
    pubsub_thread: Any = None

    def handle_payload(self, message: dict[str, Any]) -> None:
        """Act on one command message (``{"data": b'{"command": ...}'}``): parse it, then
        :func:`jq.command.handle_command`. Runs on the command listener's thread."""
        handle_command(self, parse_payload(message))

    # -- counters, kept by the outcome steps ------------------------------------------------------

    def increment_failed_job_count(self, pipeline: Any = None) -> None:
        """Add one to the worker's failed jobs (jq's outcome step does it with the failure)."""
        self.registration.heartbeat(increments={"failed_job_count": 1})

    def increment_successful_job_count(self, pipeline: Any = None) -> None:
        """Add one to the worker's finished jobs (jq's outcome step does it with the result)."""
        self.registration.heartbeat(increments={"successful_job_count": 1})

    def increment_total_working_time(
        self, job_execution_time: datetime.timedelta | float, pipeline: Any = None
    ) -> None:
        """Add to the worker's working time (seconds, or a timedelta)."""
        seconds = (
            job_execution_time.total_seconds()
            if isinstance(job_execution_time, datetime.timedelta)
            else float(job_execution_time)
        )
        self.registration.heartbeat(increments={"total_working_time": seconds})


class WorkerChores:
    """Maintenance, suspension, dequeueing and the order of the queues (mixed into
    :class:`jq.worker.BaseWorker`)."""

    name: str
    broker: Broker
    queues: list[Queue]
    maintenance_interval: float
    stop_requested: bool
    last_cleaned_at: datetime.datetime | None
    _maintenance: Maintenance | None
    _ordered_queues: list[Queue]
    _dequeue_strategy: DequeueStrategy

    if TYPE_CHECKING:

        def set_state(self, state: WorkerStatus | str, pipeline: Any = None) -> None: ...
        def heartbeat(self, timeout: float | None = None, pipeline: Any = None) -> None: ...
        def procline(self, message: str) -> None: ...
        def claim_next(self, wait: float | None) -> Any: ...
        def job_from_claim(self, claimed: Any) -> Job | None: ...
        def queue_for(self, job: Job) -> Queue: ...

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """Whether ``maintenance_interval`` seconds have passed since the last cleaning."""
        last = self.last_cleaned_at
        return last is None or (now() - last).total_seconds() > self.maintenance_interval

    def run_maintenance_tasks(self) -> None:
        """The periodic chores (every ``maintenance_interval`` seconds, between jobs):
        :meth:`clean_registries`, :meth:`clean_group_registries`."""
        self.clean_registries()
        self.clean_group_registries()

    def clean_registries(self) -> None:
        """End abandoned jobs (their lease ran out), drop expired registry entries and settle jobs
        that wait for jobs that no longer exist, on each of the worker's queues."""
        maintenance = self._maintenance
        if maintenance is None:
            maintenance = Maintenance(
                self.name, self.broker, self.queues, self.maintenance_interval, reporter=self
            )
        maintenance.clean_registries()
        self.last_cleaned_at = now()

    def clean_group_registries(self) -> None:
        """RQ cleans its group registries here. jq keeps no registry per group: nothing to do."""

    @property
    def scheduler(self) -> Scheduler | None:
        """The scheduler the worker runs (``work(with_scheduler=True)``), or None."""
        return self._maintenance.scheduler if self._maintenance is not None else None

    def stop_scheduler(self) -> None:
        """Stop the worker's scheduler (and cron), giving up their locks."""
        if self._maintenance is not None:
            with contextlib.suppress(*self.broker.transient_errors):
                self._maintenance.stop()

    def check_for_suspension(self, burst: bool) -> None:
        """Wait while workers are suspended (the state says ``suspended`` meanwhile); a burst
        worker raises :class:`jq.exceptions.StopRequested` instead."""
        suspended = False
        while not self.stop_requested and self.broker.is_suspended():
            if burst:
                raise StopRequested(f"worker {self.name}: workers are suspended; a burst worker stops")
            if not suspended:
                logger.info("worker %s: suspended", self.name)
                self.set_state(WorkerStatus.SUSPENDED)
                suspended = True
            time.sleep(1)
        if suspended:
            self.set_state(WorkerStatus.IDLE)

    def dequeue_job_and_maintain_ttl(
        self, timeout: float | None, max_idle_time: float | None = None
    ) -> tuple[Job, Queue] | None:
        """Take the next job from the queues, in the worker's current order: ``(job, queue)``.

        Waits up to ``timeout`` seconds at a time (None: do not wait), renewing the worker's
        record between waits, until a job comes or ``max_idle_time`` seconds have passed (then
        None). jq's loop takes its jobs itself (often in the step that records the previous
        outcome); this is for code that drives a worker by hand.
        """
        self.set_state(WorkerStatus.IDLE)
        self.procline(f"idle on {','.join(queue.name for queue in self._ordered_queues)}")
        idle_since = time.monotonic()
        while True:
            self.heartbeat()
            wait = timeout
            if max_idle_time is not None:
                left = max(max_idle_time - (time.monotonic() - idle_since), 0.0)
                wait = left if wait is None else min(wait, left)
            claimed = self.claim_next(wait)
            if claimed is not None:
                job = self.job_from_claim(claimed)
                if job is not None:
                    return job, self.queue_for(job)
                continue
            if timeout is None or (
                max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time
            ):
                return None

    def reorder_queues(self, reference_queue: Queue) -> None:
        """Put the queues in the order to take the next job in, after a job was taken from
        ``reference_queue``, by the strategy ``work(dequeue_strategy=...)`` chose. Override (as
        :class:`jq.worker.RoundRobinWorker` does) for an order of your own."""
        strategy = self._dequeue_strategy
        if strategy is DequeueStrategy.ROUND_ROBIN:
            names = [queue.name for queue in self._ordered_queues]
            if reference_queue.name in names:
                position = names.index(reference_queue.name)
                self._ordered_queues = (
                    self._ordered_queues[position + 1 :] + self._ordered_queues[: position + 1]
                )
        elif strategy is DequeueStrategy.RANDOM:
            random.shuffle(self._ordered_queues)
