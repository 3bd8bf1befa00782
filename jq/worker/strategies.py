"""How a worker runs a job: in its own process (SimpleWorker) or in a forked work horse (Worker)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import enum
import logging
import os
import select
import signal
import sys
import time
import traceback
from typing import TYPE_CHECKING, Protocol

from jq.defaults import DEFAULT_DEATH_PENALTY_GRACE, effective_timeout
from jq.exceptions import JobStopped, ShutDownImminentException, WorkHorseDiedError
from jq.execution import JobOutcome
from jq.timeouts import JobTimeoutException

if TYPE_CHECKING:
    from jq.job import Job
    from jq.worker.base import BaseWorker

__all__ = ["ExecutionStrategy", "InProcessExecution", "KillReason", "WorkHorseExecution", "describe_exit"]

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


class ExecutionStrategy(Protocol):
    """Runs one claimed job for a worker and reports how it ended."""

    def execute(self, worker: BaseWorker, job: Job) -> JobOutcome:
        """Run the job to its recorded outcome (keeping its lease alive meanwhile)."""
        ...

    def kill(self, reason: KillReason) -> None:
        """Stop the running job now; a no-op when none runs."""
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


class InProcessExecution:
    """Runs the job's function in the worker's own process: fastest, no isolation."""

    def __init__(self) -> None:
        self._worker: BaseWorker | None = None

    def execute(self, worker: BaseWorker, job: Job) -> JobOutcome:
        """Run the job with the worker's runner while a heartbeat thread keeps its lease."""
        self._worker = worker
        try:
            with worker.job_heartbeat(job):
                return worker.runner.run(job)
        finally:
            self._worker = None

    def kill(self, reason: KillReason) -> None:
        """Raise the reason's exception inside the running job's code (see
        :class:`jq.interrupts.InterruptWindow`); nothing when no job runs.
        """
        worker = self._worker
        if worker is not None:
            worker.runner.interrupts.interrupt(reason.error())


def _die_with_parent() -> None:  # pragma: no cover - runs in the horse
    """Ask Linux to SIGKILL this process when the worker dies (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(libc_name, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class WorkHorseExecution:
    """Forks a work horse per job, in its own process group, and watches it.

    The horse runs the job and records the outcome itself, then reports it on a pipe. If the horse
    dies without reporting (a signal, a crash, ``os._exit``), or runs past the job's timeout plus
    ``grace`` seconds because it ignored its death penalty, the worker kills its whole process
    group and records the job as failed, saying how the horse ended. A job that timed out also
    takes its process group with it (grandchildren included). A horse dies with its worker.
    """

    def __init__(self, grace: float = DEFAULT_DEATH_PENALTY_GRACE) -> None:
        self.grace = grace
        self.horse_pid: int | None = None
        self._kill_reason: KillReason | None = None

    def execute(self, worker: BaseWorker, job: Job) -> JobOutcome:
        """Fork, run the job in the child, and wait for it in the parent."""
        read_end, write_end = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
            os.close(read_end)
            self._run_horse(worker, job, write_end, parent)
        os.close(write_end)
        # Set the group from both sides: a kill may come before the child gets to it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self.horse_pid, self._kill_reason = pid, None
        try:
            with worker.job_heartbeat(job):
                overran = self._wait(pid, job)
            report = None if overran else self._read_report(read_end)
            # The horse is a zombie here, not reaped: its group id cannot be reused yet, so
            # killing the group hits only what is left of this job's processes.
            if report is None or report[1]:
                self._kill_group(pid)
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(read_end)
            self.horse_pid = None
        if report is not None:
            return report[0]
        return self._record_death(worker, job, status, overran)

    def _record_death(self, worker: BaseWorker, job: Job, status: int, overran: bool) -> JobOutcome:
        reason = self._kill_reason
        if reason is not None:
            error = reason.error()
        elif overran:
            error = JobTimeoutException(
                f"the job ran past its timeout ({job.timeout} s) and ignored its death penalty; "
                f"its work horse was killed {self.grace:g} s later"
            )
        else:
            error = WorkHorseDiedError(
                f"the work horse running the job {describe_exit(status)} before recording an outcome"
            )
        logger.warning("job %s: %s", job.id, error)
        return worker.runner.handle_failure(
            job, (type(error), error, None), stopped=reason is KillReason.STOP_JOB
        )

    def _run_horse(
        self, worker: BaseWorker, job: Job, write_end: int, parent: int
    ) -> None:  # pragma: no cover
        code = 0
        try:
            os.setpgid(0, 0)
            _die_with_parent()
            if os.getppid() != parent:
                # The worker died before the line above took effect: nobody would watch us.
                os._exit(1)
            # Ctrl+C in a terminal goes to the worker, which decides; SIGTERM kills the horse.
            # The worker's signal wakeup pipe is the worker's, not the horse's.
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            worker.on_horse_start(job)
            outcome = worker.runner.run(job)
            os.write(write_end, bytes([outcome, int(worker.runner.timed_out)]))
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _wait(self, pid: int, job: Job) -> bool:
        """Wait until the horse exits (without reaping it); past the timeout plus grace, kill its
        group. Whether it overran.
        """
        timeout = effective_timeout(job.timeout)
        deadline = None if timeout is None else time.monotonic() + timeout + self.grace
        pidfd = self._pidfd(pid)
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._kill_group(pid)
                    return True
                if self._exited(pid, pidfd, remaining):
                    return False
        finally:
            if pidfd is not None:
                os.close(pidfd)

    @staticmethod
    def _pidfd(pid: int) -> int | None:
        try:
            return os.pidfd_open(pid)
        except (AttributeError, OSError):
            return None

    @staticmethod
    def _exited(pid: int, pidfd: int | None, timeout: float | None) -> bool:
        if pidfd is not None:
            readable, _, _ = select.select([pidfd], [], [], timeout)
            return bool(readable)
        # Without pidfd (not Linux): look every 50 ms at most, without reaping (WNOWAIT).
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(min(0.05, timeout) if timeout is not None else 0.05)
        return False

    @staticmethod
    def _read_report(read_end: int) -> tuple[JobOutcome, bool] | None:
        os.set_blocking(read_end, False)
        try:
            data = os.read(read_end, 2)
        except BlockingIOError:
            # A grandchild still holds the write end and nothing was written.
            return None
        if len(data) < 2:
            return None
        return JobOutcome(data[0]), bool(data[1])

    @staticmethod
    def _kill_group(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    def kill(self, reason: KillReason) -> None:
        """Kill the running horse and everything it started; the job is recorded per ``reason``."""
        if self.horse_pid is not None:
            self._kill_reason = reason
            self._kill_group(self.horse_pid)
