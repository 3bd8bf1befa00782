"""The jobs a concurrent worker runs: one :class:`Slot` per job, in a :class:`SlotTable`.

A slot is taken when a claimed job is handed to the pool and given back when the code running it
has really returned (a thread that outlived its timeout keeps its slot until then), so a worker
never runs more than its ``concurrency`` jobs at once. Its outcome is recorded once: by the job's
own run, or by the worker on its behalf (a thread past its timeout, a cold shutdown), whichever
comes first; the other one's outcome is discarded (see :meth:`Slot.end_performing` and
:meth:`Slot.take_over`).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jq.broker import WORKER_CURRENT_JOB, WORKER_STATE, WorkerState
from jq.worker.registration import RUNNING_JOBS_FIELD

if TYPE_CHECKING:
    from jq.base.interrupts import InterruptWindow
    from jq.broker import Claimed
    from jq.core.job import Job

__all__ = ["RUNNING_JOBS", "Phase", "Slot", "SlotTable"]

#: The worker record's field listing the jobs a concurrent worker runs (ids, comma-separated).
#: ``current_job`` holds one of them too: the one claimed last, or the oldest after an outcome.
RUNNING_JOBS = RUNNING_JOBS_FIELD

_BUSY, _IDLE = WorkerState.BUSY.stored, WorkerState.IDLE.stored


class Phase(enum.Enum):
    """Where a job is in its run."""

    #: Its function runs (its timeout applies).
    PERFORMING = "performing"
    #: Its function ended: its callbacks and outcome are under way.
    CONCLUDING = "concluding"


@dataclass(eq=False)
class Slot:
    """One running job: ``job`` (claimed, execution ``job.execution_id``), whether it runs on the
    event loop (``is_async``), and its deadline (``time.monotonic()``; None: no timeout)."""

    job: Job
    is_async: bool
    timeout: float | None
    started: float = field(default_factory=time.monotonic)
    phase: Phase = Phase.PERFORMING
    #: The worker recorded the job's outcome on its behalf: the job's own is discarded.
    superseded: bool = False
    #: An outcome of this execution was recorded (or refused by the store): nothing is owed.
    recorded: bool = False
    #: Its outcome is being written (the record no longer lists it as running).
    recording: bool = False
    #: The exception a stop (a stop-job command, a cold shutdown, a timeout) ends the job with.
    stop_error: BaseException | None = None
    #: Where a thread job's code runs, for raising a stop in it (its runner's window).
    interrupts: InterruptWindow | None = None
    #: Cancels an async job's task, to end with the error given (from any thread).
    cancel: Callable[[BaseException], None] | None = None
    #: A job claimed with this job's outcome, to run in this slot once it is free (see
    #: :mod:`jq.worker.concurrency.commits`); set by the thread that wrote the outcome.
    next_claim: Claimed | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: The job's id (read often, over every slot: see :meth:`SlotTable.record_fields`).
    job_id: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.job_id = self.job.id

    @property
    def execution_id(self) -> str:
        """The execution this slot runs."""
        return self.job.execution_id or ""

    @property
    def deadline(self) -> float | None:
        """When the job's function must have returned (``time.monotonic()``), or None."""
        return None if self.timeout is None else self.started + self.timeout

    def end_performing(self) -> bool:
        """The job's function returned (or raised): its run goes on to conclude it, unless the
        worker has already recorded its outcome on its behalf (False: discard what it did)."""
        with self._lock:
            if self.superseded:
                return False
            self.phase = Phase.CONCLUDING
            return True

    def take_over(self, *, concluding_too: bool = False) -> bool:
        """The worker records the outcome on the job's behalf from now on (its deadline passed, or
        a cold shutdown): False when the job's own run already got there first (it is recording
        or has recorded its outcome). A job whose function has returned is taken over only with
        ``concluding_too`` (a cold shutdown)."""
        with self._lock:
            if self.recorded or self.recording or self.superseded:
                return False
            if self.phase is Phase.CONCLUDING and not concluding_too:
                return False
            self.superseded = True
            return True

    def begin_recording(self, *, on_behalf: bool) -> bool:
        """The outcome is about to be written: by the job's own run (False when the worker has
        taken it over: nothing is written), or by the worker ``on_behalf`` of it."""
        with self._lock:
            if self.superseded and not on_behalf:
                return False
            self.recording = True
            return True

    @property
    def owes_outcome(self) -> bool:
        """Whether the job's outcome is still to be recorded (its lease must be renewed)."""
        return not (self.recorded or self.superseded)


class SlotTable:
    """The slots of one worker, oldest first. Changed by the worker's main thread only; other
    threads read :attr:`snapshot` (replaced whole at each change)."""

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        #: The slots now, oldest first (read by the heartbeat and command threads).
        self.snapshot: tuple[Slot, ...] = ()

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, slot: Slot) -> None:
        """Take a slot for a job that starts now."""
        self._slots[slot.execution_id] = slot
        self.snapshot = tuple(self._slots.values())

    def remove(self, slot: Slot) -> None:
        """Give the slot back: the code that ran its job has returned."""
        if self._slots.pop(slot.execution_id, None) is not None:
            self.snapshot = tuple(self._slots.values())

    def find(self, *, job_id: str | None = None, execution_id: str | None = None) -> list[Slot]:
        """The slots of the job ``job_id`` or execution ``execution_id`` (all slots: neither)."""
        return [
            slot
            for slot in self.snapshot
            if (job_id is None or slot.job.id == job_id)
            and (execution_id is None or slot.execution_id == execution_id)
        ]

    def running_jobs(self, *, leaving: Slot | None = None) -> list[Job]:
        """The jobs whose outcome is still owed, oldest first (``leaving`` left out)."""
        # Slot.owes_outcome inlined: this runs several times per job over every slot.
        return [
            slot.job
            for slot in self.snapshot
            if not (slot.recorded or slot.superseded) and slot is not leaving
        ]

    def record_fields(self, *, leaving: Slot | None = None) -> dict[str, bytes]:
        """The worker record's fields saying what runs: its state, ``current_job`` (the oldest
        running job) and :data:`RUNNING_JOBS` (all of them), once ``leaving`` and the jobs whose
        outcome is being written have ended."""
        # Not those whose outcome is being written: the write that ends them says so.
        # Slot.owes_outcome inlined (see running_jobs); the id kept on the slot.
        ids = [
            slot.job_id
            for slot in self.snapshot
            if not (slot.recorded or slot.superseded or slot.recording) and slot is not leaving
        ]
        return {
            WORKER_STATE: _BUSY if ids else _IDLE,
            WORKER_CURRENT_JOB: ids[0].encode() if ids else b"",
            RUNNING_JOBS: ",".join(ids).encode(),
        }
