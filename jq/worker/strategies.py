"""How a worker runs a job: in its own process (SimpleWorker) or in a forked work horse (Worker)."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import time
import traceback
from typing import TYPE_CHECKING, Protocol

from jq.defaults import DEFAULT_DEATH_PENALTY_GRACE, effective_timeout
from jq.exceptions import ShutDownImminentException, WorkHorseDiedError
from jq.execution import JobOutcome
from jq.timeouts import JobTimeoutException

if TYPE_CHECKING:
    from jq.job import Job
    from jq.worker.base import BaseWorker

__all__ = ["ExecutionStrategy", "InProcessExecution", "WorkHorseExecution", "describe_exit"]

logger = logging.getLogger("jq.worker")


class ExecutionStrategy(Protocol):
    """Runs one claimed job for a worker and reports how it ended."""

    def execute(self, worker: BaseWorker, job: Job) -> JobOutcome:
        """Run the job to its recorded outcome (keeping its lease alive meanwhile)."""
        ...

    def kill(self) -> None:
        """Stop the running job now (a second Ctrl+C). Called from a signal handler."""
        ...


class InProcessExecution:
    """Runs the job's function in the worker's own process: fastest, no isolation."""

    def execute(self, worker: BaseWorker, job: Job) -> JobOutcome:
        """Run the job with the worker's runner while a heartbeat thread keeps its lease."""
        with worker.job_heartbeat(job):
            return worker.runner.run(job)

    def kill(self) -> None:
        """Interrupt the job's code with :class:`ShutDownImminentException`."""
        raise ShutDownImminentException("the worker was told to stop at once; the job was interrupted")


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


class WorkHorseExecution:
    """Forks a work horse per job, in its own process group, and watches it.

    The horse runs the job and records the outcome itself, then reports it on a pipe. If the horse
    dies without reporting (a signal, a crash, ``os._exit``), or runs past the job's timeout plus
    ``grace`` seconds because it ignored its death penalty, the worker kills its whole process
    group and records the job as failed, saying how the horse ended.
    """

    def __init__(self, grace: float = DEFAULT_DEATH_PENALTY_GRACE) -> None:
        self.grace = grace
        self.horse_pid: int | None = None

    def execute(self, worker: BaseWorker, job: Job) -> JobOutcome:
        """Fork, run the job in the child, and wait for it in the parent."""
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
            os.close(read_end)
            self._run_horse(worker, job, write_end)
        os.close(write_end)
        self.horse_pid = pid
        try:
            with worker.job_heartbeat(job):
                status, timed_out = self._wait(pid, job)
            report = self._read_report(read_end)
        finally:
            os.close(read_end)
            self.horse_pid = None
        if report is not None:
            return report
        if timed_out:
            error: BaseException = JobTimeoutException(
                f"the job ran past its timeout ({job.timeout} s) and ignored its death penalty; "
                f"its work horse was killed {self.grace:g} s later"
            )
        else:
            error = WorkHorseDiedError(
                f"the work horse running the job {describe_exit(status)} before recording an outcome"
            )
        logger.warning("job %s: %s", job.id, error)
        return worker.runner.handle_failure(job, (type(error), error, None))

    def _run_horse(self, worker: BaseWorker, job: Job, write_end: int) -> None:  # pragma: no cover
        code = 0
        try:
            os.setpgid(0, 0)
            # Ctrl+C in a terminal goes to the worker, which decides; SIGTERM kills the horse.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            worker.on_horse_start(job)
            outcome = worker.runner.run(job)
            os.write(write_end, bytes([outcome]))
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _wait(self, pid: int, job: Job) -> tuple[int, bool]:
        """Wait for the horse; kill its group past the timeout plus grace. (status, timed out)."""
        timeout = effective_timeout(job.timeout)
        deadline = None if timeout is None else time.monotonic() + timeout + self.grace
        pidfd = self._pidfd(pid)
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._kill_group(pid)
                    _, status = os.waitpid(pid, 0)
                    return status, True
                if self._exited(pid, pidfd, remaining):
                    _, status = os.waitpid(pid, 0)
                    return status, False
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
    def _read_report(read_end: int) -> JobOutcome | None:
        os.set_blocking(read_end, False)
        try:
            data = os.read(read_end, 1)
        except BlockingIOError:
            # A grandchild still holds the write end and nothing was written.
            return None
        return JobOutcome(data[0]) if data else None

    @staticmethod
    def _kill_group(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    def kill(self) -> None:
        """Kill the running horse and everything it started."""
        if self.horse_pid is not None:
            self._kill_group(self.horse_pid)
