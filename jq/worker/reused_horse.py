"""A work horse that runs job after job: ``Worker(reuse_horse=True)``, jq's faster isolated mode
(see :mod:`jq.worker.horse` for what a job can and cannot observe of earlier ones).

The worker hands the horse each job as one frame on a pipe (a length, then the pickled id, queue
and record); the horse replies on another with two bytes (the outcome, then flags), followed by a
frame with the files of the modules it imported when the flags say so (see
:mod:`jq.worker.freshness`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import random
import select
import struct
import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from jq.core.execution import JobOutcome
from jq.defaults import DEFAULT_DEATH_PENALTY_GRACE
from jq.exceptions import JQError
from jq.worker.freshness import Freshness, ImportWatch
from jq.worker.horse import (
    TIMED_OUT,
    ReusedHorseHost,
    ServingHorseHost,
    horse_ended,
    job_deadline,
    read_report,
)
from jq.worker.horse_process import HorseProcess
from jq.worker.strategies import KillReason
from jq.worker.warden import HorseWarden

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.core.lifecycle import NextClaim

__all__ = ["ReusedHorseExecution"]

logger = logging.getLogger("jq.worker")

# A job is sent to the horse as one frame: a _FRAME length, then the payload; the horse follows
# its two-byte reply with a frame when _IMPORTS_FOLLOW is set in its flags.
_FRAME = struct.Struct("!I")
#: A frame follows: the files of modules the horse imported (see jq.worker.freshness).
_IMPORTS_FOLLOW = 2
# Seconds to wait for the rest of a reply whose first two bytes came (the horse writes it whole).
_REST_OF_REPLY_TIMEOUT = 10.0


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
        try:
            record = job.to_record()
        except JQError as exc:
            # A record the horse cannot be handed (its call is missing, its meta unreadable): the
            # job fails here, as it would in a horse, rather than the worker dying of its data.
            return worker.runner.handle_failure(job, (type(exc), exc, exc.__traceback__))
        horse = self._horse or self._start_horse(worker, worker.fork_guard)
        self._busy = True
        try:
            payload = pickle.dumps((job.id, job.origin, record), protocol=pickle.HIGHEST_PROTOCOL)
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
                state = horse.wait_readable(self._from_horse, job_deadline(job, self.grace))
            report = read_report(self._from_horse) if state == "ready" else None
        finally:
            self._busy = False
        if report is not None:
            self._jobs_run += 1
            outcome, flags = report
            limit = self.max_jobs_per_horse
            keep = not flags & TIMED_OUT and (limit is None or self._jobs_run < limit)
            if keep and flags & _IMPORTS_FOLLOW:
                keep = self._watch_imports(worker.name)
            if not keep:
                self._retire()
            return outcome
        overran = state == "overran"
        ending = self._retire()
        return horse_ended(worker, job, ending, overran, worker.kill_reason_for(job), self.grace)

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
        flags = TIMED_OUT if worker.runner.timed_out else 0
        files = imports.report()
        if files is None:
            os.write(reply_write, bytes([outcome, flags]))
        else:
            # In one go: the worker reads the frame as soon as it has the first two bytes.
            reply = bytes([outcome, flags | _IMPORTS_FOLLOW]) + _FRAME.pack(len(files)) + files
            _write_all(reply_write, reply)
