"""Work horses: the processes a :class:`jq.Worker` runs jobs in.

Two strategies share one horse machinery:

* :class:`ForkPerJobExecution` (the default, as RQ's) forks a fresh horse for every job: nothing
  of an earlier job survives, at the cost of a fork per job. It calls the worker's RQ hooks:
  ``fork_work_horse``, then ``main_work_horse`` in the horse, then ``monitor_work_horse`` and
  ``wait_for_horse`` in the worker.
* :class:`ReusedHorseExecution` (``Worker(reuse_horse=True)``, jq's faster mode) keeps one horse
  and hands it job after job (no fork per job; the horse calls the worker's ``perform_job`` for
  each). A job runs in the same process as the jobs before it: it sees what they
  left in that process — module-level variables they changed, modules they imported, caches,
  memory they did not free, files or threads they left open. It never sees or changes the
  worker process itself, and a horse that crashes, times out or is killed is replaced before the
  next job. Use ``max_jobs_per_horse`` to replace horses regularly. A horse is also replaced
  before the next job when a module it imported has changed on disk since (see
  :mod:`jq.worker.freshness`), so that it runs the code on disk now, as a forking worker does.

Either way a horse runs in its own process group and dies with its worker (Linux); a
:class:`~jq.worker.warden.HorseWarden` then kills the processes its job started. A horse that
dies without reporting (a signal, a crash, ``os._exit``), or runs past the job's timeout plus
``grace`` seconds because it ignored its death penalty, has its whole process group killed, and
the job is recorded as failed (or retried), saying how the horse ended. A job that timed out also
takes its process group with it, grandchildren included.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import pickle
import random
import select
import signal
import struct
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from jq.base.timeouts import JobTimeoutException
from jq.core.execution import JobOutcome
from jq.core.job_state import JobStatus
from jq.defaults import DEFAULT_DEATH_PENALTY_GRACE, effective_timeout
from jq.exceptions import NoSuchJobError, WorkHorseDiedError
from jq.worker.freshness import Freshness, ImportWatch
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
    "DeadHorseHost",
    "ForkPerJobExecution",
    "ForkedHorseHost",
    "HorseHost",
    "HorseProcess",
    "HorseWatcher",
    "ReusedHorseExecution",
    "ReusedHorseHost",
    "ServingHorseHost",
    "WorkHorseExecution",
    "die_with_parent",
]

logger = logging.getLogger("jq.worker")

# A horse's reply to a job is two bytes: the JobOutcome, then flags. A reused horse follows them
# with a frame (a _FRAME length, then the payload) when _IMPORTS_FOLLOW is set; a job is sent to
# it as one frame.
_FRAME = struct.Struct("!I")
#: The job ended by its timeout: the horse's process group is killed.
_TIMED_OUT = 1
#: A frame follows: the files of modules the horse imported (see jq.worker.freshness).
_IMPORTS_FOLLOW = 2
# Seconds to wait for the rest of a reply whose first two bytes came (the horse writes it whole).
_REST_OF_REPLY_TIMEOUT = 10.0


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux), looked up once per process. The worker calls this before it forks,
    so horses inherit it: ``ctypes.util.find_library`` runs ``ldconfig``, milliseconds per fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The running program's own symbols include libc's on Linux: no search needed.
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        libc_name = ctypes.util.find_library("c")
        return None if libc_name is None else ctypes.CDLL(libc_name, use_errno=True).prctl


def die_with_parent(signum: int = signal.SIGKILL) -> None:  # pragma: no cover - runs in children
    """Ask Linux to send ``signum`` to this process when its parent dies (elsewhere: nothing)."""
    prctl = _prctl()
    if prctl is not None:
        pr_set_pdeathsig = 1
        prctl(pr_set_pdeathsig, signum)


class HorseProcess:
    """One forked horse: its pid, its process group, and how to wait for it and end it. It is
    forked holding ``fork_guard`` (the worker's), and runs ``body``."""

    def __init__(
        self, fork_guard: AbstractContextManager[Any], body: Callable[[], None], warden: HorseWarden
    ) -> None:
        parent = os.getpid()
        _prctl()  # looked up here, once, for every horse forked from now on
        warden.start(fork_guard)
        with fork_guard:
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns from here
            warden.close_in_horse()
            self._run_child(parent, body)
        # Set the group from both sides: a kill may come before the child gets to it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self.pid = pid
        self._pidfd = self._open_pidfd(pid)
        self._warden = warden
        self.reaped = False
        warden.watch(pid)

    @staticmethod
    def _run_child(parent: int, body: Callable[[], None]) -> None:  # pragma: no cover
        code = 0
        try:
            os.setpgid(0, 0)
            die_with_parent()
            if os.getppid() != parent:
                # The worker died before the line above took effect: nobody would watch us.
                os._exit(1)
            # Ctrl+C in a terminal goes to the worker, which decides; SIGTERM kills the horse.
            # The worker's signal wakeup pipe is the worker's, not the horse's.
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            body()
        except BaseException:
            # Through the worker's log, so that these lines too start with a timestamp.
            logger.exception("work horse %d stopped on an error", os.getpid())
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    @staticmethod
    def _open_pidfd(pid: int) -> int | None:
        try:
            return os.pidfd_open(pid)
        except (AttributeError, OSError):
            return None

    def wait_readable(self, fd: int, deadline: float | None) -> str:
        """Wait until ``fd`` has data, the horse exits (not reaped), or ``deadline`` passes:
        ``"ready"``, ``"exited"`` or ``"overran"``."""
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return "overran"
            if self._pidfd is not None:
                readable, _, _ = select.select([fd, self._pidfd], [], [], remaining)
                if fd in readable:
                    return "ready"
                if readable:
                    return "exited"
                continue
            # Without pidfd (not Linux): look every 50 ms at most, without reaping (WNOWAIT).
            slice_ = min(0.05, remaining) if remaining is not None else 0.05
            readable, _, _ = select.select([fd], [], [], slice_)
            if readable:
                return "ready"
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return "exited"

    def kill_group(self) -> None:
        """SIGKILL the horse and everything in its process group.

        Safe until :meth:`reap`: an unreaped horse keeps its group id from being reused.
        """
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def reap(self) -> int:
        """Wait for the horse to exit; its ``waitpid`` status."""
        return self.reap_with_usage()[0]

    def reap_with_usage(self) -> tuple[int, Any]:
        """Wait for the horse to exit: its ``waitpid`` status and its resource usage."""
        _, status, rusage = os.wait4(self.pid, 0)
        self.reaped = True
        self._warden.forget(self.pid)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        return status, rusage


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


def _horse_ended(
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


def _deadline(job: Job, grace: float) -> float | None:
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
            state = horse.wait_readable(read_end, _deadline(job, self.grace))
            report = _read_report(read_end) if state != "overran" else None
            if report is None or report[1] & _TIMED_OUT:
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
        return _horse_ended(worker, job, ending, state == "overran", worker.kill_reason_for(job), self.grace)

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


def _read_report(read_end: int) -> tuple[JobOutcome, int] | None:
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


def _read_rest(read_end: int, timeout: float = _REST_OF_REPLY_TIMEOUT) -> bytes | None:
    """The frame that follows a reply's first two bytes, or None when it does not come whole
    within ``timeout`` (the horse died while writing it; a grandchild holds the pipe open)."""
    deadline = time.monotonic() + timeout

    def read(size: int) -> bytes | None:
        chunks = []
        while size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
                return None
            try:
                chunk = os.read(read_end, size)
            except BlockingIOError:
                continue
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    header = read(_FRAME.size)
    return None if header is None else read(_FRAME.unpack(header)[0])


class ReusedHorseExecution:
    """One long-lived work horse that runs job after job (see the module docstring for what a
    job can and cannot observe of earlier ones).

    :param grace: seconds past a job's timeout before a horse that ignores its death penalty is
        killed.
    :param max_jobs_per_horse: replace the horse after this many jobs (None: only when needed).
    """

    #: Runs jobs in another process: needs a store shared across processes.
    uses_processes = True

    def __init__(
        self, grace: float = DEFAULT_DEATH_PENALTY_GRACE, max_jobs_per_horse: int | None = None
    ) -> None:
        self.grace = grace
        self.max_jobs_per_horse = max_jobs_per_horse
        self._horse: HorseProcess | None = None
        self._to_horse = -1
        self._from_horse = -1
        self._jobs_run = 0
        self._busy = False
        self._warden = HorseWarden()
        #: Whether the horse still runs the code on disk (see :mod:`jq.worker.freshness`).
        self.freshness = Freshness()

    @property
    def horse_pid(self) -> int | None:
        """The pid of the current horse, or None."""
        return self._horse.pid if self._horse is not None else None

    def _start_horse(self, worker: ServingHorseHost, fork_guard: AbstractContextManager[Any]) -> HorseProcess:
        self.freshness.horse_starting()
        job_read, job_write = os.pipe()
        reply_read, reply_write = os.pipe()

        def body() -> None:  # pragma: no cover - runs in the horse
            os.close(job_write)
            os.close(reply_read)
            _serve_jobs(worker, job_read, reply_write)

        horse = HorseProcess(fork_guard, body, self._warden)
        os.close(job_read)
        os.close(reply_write)
        self._horse, self._to_horse, self._from_horse, self._jobs_run = horse, job_write, reply_read, 0
        return horse

    def execute(self, worker: ReusedHorseHost, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Hand the job to the horse (starting one if needed) and wait for its report."""
        if self._horse is not None and self.freshness.needs_fresh_horse(worker.name):
            self._retire()
        horse = self._horse or self._start_horse(worker, worker.fork_guard)
        self._busy = True
        try:
            payload = pickle.dumps((job.id, job.origin, job.to_record()), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                _write_frame(self._to_horse, payload)
            except OSError:
                if worker.kill_reason_for(job) is None:
                    # The horse died between jobs (killed from outside): a fresh one takes the job.
                    self._retire()
                    return self.execute(worker, job, next_claim)
                # Killed while being handed the job: recorded as killed, never run again.
                state = "exited"
            else:
                if worker.kill_reason_for(job) is not None:
                    # A kill that came before the horse had the job (kill() skips an idle horse).
                    horse.kill_group()
                state = horse.wait_readable(self._from_horse, _deadline(job, self.grace))
            report = _read_report(self._from_horse) if state == "ready" else None
        finally:
            self._busy = False
        if report is not None:
            self._jobs_run += 1
            outcome, flags = report
            limit = self.max_jobs_per_horse
            keep = not flags & _TIMED_OUT and (limit is None or self._jobs_run < limit)
            if keep and flags & _IMPORTS_FOLLOW:
                keep = self._watch_imports(worker.name)
            if not keep:
                self._retire()
            return outcome
        overran = state == "overran"
        ending = self._retire()
        return _horse_ended(worker, job, ending, overran, worker.kill_reason_for(job), self.grace)

    def _watch_imports(self, worker_name: str) -> bool:
        """Watch the files of the modules the horse has just imported (they follow its reply);
        False when they do not come whole: the horse is then replaced, since what it loaded is
        unknown and the rest of its reply would be taken for the next one."""
        report = _read_rest(self._from_horse)
        if report is not None:
            try:
                self.freshness.horse_reported(report)
                return True
            except ValueError:
                pass
        logger.warning("worker %s: the work horse's list of the modules it imported came cut short: "
                       "a fresh horse takes the next job", worker_name)  # fmt: skip
        return False

    def _retire(self) -> tuple[int | None, int | None, Any]:
        """Kill the horse's group, reap it, and forget it: (pid, status, rusage)."""
        self.freshness.horse_retired()
        horse = self._horse
        if horse is None:
            return None, 0, None
        horse.kill_group()
        status, rusage = horse.reap_with_usage()
        for fd in (self._to_horse, self._from_horse):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._horse, self._to_horse, self._from_horse = None, -1, -1
        return horse.pid, status, rusage

    def kill(self, reason: KillReason) -> None:
        """Kill the horse if it is running a job (the worker records ``reason``, see
        :meth:`jq.worker.base.BaseWorker.kill_job`)."""
        if self._horse is not None and self._busy:
            self._horse.kill_group()

    def close(self) -> None:
        """End the horse and the warden when the worker stops."""
        self._retire()
        self._warden.close()


def _write_frame(fd: int, payload: bytes) -> None:
    _write_all(fd, _FRAME.pack(len(payload)) + payload)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _serve_jobs(worker: ServingHorseHost, job_read: int, reply_write: int) -> None:  # pragma: no cover
    """The horse's loop: read a job, run it, report (outcome, flags[, imported files]); until the
    pipe closes."""
    imports = ImportWatch()
    imports.install()
    random.seed()
    worker.serve_as_horse()
    while True:
        header = _read_exactly(job_read, _FRAME.size)
        if header is None:
            return
        payload = _read_exactly(job_read, _FRAME.unpack(header)[0])
        if payload is None:
            return
        job_id, queue, record = pickle.loads(payload)
        job = worker.job_class(job_id, connection=worker.broker, serializer=worker.serializer)
        job.apply_record(record)
        job.origin = queue
        worker.on_horse_start(job)
        outcome = worker.perform_claimed_job(job)
        flags = _TIMED_OUT if worker.runner.timed_out else 0
        files = imports.report()
        if files is None:
            os.write(reply_write, bytes([outcome, flags]))
        else:
            # In one go: the worker reads the frame as soon as it has the first two bytes.
            reply = bytes([outcome, flags | _IMPORTS_FOLLOW]) + _FRAME.pack(len(files)) + files
            _write_all(reply_write, reply)
