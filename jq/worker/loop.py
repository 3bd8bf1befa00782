"""The worker's loop: claim a job, run it, repeat; through suspensions and store outages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jq.broker import (
    WORKER_CURRENT_JOB,
    WORKER_STATE,
    Broker,
    Claimed,
    ClaimRequest,
    WorkerState,
    WorkerUpdate,
)
from jq.core.lifecycle import NextClaim
from jq.core.outage import Backoff, describe_outage
from jq.worker.batching import Batch
from jq.worker.maintenance import Maintenance
from jq.worker.registration import WorkerStatus

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["LoopCalls", "WorkLoop"]

logger = logging.getLogger("jq.worker")

# An idle worker looks at its stop flag at least this often (a signal cannot cut a blocking read
# short without risking a job claimed by the store but never received).
IDLE_WAIT_SLICE = 1.0
# A worker asks whether workers are suspended at most this often.
SUSPENSION_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class LoopCalls:
    """What the loop asks of its worker: the worker's methods, bound (a worker class may override
    them: ``execute_job`` and the others are RQ's hooks, called as RQ's worker calls them)."""

    #: Whether the worker was asked to stop (read before every step).
    stop_requested: Callable[[], bool]
    claim_next: Callable[[float | None], Claimed | None]
    claim_request: Callable[[], ClaimRequest]
    job_from_claim: Callable[[Claimed], Job | None]
    #: Runs a job through the worker's ``execute_job``, the next claim riding along.
    execute_job: Callable[[Job, NextClaim | None], None]
    #: Keeps a job claimed ahead (its lease is renewed while it waits), or None.
    hold_job: Callable[[Job | None], None]
    procline: Callable[[str], None]
    queue_names: Callable[[], list[str]]
    heartbeat: Callable[[], Any]
    set_state: Callable[[WorkerStatus], Any]


class WorkLoop:
    """Runs a worker's jobs until a reason to stop: a request, burst's empty queues, max_jobs,
    max_idle_time. A store outage is waited out with a capped back-off; a suspension pauses it.

    ``name``: the worker's; ``broker``: its store; ``heartbeat_interval``: how often an idle
    worker renews its record; ``calls``: the worker's methods it calls.
    """

    def __init__(
        self,
        name: str,
        broker: Broker,
        heartbeat_interval: float,
        calls: LoopCalls,
        maintenance: Maintenance,
        *,
        burst: bool,
        max_jobs: int | None,
        max_idle_time: float | None,
        batch: Batch | None = None,
    ) -> None:
        self.name, self.broker, self.heartbeat_interval = name, broker, heartbeat_interval
        #: The jobs reserved to run next (see :mod:`jq.worker.batching`); size 1: none.
        self.batch = Batch(1) if batch is None else batch
        # How long the last job took to run (None before the first): batches follow short jobs.
        self._last_run: float | None = None
        self.calls = calls
        self.maintenance = maintenance
        self.burst = burst
        self.max_jobs = max_jobs
        self.max_idle_time = max_idle_time
        self.processed = 0
        self._backoff = Backoff()
        # The store said it is full (see Broker.full_errors) and no write went through since.
        self._store_full = False
        self._idle_since = self._last_beat = time.monotonic()
        self._next_suspension_check = 0.0
        self._suspended = False
        # A job claimed together with the previous job's outcome, to run next.
        self._next_job: Job | None = None
        # The claim this worker holds and has not handed to execute_job yet (the job of
        # _next_job, or one just claimed): whatever ends the loop, it goes back to its queue.
        self._unstarted: Claimed | None = None

    def run(self) -> int:
        """Loop until told to stop; how many jobs were run."""
        try:
            while not self.calls.stop_requested():
                try:
                    if not self._step():
                        break
                    # A full store still answers reads (and claims): it is over when a write
                    # goes through (see _keep_alive), not at the first step that wrote nothing.
                    if self._backoff.failures and not self._store_full:
                        logger.warning("worker %s: the store answers again", self.name)
                        self._backoff.reset()
                except self.broker.transient_errors as error:
                    delay = self._backoff.next_delay()
                    full = isinstance(error, self.broker.full_errors)
                    if (self._backoff.failures == 1 and not full) or (full and not self._store_full):
                        # Once per outage, not once per try: say why, and that it waits.
                        logger.warning(
                            "worker %s: %s; waiting for it (trying again every %.0f s at most)",
                            self.name, describe_outage(self.broker, error), self._backoff.cap,
                        )  # fmt: skip
                    self._store_full = self._store_full or full
                    self._pause(delay)
        finally:
            self._give_back_next_job()
        return self.processed

    def _step(self) -> bool:
        """One turn of the loop; False when the worker should stop."""
        worker = self.calls
        if self._check_suspended():
            # A job claimed ahead must not wait out the suspension in the started registry.
            self._give_back_next_job()
            if self.burst:
                logger.info("worker %s: workers are suspended; a burst worker stops", self.name)
                return False
            self._keep_alive()
            self._pause(IDLE_WAIT_SLICE)
            return True
        until_chore = self.maintenance.tick()
        job = self._next_job
        if job is None:
            claimed = self._claim(self._wait_time(until_chore))
            if claimed is None:
                return self._idle()
            self._unstarted = claimed
            job = worker.job_from_claim(claimed)
            if job is None:
                # Its record was unreadable and the job was failed: not an empty queue, go on.
                self._unstarted = None
                self._idle_since = time.monotonic()
                return True
            if worker.stop_requested():
                # A signal came while the claim waited (its handler ran, the wait went on): the
                # job goes back to the front of its queue, untouched (see run()).
                self._hold(job)
                return False
            # Held until it runs: the store names it the worker's job from the claim on, so a
            # kill-horse command coming before execute_job has it is carried out, not dropped.
            worker.hold_job(job)
        else:
            # Still held (see hold_job above) until execute_job has it; no longer claimed ahead.
            self._next_job = None
        worker.procline(f"busy with job {job.id}")
        next_claim = NextClaim(self._next_request()) if self._may_take_another() else None
        # execute_job() (RQ's hook) runs it; the claim of the next job rides along with it, for
        # the step that records this job's outcome.
        self._unstarted = None
        started = time.monotonic()
        try:
            worker.execute_job(job, next_claim)
        finally:
            worker.hold_job(None)
            # Also when execute_job raised (a KeyboardInterrupt, a SystemExit from a callback):
            # a job claimed with the outcome is held, and given back if the loop ends (run()),
            # with the reservations the claim left this worker.
            if next_claim is not None and next_claim.answered:
                self.batch.answered(next_claim.request, next_claim.claimed)
            if next_claim is not None and next_claim.claimed is not None:
                self._unstarted = next_claim.claimed
        self._last_run = time.monotonic() - started
        self._wrote()  # its outcome (execute_job retries that write while the store is away)
        self.processed += 1
        if self._unstarted is not None:
            self._hold(worker.job_from_claim(self._unstarted))
            if self._next_job is None:
                self._unstarted = None  # unreadable: failed, nothing to give back
        self._last_beat = self._idle_since = time.monotonic()
        if self._next_job is None:  # else the next job's title replaces this one right away
            worker.procline(f"idle on {','.join(worker.queue_names())}")
        if self.max_jobs is not None and self.processed >= self.max_jobs:
            logger.info("worker %s: ran %d job(s), the most it may", self.name, self.processed)
            return False
        return True

    def _next_request(self) -> ClaimRequest:
        """The claim that rides on the running job's outcome: the worker's, starting its next
        reservation, or reserving more (see :class:`~jq.worker.batching.Batch`)."""
        request = self.calls.claim_request()
        # Jobs the worker may still claim after the one this claim takes.
        room = None if self.max_jobs is None else self.max_jobs - self.processed - 2
        return self.batch.request(request, room=room, last_run=self._last_run)

    def _claim(self, wait: float | None) -> Claimed | None:
        """Claim the next job: the worker's ``claim_next``; or, while the worker holds
        reservations (the last outcome was recorded without a claim riding along), the first of
        them still held, without waiting."""
        if not self.batch.held:
            return self.calls.claim_next(wait)
        request = self.batch.request(self.calls.claim_request(), room=None, last_run=None)
        claimed = self.broker.claim(request.queues, request.fields, request.lease_until,
                                    worker=request.worker, reserved=request.reserved)  # fmt: skip
        self.batch.answered(request, claimed)
        return claimed if claimed is not None else self.calls.claim_next(wait)

    def _may_take_another(self) -> bool:
        """Whether the next job may be claimed with this job's outcome."""
        if self.calls.stop_requested() or self._suspended:
            return False
        return self.max_jobs is None or self.processed + 1 < self.max_jobs

    def _hold(self, job: Job | None) -> None:
        """Keep ``job`` (claimed ahead) to run next; its lease is renewed meanwhile."""
        self._next_job = job
        self.calls.hold_job(job)

    def _give_back_next_job(self) -> None:
        """A job claimed but not started here (claimed ahead, or claimed as the worker was told to
        stop) and the jobs reserved after it go back to the front of their queues at once, in
        order, in one call, each guarded by its own execution id (nothing is written for one that
        this worker no longer owns). A store that cannot be reached leaves them to their leases:
        maintenance requeues (or ends) them then, so none is lost either way."""
        claimed = self._unstarted
        self._unstarted = None
        self._hold(None)
        if claimed is None and not self.batch.held:
            return
        idle = WorkerUpdate(self.name, {WORKER_STATE: WorkerState.IDLE.stored, WORKER_CURRENT_JOB: b""})
        self.batch.give_back(self.broker, self.name, claimed, idle)

    def _wait_time(self, until_chore: float) -> float | None:
        if self.burst:
            return None
        wait = min(IDLE_WAIT_SLICE, until_chore, self.heartbeat_interval)
        if self.max_idle_time is not None:
            wait = min(wait, max(self.max_idle_time - (time.monotonic() - self._idle_since), 0.0))
        return wait

    def _idle(self) -> bool:
        """Nothing was claimed: stop (burst, max_idle_time) or keep the record alive."""
        if self.burst:
            return False
        if self.max_idle_time is not None and time.monotonic() - self._idle_since >= self.max_idle_time:
            logger.info("worker %s: idle for %ss, stopping", self.name, self.max_idle_time)
            return False
        self._keep_alive()
        return True

    def _keep_alive(self) -> None:
        """Renew the worker's record when a heartbeat is due."""
        if time.monotonic() - self._last_beat >= self.heartbeat_interval:
            self.calls.heartbeat()
            self._last_beat = time.monotonic()
            self._wrote()

    def _wrote(self) -> None:
        """A write went through: a full store has room again."""
        if self._store_full:
            logger.warning("worker %s: the store has room again", self.name)
            self._store_full = False
            self._backoff.reset()

    def _check_suspended(self) -> bool:
        """Whether workers are suspended (asked at most once a second); records state changes."""
        now = time.monotonic()
        if now < self._next_suspension_check:
            return self._suspended
        self._next_suspension_check = now + SUSPENSION_CHECK_INTERVAL
        suspended = self.broker.is_suspended()
        if suspended != self._suspended:
            state = WorkerStatus.SUSPENDED if suspended else WorkerStatus.IDLE
            self.calls.set_state(state)
            logger.info("worker %s: %s", self.name, "suspended" if suspended else "resumed")
            self.calls.procline(state.value)
            self._suspended = suspended
            self._last_beat = now
        return suspended

    def _pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early when the worker is asked to stop."""
        deadline = time.monotonic() + seconds
        while not self.calls.stop_requested() and (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(remaining, 0.1))
