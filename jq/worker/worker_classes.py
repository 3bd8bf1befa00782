"""The worker classes: how each runs its jobs, and in which order it takes them.

* :class:`Worker`: a fresh *work horse* process forked for every job, as RQ's (a crash, a
  timeout or a leak in a job never reaches the worker, and nothing of one job survives into the
  next). ``Worker(reuse_horse=True)`` keeps one horse for job after job: jq's faster mode.
* :class:`SimpleWorker`: runs each job in the worker's own process (no fork; any store).
* :class:`SpawnWorker`: starts a fresh Python process per job with ``os.posix_spawn`` (no fork:
  for platforms where forking a process with threads is unsafe, such as macOS).
* :class:`HerokuWorker`: a Worker for platforms that send SIGTERM to every process and SIGKILL
  soon after: the job gets :class:`~jq.exceptions.ShutDownImminentException` a few seconds
  after the worker's SIGTERM, so it can stop cleanly.
* :class:`RoundRobinWorker`, :class:`RandomWorker`: Workers that take jobs from their queues in
  turn, or in a random order, rather than always from the first queue with a job.
"""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING, Any, ClassVar

from jq.core.execution import JobOutcome
from jq.exceptions import ConfigurationError, ShutDownImminentException
from jq.worker.base import SHUTDOWN_SIGNAL, BaseWorker, signal_name
from jq.worker.control import DequeueStrategy
from jq.worker.horse import ForkPerJobExecution
from jq.worker.registration import WorkerStatus
from jq.worker.reused_horse import ReusedHorseExecution
from jq.worker.spawn import SpawnExecution, check_spawnable
from jq.worker.strategies import ExecutionStrategy

if TYPE_CHECKING:
    from types import FrameType

    from typing_extensions import Self

    from jq.core.job import Job
    from jq.queueing.queue import Queue
    from jq.worker.executions import Execution

__all__ = [
    "BaseWorker",
    "HerokuWorker",
    "RandomWorker",
    "RoundRobinWorker",
    "SimpleWorker",
    "SpawnWorker",
    "Worker",
    "WorkerStatus",
]

logger = logging.getLogger("jq.worker")


class Worker(BaseWorker):
    """Runs each job in a work horse process: a crash, a timeout or a leak in a job never reaches
    the worker. Needs a store shared across processes (Redis).

    By default a fresh horse is forked for every job, as RQ does: nothing of an earlier job
    survives. ``reuse_horse=True`` keeps one horse and hands it job after job, which is much
    faster (see :mod:`jq.worker.horse` for what a job can observe of earlier ones);
    ``max_jobs_per_horse`` then replaces the horse after that many jobs. ``fork_per_job=`` is the
    older spelling: ``fork_per_job=False`` means ``reuse_horse=True``.
    """

    def __init__(
        self,
        *args: Any,
        reuse_horse: bool | None = None,
        fork_per_job: bool | None = None,
        max_jobs_per_horse: int | None = None,
        **kwargs: Any,
    ) -> None:
        if max_jobs_per_horse is not None and max_jobs_per_horse < 1:
            raise ConfigurationError(f"max_jobs_per_horse must be at least 1, not {max_jobs_per_horse}")
        if reuse_horse is not None and fork_per_job is not None and bool(reuse_horse) == bool(fork_per_job):
            raise ConfigurationError(
                f"reuse_horse={reuse_horse} contradicts fork_per_job={fork_per_job}: give one of them"
            )
        if reuse_horse is None:
            # fork_per_job=False asked for the reused horse by name; max_jobs_per_horse only
            # means something for a reused horse, so it asks for one too.
            reuse_horse = fork_per_job is False or (fork_per_job is None and max_jobs_per_horse is not None)
        elif max_jobs_per_horse is not None and not reuse_horse:
            raise ConfigurationError("max_jobs_per_horse applies to a reused horse: add reuse_horse=True")
        self.reuse_horse = bool(reuse_horse)
        self.max_jobs_per_horse = max_jobs_per_horse
        super().__init__(*args, **kwargs)

    @property
    def fork_per_job(self) -> bool:
        """Whether a fresh horse is forked for every job (the opposite of ``reuse_horse``)."""
        return not self.reuse_horse

    def make_strategy(self) -> ExecutionStrategy[Self]:
        """A work horse per job, or one reused horse."""
        if self.reuse_horse:
            return ReusedHorseExecution(self.death_penalty_grace, self.max_jobs_per_horse)
        return ForkPerJobExecution(self.death_penalty_grace)

    def _fork_strategy(self, what: str) -> ForkPerJobExecution:
        strategy = self.strategy
        if not isinstance(strategy, ForkPerJobExecution):
            raise RuntimeError(f"{what}() applies to a horse per job; this worker reuses its horse")
        return strategy

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """Start the work horse for ``job`` (a fork; SpawnWorker: a new process), in which
        :meth:`main_work_horse` runs it. Not called with ``reuse_horse=True``."""
        self._fork_strategy("fork_work_horse").start_horse(self, job, queue)

    def monitor_work_horse(self, job: Job, queue: Queue, execution: Execution) -> JobOutcome:
        """Wait for the horse of ``job`` to report, kill it if it runs past the job's timeout plus
        ``death_penalty_grace``, reap it (:meth:`wait_for_horse`), and record the job's failure
        when it died without reporting (:meth:`handle_work_horse_killed` first)."""
        return self._fork_strategy("monitor_work_horse").monitor(self, job)

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        """Wait for the work horse to exit: ``(pid, waitpid status, rusage)``, or Nones when none
        runs."""
        strategy = self.strategy
        if isinstance(strategy, ForkPerJobExecution):
            return strategy.reap_horse()
        return None, None, None

    def kill_horse(self, sig: signal.Signals = SHUTDOWN_SIGNAL) -> None:
        """Kill the running job's horse and its process group (the job is recorded failed, or as
        the kill's reason says); another ``sig`` than SIGKILL is sent to the group as it is."""
        if sig == SHUTDOWN_SIGNAL:
            super().kill_horse(sig)
            return
        signal_horse = getattr(self.strategy, "signal_horse", None)
        if signal_horse is not None:
            signal_horse(sig)


class SimpleWorker(BaseWorker):
    """Runs each job in the worker's own process: no fork, fastest, works with every store.

    A job that crashes the process takes the worker with it, and modules a job imports stay
    loaded for the next jobs.
    """


class SpawnWorker(Worker):
    """Starts a fresh Python process for every job with ``os.posix_spawn`` instead of forking,
    as RQ's: for POSIX platforms where ``fork()`` of a process with threads is unsafe (macOS).

    The new process imports jq, rebuilds this worker from its class and settings (job, queue and
    death-penalty classes, serializer, exception handlers, TTLs), connects to the store again and
    runs the job with :meth:`main_work_horse`. Everything it needs must be importable: a worker
    class, handler or job class defined in ``__main__`` is refused when the worker starts, and so
    is a connection a new process cannot open (give a URL, or a redis-py client). A process start
    per job is slower than a fork (the interpreter starts and imports the job's modules each time).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("reuse_horse") or kwargs.get("fork_per_job") is False:
            raise ConfigurationError("SpawnWorker starts a new process per job: it cannot reuse one")
        kwargs.pop("reuse_horse", None)
        kwargs.pop("fork_per_job", None)
        super().__init__(*args, **kwargs)

    def make_strategy(self) -> ExecutionStrategy[Self]:
        """A new process per job, started with ``os.posix_spawn``."""
        return SpawnExecution(self.death_penalty_grace)

    def bootstrap(
        self,
        logging_level: str | int | None = "INFO",
        date_format: str = "%H:%M:%S",
        log_format: str = "%(asctime)s %(message)s",
    ) -> None:
        """Refuse, before taking any job, a configuration a new process could not rebuild."""
        check_spawnable(self)
        super().bootstrap(logging_level, date_format, log_format)


class HerokuWorker(Worker):
    """A Worker for platforms that SIGTERM every process and SIGKILL them soon after (Heroku
    gives 30 s): its work horses ignore SIGTERM; on the worker's SIGTERM (a warm shutdown) the
    horse gets SIGRTMIN, and :attr:`imminent_shutdown_delay` seconds later the job gets
    :class:`~jq.exceptions.ShutDownImminentException` (its ``extra_info`` describes the frame it
    stopped in), so it can clean up and is recorded failed (or retried) rather than killed.
    Linux only (SIGRTMIN).
    """

    #: Seconds between the worker's SIGTERM and the exception in the job (0: at once).
    imminent_shutdown_delay = 6
    #: What ``extra_info`` holds of the interrupted frame.
    frame_properties: ClassVar[list[str]] = ["f_code", "f_lasti", "f_lineno", "f_locals", "f_trace"]

    def setup_work_horse_signals(self) -> None:
        """In the horse: ignore SIGINT and SIGTERM, and stop the job on SIGRTMIN."""
        signal.signal(signal.SIGRTMIN, self.request_stop_sigrtmin)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def handle_warm_shutdown_request(self) -> None:
        """Send SIGRTMIN to the running horse (when one runs)."""
        if self.horse_pid:
            logger.info("worker %s: warm shut down requested, sending the horse SIGRTMIN", self.name)
            self.kill_horse(sig=signal.SIGRTMIN)
        else:
            logger.warning("worker %s: warm shut down requested, no horse found", self.name)

    def request_stop_sigrtmin(self, signum: int, frame: FrameType | None) -> None:
        """In the horse, on SIGRTMIN: stop the job now, or after :attr:`imminent_shutdown_delay`."""
        if self.imminent_shutdown_delay == 0:
            logger.warning("imminent shutdown: raising ShutDownImminentException at once")
            self.request_force_stop_sigrtmin(signum, frame)
            return
        logger.warning(
            "imminent shutdown: raising ShutDownImminentException in %d seconds", self.imminent_shutdown_delay
        )
        signal.signal(signal.SIGRTMIN, self.request_force_stop_sigrtmin)
        signal.signal(signal.SIGALRM, self.request_force_stop_sigrtmin)
        signal.alarm(self.imminent_shutdown_delay)

    def request_force_stop_sigrtmin(self, signum: int, frame: FrameType | None) -> None:
        """Raise :class:`~jq.exceptions.ShutDownImminentException` in the job's code (held back
        while jq records an outcome, so a recording is never cut in half)."""
        info = {name: getattr(frame, name, None) for name in self.frame_properties}
        logger.warning("raising ShutDownImminentException to cancel the job")
        self.runner.interrupts.interrupt(
            ShutDownImminentException(f"shut down imminent (signal: {signal_name(signum)})", info)
        )


class RoundRobinWorker(Worker):
    """A Worker that takes jobs from its queues in turn: after a job from a queue, that queue goes
    to the back, so a busy first queue cannot starve the others."""

    def reorder_queues(self, reference_queue: Queue) -> None:
        """Put ``reference_queue`` (the job's) last."""
        self._dequeue_strategy = DequeueStrategy.ROUND_ROBIN
        super().reorder_queues(reference_queue)


class RandomWorker(Worker):
    """A Worker that shuffles the order of its queues after every job (load spread at random)."""

    def reorder_queues(self, reference_queue: Queue) -> None:
        """Shuffle the queues."""
        self._dequeue_strategy = DequeueStrategy.RANDOM
        super().reorder_queues(reference_queue)
