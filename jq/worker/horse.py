"""Work horses: the processes a :class:`jq.Worker` runs jobs in.

Two strategies share one horse machinery:

* :class:`ForkPerJobExecution` (here; the default, as RQ's) forks a fresh horse for every job:
  nothing of an earlier job survives, at the cost of a fork per job. It calls the worker's RQ
  hooks: ``fork_work_horse``, then ``main_work_horse`` in the horse, then ``monitor_work_horse``
  and ``wait_for_horse`` in the worker.
* :class:`~jq.worker.reused_horse.ReusedHorseExecution` (``Worker(reuse_horse=True)``, jq's
  faster mode, in :mod:`jq.worker.reused_horse`) keeps one horse and hands it job after job (no
  fork per job; the horse calls the worker's ``perform_job`` for each). A job runs in the same
  process as the jobs before it: it sees what they left in that process — module-level variables
  they changed, modules they imported, caches, memory they did not free, files or threads they
  left open. It never sees or changes the worker process itself, and a horse that crashes, times
  out or is killed is replaced before the next job. Use ``max_jobs_per_horse`` to replace horses
  regularly. A horse is also replaced before the next job when a module it imported has changed
  on disk since (see :mod:`jq.worker.freshness`), so that it runs the code on disk now, as a
  forking worker does.

The process itself (its group, its death with the worker) is :mod:`jq.worker.horse_process`.
Either way a horse runs in its own process group and dies with its worker (Linux); a
:class:`~jq.worker.warden.HorseWarden` then kills the processes its job started. A horse that
dies without reporting (a signal, a crash, ``os._exit``), or runs past the job's timeout plus
``grace`` seconds because it ignored its death penalty, has its whole process group killed, and
the job is recorded as failed (or retried), saying how the horse ended. A job that timed out also
takes its process group with it, grandchildren included.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from jq.base.timeouts import JobTimeoutException
from jq.core.execution import JobOutcome
from jq.core.job_state import JobStatus
from jq.defaults import DEFAULT_DEATH_PENALTY_GRACE, effective_timeout
from jq.exceptions import NoSuchJobError, WorkHorseDiedError
from jq.worker.horse_process import HorseProcess, die_with_parent
from jq.worker.strategies import KillReason, describe_exit
from jq.worker.warden import HorseWarden

if TYPE_CHECKING:
    from jq.broker import Broker
    from jq.core.execution import JobRunner
    from jq.core.job import Job
    from jq.core.lifecycle import NextClaim
    from jq.queueing.queue import Queue
    from jq.worker.executions import Execution

__all__ = [
    "TIMED_OUT",
    "DeadHorseHost",
    "ForkPerJobExecution",
    "ForkedHorseHost",
    "HorseHost",
    "HorseProcess",
    "HorseWatcher",
    "ReusedHorseExecution",  # noqa: F822 - provided by __getattr__ (see the end of the module)
    "ReusedHorseHost",
    "ServingHorseHost",
    "WorkHorseExecution",
    "die_with_parent",
    "horse_ended",
    "job_deadline",
    "read_report",
]

logger = logging.getLogger("jq.worker")

# A horse's reply to a job is two bytes: the JobOutcome, then flags (a reused horse may follow
# them with more, see jq.worker.reused_horse).
#: A flag of the reply: the job ended by its timeout, so the horse's process group is killed.
TIMED_OUT = 1


# What the strategies use of their worker, one Protocol per role. The worker's overridable RQ
# hooks among them (fork_work_horse, monitor_work_horse, wait_for_horse, handle_work_horse_killed,
# main_work_horse through run_in_horse, perform_job through perform_claimed_job) are called on the
# worker, so a subclass's overrides are honoured.


class DeadHorseHost(Protocol):
    """What recording the job of a horse that ended without reporting uses of the worker: its
    ``handle_work_horse_killed`` hook, and its runner, which records the failure."""

    @property
    def runner(self) -> JobRunner: ...

    def handle_work_horse_killed(
        self, job: Job, retpid: int | None, ret_val: int | None, rusage: Any
    ) -> None: ...


class HorseHost(Protocol):
    """What :meth:`ForkPerJobExecution.execute` uses of its worker: RQ's hooks that start a horse
    for the job (``fork_work_horse``) and wait for it (``monitor_work_horse``), which only
    :class:`jq.Worker` and its subclasses have."""

    def queue_for(self, job: Job) -> Queue: ...

    def prepare_execution(self, job: Job) -> Execution: ...

    def fork_work_horse(self, job: Job, queue: Queue) -> None: ...

    def monitor_work_horse(self, job: Job, queue: Queue, execution: Execution) -> JobOutcome | None: ...


class ForkedHorseHost(Protocol):
    """What :meth:`ForkPerJobExecution.start_horse` uses of its worker: the fork guard it forks
    under, and in the horse the worker's ``on_horse_start`` and ``run_in_horse`` (which calls
    ``main_work_horse``) and whether its runner's job timed out."""

    @property
    def fork_guard(self) -> AbstractContextManager[Any]: ...

    @property
    def runner(self) -> JobRunner: ...

    def on_horse_start(self, job: Job) -> None: ...

    def run_in_horse(self, job: Job, queue: Queue) -> JobOutcome | None: ...


class HorseWatcher(DeadHorseHost, Protocol):
    """What :meth:`ForkPerJobExecution.monitor` uses of its worker: the kill waiting for the job,
    ``wait_for_horse`` (which reaps the horse), and what recording a dead horse's job uses."""

    def kill_reason_for(self, job: Job) -> KillReason | None: ...

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]: ...


class ServingHorseHost(Protocol):
    """What a reused horse uses of its worker to serve job after job (:func:`_serve_jobs`): how
    to read a job (``job_class``, ``broker``, ``serializer``), ``serve_as_horse``,
    ``on_horse_start`` and ``perform_claimed_job`` (which calls ``perform_job``), and whether its
    runner's job timed out."""

    job_class: type[Job]
    broker: Broker
    serializer: Any

    @property
    def runner(self) -> JobRunner: ...

    def serve_as_horse(self) -> None: ...

    def on_horse_start(self, job: Job) -> None: ...

    def perform_claimed_job(self, job: Job, next_claim: NextClaim | None = None) -> JobOutcome: ...


class ReusedHorseHost(ServingHorseHost, DeadHorseHost, Protocol):
    """What :class:`ReusedHorseExecution` uses of its worker: what its horse serves jobs with,
    what recording a dead horse's job uses, and in the worker its ``name`` (freshness checks and
    log lines), ``fork_guard`` and the kill waiting for the job."""

    name: str

    @property
    def fork_guard(self) -> AbstractContextManager[Any]: ...

    def kill_reason_for(self, job: Job) -> KillReason | None: ...


def _outcome_in_record(job: Job) -> JobOutcome | None:
    """How a job ended by its record, when a horse that exited cleanly did not report it (a
    ``main_work_horse`` override that ended the horse itself); None while it is still started."""
    try:
        status = job.get_status(refresh=True)
    except NoSuchJobError:
        # Recorded, then deleted at once (result_ttl=0), or deleted by someone else.
        return JobOutcome.STALE
    if status is JobStatus.FINISHED:
        return JobOutcome.SUCCEEDED
    if status in (JobStatus.FAILED, JobStatus.STOPPED):
        return JobOutcome.FAILED
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED):
        return JobOutcome.RETRIED
    return None


def horse_ended(
    worker: DeadHorseHost,
    job: Job,
    ending: tuple[int | None, int | None, Any],
    overran: bool,
    reason: KillReason | None,
    grace: float,
) -> JobOutcome:
    """The outcome of a job whose horse ended without reporting: ``ending`` is the worker's
    ``wait_for_horse()`` (pid, status, rusage). A horse that died is handed to the worker's
    ``handle_work_horse_killed`` and the job's failure is recorded, saying how the horse ended."""
    retpid, status, rusage = ending
    status = 0 if status is None else status
    if not overran and reason is None and os.waitstatus_to_exitcode(status) == 0:
        outcome = _outcome_in_record(job)
        if outcome is not None:
            return outcome
    if reason is not KillReason.STOP_JOB:
        worker.handle_work_horse_killed(job, retpid, status, rusage)
    return _record_death(worker.runner, job, status, overran, reason, grace)


def _record_death(
    runner: JobRunner, job: Job, status: int, overran: bool, reason: KillReason | None, grace: float
) -> JobOutcome:
    """Record the failure of a job whose horse ended without reporting, saying how it ended."""
    if reason is not None:
        error: BaseException = reason.error()
    elif overran:
        error = JobTimeoutException(
            f"the job ran past its timeout ({job.timeout} s) and ignored its death penalty; "
            f"its work horse was killed {grace:g} s later"
        )
    else:
        error = WorkHorseDiedError(
            f"the work horse running the job {describe_exit(status)} before recording an outcome"
        )
    logger.warning("job %s: %s", job.id, error)
    stopped = reason is KillReason.STOP_JOB
    return runner.handle_failure(job, (type(error), error, None), stopped=stopped)


def job_deadline(job: Job, grace: float) -> float | None:
    timeout = effective_timeout(job.timeout)
    return None if timeout is None else time.monotonic() + timeout + grace


class ForkPerJobExecution:
    """A fresh work horse for every job (RQ's behaviour): nothing of an earlier job survives.

    :meth:`execute` calls the worker's ``fork_work_horse(job, queue)`` (whose default is
    :meth:`start_horse`), then its ``monitor_work_horse(job, queue, execution)`` (default:
    :meth:`monitor`, which reaps the horse with the worker's ``wait_for_horse()``).
    """

    #: Runs jobs in other processes: needs a store shared across processes.
    uses_processes = True

    def __init__(self, grace: float = DEFAULT_DEATH_PENALTY_GRACE) -> None:
        self.grace = grace
        self._horse: HorseProcess | None = None
        self._read_end = -1
        self._warden = HorseWarden()

    @property
    def horse_pid(self) -> int | None:
        """The pid of the running horse, or None."""
        return self._horse.pid if self._horse is not None else None

    def execute(self, worker: HorseHost, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Fork a horse for the job (``fork_work_horse``) and wait for it (``monitor_work_horse``)."""
        queue = worker.queue_for(job)
        worker.fork_work_horse(job, queue)
        if self._horse is None:
            raise RuntimeError(
                f"{type(worker).__name__}.fork_work_horse() started no work horse: an override must "
                "call super().fork_work_horse(job, queue)"
            )
        outcome = worker.monitor_work_horse(job, queue, worker.prepare_execution(job))
        return outcome if isinstance(outcome, JobOutcome) else JobOutcome.STALE

    def start_horse(self, worker: ForkedHorseHost, job: Job, queue: Queue) -> None:
        """Fork the horse, which runs the worker's ``main_work_horse(job, queue)`` and reports the
        outcome on a pipe."""
        read_end, write_end = os.pipe()

        def body() -> None:  # pragma: no cover - runs in the horse
            os.close(read_end)
            worker.on_horse_start(job)
            outcome = worker.run_in_horse(job, queue)
            if outcome is not None:
                os.write(write_end, bytes([outcome, int(worker.runner.timed_out)]))

        self._horse = self._spawn(worker.fork_guard, body)
        self._read_end = read_end
        os.close(write_end)

    def _spawn(self, fork_guard: AbstractContextManager[Any], body: Callable[[], None]) -> HorseProcess:
        return HorseProcess(fork_guard, body, self._warden)

    def monitor(self, worker: HorseWatcher, job: Job) -> JobOutcome:
        """Wait for the horse's report (killing it past the job's timeout plus the grace), reap
        it (the worker's ``wait_for_horse()``), and record the job's failure if the horse died
        without reporting."""
        horse, read_end = self._horse, self._read_end
        assert horse is not None
        try:
            if worker.kill_reason_for(job) is not None:
                # A kill that came while the horse was being forked.
                horse.kill_group()
            state = horse.wait_readable(read_end, job_deadline(job, self.grace))
            report = read_report(read_end) if state != "overran" else None
            if report is None or report[1] & TIMED_OUT:
                horse.kill_group()
            ending = worker.wait_for_horse()
            if not horse.reaped:
                # An overriding wait_for_horse() that did not reap it.
                ending = (horse.pid, *horse.reap_with_usage())
        finally:
            os.close(read_end)
            self._horse, self._read_end = None, -1
        if report is not None:
            return report[0]
        return horse_ended(worker, job, ending, state == "overran", worker.kill_reason_for(job), self.grace)

    def reap_horse(self) -> tuple[int | None, int | None, Any]:
        """Wait for the horse to exit: (pid, status, rusage); Nones when there is none."""
        horse = self._horse
        if horse is None or horse.reaped:
            return None, None, None
        status, rusage = horse.reap_with_usage()
        return horse.pid, status, rusage

    def signal_horse(self, signum: int) -> None:
        """Send ``signum`` to the horse's process group (nothing when no horse runs)."""
        if self._horse is not None and not self._horse.reaped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._horse.pid, signum)

    def kill(self, reason: KillReason) -> None:
        """Kill the running horse and everything it started (the worker records ``reason``, see
        :meth:`jq.worker.base.BaseWorker.kill_job`)."""
        if self._horse is not None:
            self._horse.kill_group()

    def close(self) -> None:
        """Stop the warden (horses end with their job)."""
        self._warden.close()


#: The name RQ users know this strategy by.
WorkHorseExecution = ForkPerJobExecution


def read_report(read_end: int) -> tuple[JobOutcome, int] | None:
    """The (outcome, flags) a horse reported, or None when it reported nothing."""
    os.set_blocking(read_end, False)
    try:
        data = os.read(read_end, 2)
    except BlockingIOError:
        # A grandchild still holds the write end and nothing was written.
        return None
    if len(data) < 2:
        return None
    return JobOutcome(data[0]), data[1]


def __getattr__(name: str) -> Any:
    """``ReusedHorseExecution``, exported here before this module was split (it lives in
    :mod:`jq.worker.reused_horse` now, which imports this module: looked up on first use)."""
    if name == "ReusedHorseExecution":
        # lazy: breaks the cycle jq.worker.horse <-> jq.worker.reused_horse (which imports this)
        from jq.worker import reused_horse

        return reused_horse.ReusedHorseExecution
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
