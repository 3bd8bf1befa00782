"""What an enqueue's outcome means for its job: the status the broker gave it (and, for a job
queued at once because its dependencies had all finished, when it was queued), the plugins told,
or the error for a refusal (nothing was written)."""

from __future__ import annotations

from collections.abc import Sequence

from jq.base.utils import format_timestamp, now
from jq.broker import Broker, EnqueueOutcome, EnqueueRequest, RefusalReason
from jq.core.job import Job, JobStatus
from jq.exceptions import DuplicateJobError, InvalidJobDependency, InvalidJobOperation, NoSuchJobError
from jq.plugins import get_plugin_manager

__all__ = ["WAITING", "apply_outcomes", "expected_status", "refusal"]

#: Each status by its stored value: a dict lookup rather than the enum's call, per job enqueued.
_STATUSES: dict[str, JobStatus] = {status.value: status for status in JobStatus}

#: The statuses of a job that waits for another job: for a dependency, or for a rate-limit slot.
WAITING = (JobStatus.DEFERRED, JobStatus.RATE_LIMITED)


def refusal(job: Job, outcome: EnqueueOutcome) -> Exception:
    """The error for an enqueue the broker refused (nothing was written)."""
    if outcome.reason is RefusalReason.DUPLICATE:
        return DuplicateJobError(
            f"job {job.id!r} already exists and unique=True was asked: nothing was enqueued",
            job_id=job.id,
        )
    if outcome.reason is RefusalReason.CYCLE:
        return InvalidJobDependency(
            f"job {job.id!r} would wait for itself through its dependencies (a dependency cycle): "
            "nothing was enqueued"
        )
    if outcome.reason is RefusalReason.ALREADY:
        return InvalidJobOperation(f"job {job.id!r} was not enqueued: its marker was already reached")
    if outcome.reason is RefusalReason.BATCH:
        return InvalidJobOperation(
            f"job {job.id!r} was not enqueued: another job of its batch was refused, and a batch is "
            "enqueued whole or not at all"
        )
    return NoSuchJobError(
        f"job {job.id!r} depends on jobs that do not exist: {', '.join(outcome.missing)}; "
        "nothing was enqueued"
    )


def apply_outcomes(broker: Broker, jobs: Sequence[Job], outcomes: Sequence[EnqueueOutcome]) -> None:
    """Note on each of ``jobs`` the outcome the broker gave its enqueue, in order (raising the
    refusal of the first refused one), and tell the plugins of each job enqueued, asking once
    whether any plugin is told."""
    manager = get_plugin_manager()
    notify = manager.notifies("jq_job_enqueued")
    for job, outcome in zip(jobs, outcomes, strict=True):
        status = _STATUSES.get(outcome.status or "")
        if status is None:
            if outcome.status is None:
                raise refusal(job, outcome)
            status = JobStatus(outcome.status)
        job.note_status(status)
        if status is JobStatus.QUEUED and job.enqueued_at is None:
            # Its dependencies had all finished: queued at once, and only now known to be.
            job.enqueued_at = now()
            broker.update_job(job.id, {"enqueued_at": format_timestamp(job.enqueued_at).encode()})
        if notify:
            manager.job_enqueued(job)


def expected_status(request: EnqueueRequest) -> JobStatus:
    """The status a request will get unless its dependencies are met by the time it is made."""
    if request.depends_on:
        return JobStatus.DEFERRED
    return JobStatus.QUEUED if request.scheduled_at is None else JobStatus.SCHEDULED
