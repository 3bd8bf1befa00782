"""How a worker claims its next job and reads it: the claim request (its queues in order, a new
execution, a lease, its record busy), how many jobs one claim may take, and the Job made from a
claimed record, or the failure of a record that cannot be read (mixed into
:class:`jq.worker.BaseWorker`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from jq.broker import WORKER_STATE, Claimed, ClaimRequest, Status, WorkerState, WorkerUpdate
from jq.core import lifecycle
from jq.core.job import Job, misplaced_record
from jq.exceptions import DeserializationError
from jq.queueing.queue import Queue
from jq.worker.batching import Batch
from jq.worker.control import DequeueStrategy

if TYPE_CHECKING:
    from jq.broker import Broker
    from jq.io.serializers import Serializer
    from jq.worker.concurrency.settings import ConcurrencySettings
    from jq.worker.hooks import WorkerJobRunner
    from jq.worker.strategies import ExecutionStrategy

__all__ = ["WorkerClaims"]

# The status a claimed record had before its claim when it is sound (see Claimed.prior_status).
_QUEUED = Status.QUEUED.stored
_BUSY = WorkerState.BUSY.stored


class WorkerClaims:
    """Claiming and reading the next job (mixed into :class:`jq.worker.BaseWorker`)."""

    name: str
    broker: Broker
    queues: list[Queue]
    _ordered_queues: list[Queue]
    queue_class: type[Queue]
    job_class: type[Job]
    serializer: Serializer
    worker_ttl: int
    batch_size: int
    concurrency_settings: ConcurrencySettings
    strategy: ExecutionStrategy[Any]
    runner: WorkerJobRunner
    _dequeue_strategy: DequeueStrategy

    if TYPE_CHECKING:

        def reorder_queues(self, reference_queue: Queue) -> None: ...

    def work_batch(self) -> Batch:
        """How many jobs each claim of the one-at-a-time loop may take (see :meth:`batches_jobs`)."""
        return Batch(self.batch_size if self.batches_jobs() else 1)

    def batches_jobs(self) -> bool:
        """Whether this worker reserves jobs in batches (see :mod:`jq.worker.batching`): with a
        ``batch_size`` over 1, when its jobs run in its own process (a SimpleWorker), the store
        reserves jobs, and it takes its queues in their given order (the default dequeue
        strategy: a batch would not follow a round-robin or random order)."""
        return (
            self.batch_size > 1
            and not self.concurrency_settings.concurrent
            and not self.strategy.uses_processes
            and self.broker.supports_reservations
            and self._dequeue_strategy is DequeueStrategy.DEFAULT
        )

    def claim_request(self) -> ClaimRequest:
        """How this worker claims its next job: from its queues in their current order (see
        :meth:`reorder_queues`), with a new execution id, a lease, and its record busy."""
        return ClaimRequest(
            [queue.name for queue in self._ordered_queues],
            # Called right before each attempt: started_at is when the job is claimed, even after
            # a long wait for one.
            lambda: lifecycle.claim_fields(self.name),
            # Also called at the claim: a request prepared before a job runs (the next claim made
            # with its outcome) must not carry a lease that ran out while the job ran. By the
            # store's clock, which the maintenance that ends expired leases reads too.
            lambda: self.broker.now() + self.worker_ttl,
            worker=WorkerUpdate(self.name, {WORKER_STATE: _BUSY, "last_heartbeat": lifecycle.now_text()}),
        )

    def claim_next(self, wait: float | None) -> Claimed | None:
        """Claim the next job from the queues, waiting up to ``wait`` seconds; None if none came."""
        request = self.claim_request()
        return self.broker.claim(request.queues, request.fields, request.lease_until, wait=wait,
                                 worker=request.worker)  # fmt: skip

    def dequeue(self, wait: float | None) -> Job | None:
        """Claim the next job and read it; None if none came, or if its record was unreadable (the
        job was then failed: see :meth:`job_from_claim`)."""
        claimed = self.claim_next(wait)
        return None if claimed is None else self.job_from_claim(claimed)

    def job_from_claim(self, claimed: Claimed) -> Job | None:
        """The Job of a claimed record; None (the job failed, recorded) if the record is unreadable.
        The queues are put in the order for the next claim (:meth:`reorder_queues`)."""
        self.reorder_queues(self.queue_for_name(claimed.queue))
        job = self.job_class(claimed.job_id, connection=self.broker, serializer=self.serializer)
        try:
            if claimed.prior_status != _QUEUED:
                status = "no status" if claimed.prior_status is None else f"status {claimed.prior_status!r}"
                raise DeserializationError(
                    f"the record of job {job.id!r} is corrupt: it was on queue {claimed.queue!r} with "
                    f"{status}, which is not a status jq knows; it was not run"
                )
            job.apply_record(claimed.record)
            if job.origin != claimed.queue:
                raise DeserializationError(
                    f"{misplaced_record(job.id, job.origin, claimed.queue, 'claimed')}; it was not run"
                )
        except Exception:
            # A record that cannot be read must still end somewhere: fail it, do not crash. A
            # fresh stand-in, so nothing half-read from the record (a callback) is acted on.
            unreadable = self.job_class.unreadable(
                claimed.job_id,
                claimed.queue,
                claimed.record,
                connection=self.broker,
                serializer=self.serializer,
            )
            self.runner.handle_failure(unreadable, sys.exc_info())  # type: ignore[arg-type]
            return None
        return job

    def queue_for_name(self, name: str) -> Queue:
        """The worker's queue named ``name`` (a new Queue object for another name)."""
        for queue in self.queues:
            if queue.name == name:
                return queue
        return self.queue_class(
            name, connection=self.broker, job_class=self.job_class, serializer=self.serializer
        )
