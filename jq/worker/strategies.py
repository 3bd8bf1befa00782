"""How a worker runs a job: in its own process (SimpleWorker) or in a forked work horse (Worker)."""

from __future__ import annotations

import enum
import logging
import os
import signal
from typing import TYPE_CHECKING, Protocol, TypeVar

from jq.core.execution import JobOutcome
from jq.exceptions import JobStopped, ShutDownImminentException, WorkHorseDiedError

if TYPE_CHECKING:
    from jq.core.execution import JobRunner
    from jq.core.job import Job
    from jq.core.lifecycle import NextClaim

__all__ = ["ExecutionStrategy", "InProcessExecution", "InProcessHost", "KillReason", "describe_exit"]

logger = logging.getLogger("jq.worker")


class KillReason(enum.Enum):
    """Why a running job is stopped from outside, and so how it is recorded."""

    #: A second SIGINT/SIGTERM: the worker stops now. The job ends failed (or is retried).
    COLD_SHUTDOWN = "cold shutdown"
    #: A kill-horse command. The job ends failed (or is retried).
    KILL_HORSE = "kill-horse command"
    #: A stop-job command. The job ends ``stopped`` and is not retried.
    STOP_JOB = "stop-job command"

    def error(self) -> BaseException:
        """The exception the job ends with."""
        if self is KillReason.STOP_JOB:
            return JobStopped("the job was stopped by a stop-job command")
        if self is KillReason.COLD_SHUTDOWN:
            return ShutDownImminentException("the worker was told to stop at once (cold shutdown)")
        return WorkHorseDiedError("the work horse was killed by a kill-horse command")


#: The worker a strategy runs jobs for, as far as the strategy uses it: each strategy names what
#: it uses with a Protocol of its own (:class:`InProcessHost`, :class:`jq.worker.horse.HorseHost`...).
HostT_contra = TypeVar("HostT_contra", contravariant=True)


class ExecutionStrategy(Protocol[HostT_contra]):
    """Runs one claimed job for a worker and reports how it ended.

    ``HostT_contra`` is what the strategy uses of the worker that hands it jobs: a worker's
    :meth:`~jq.worker.base.BaseWorker.make_strategy` returns an ``ExecutionStrategy[Self]``, so
    a worker class can only pick a strategy whose needs it meets.
    """

    #: True when jobs run in other processes (the store must then be shared across processes).
    uses_processes: bool

    def execute(self, worker: HostT_contra, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Run the job to its recorded outcome. With ``next_claim``, the strategy may claim the
        worker's next job in the same round trip that records this one's outcome (it may also
        leave ``next_claim.claimed`` empty; the worker then claims as usual).
        """
        ...

    def kill(self, reason: KillReason) -> None:
        """Stop the running job now; a no-op when none runs. The worker remembers ``reason`` for
        the job (see :meth:`jq.worker.base.BaseWorker.kill_job`), so :meth:`execute` carries out
        a kill that came before the job reached the place where it runs, once it has."""
        ...

    def close(self) -> None:
        """Release what the strategy holds (a work horse) when the worker stops."""
        ...


def describe_exit(status: int) -> str:
    """'killed by signal 9 (SIGKILL)' or 'exited with code 3' from a ``waitpid`` status."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code} ({name})"
    return f"exited with code {code}"


class InProcessHost(Protocol):
    """What :class:`InProcessExecution` uses of its worker: the hook that runs a claimed job here
    (``perform_claimed_job``, which calls the worker's ``perform_job``), the kill waiting for the
    job, and the runner whose interrupt window a kill is raised in."""

    @property
    def runner(self) -> JobRunner: ...

    def kill_reason_for(self, job: Job) -> KillReason | None: ...

    def perform_claimed_job(self, job: Job, next_claim: NextClaim | None = None) -> JobOutcome: ...


class InProcessExecution:
    """Runs the job's function in the worker's own process: fastest, no isolation."""

    #: Runs jobs in the worker's own process: any store will do.
    uses_processes = False

    def __init__(self) -> None:
        self._worker: InProcessHost | None = None

    def execute(self, worker: InProcessHost, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Run the job here (the worker's ``perform_job``); claim the next one in the same round
        trip."""
        self._worker = worker
        reason = worker.kill_reason_for(job)
        if reason is not None:
            # A kill that came before this call (a cold shutdown just after the claim): it is
            # held back and raised where the job's own code would start.
            worker.runner.interrupts.interrupt(reason.error())
        try:
            return worker.perform_claimed_job(job, next_claim)
        finally:
            self._worker = None

    def kill(self, reason: KillReason) -> None:
        """Raise the reason's exception inside the running job's code (see
        :class:`jq.base.interrupts.InterruptWindow`); nothing when no job runs.
        """
        worker = self._worker
        if worker is not None:
            worker.runner.interrupts.interrupt(reason.error())

    def close(self) -> None:
        """Nothing to release."""
