"""The state changes of a job that a user asks for: cancel, requeue, enqueue now and delete (part of
:mod:`jq.lifecycle`, which exports them too). Each is one atomic broker call, retried a few times
when another client changed the job between the read of its status and the move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jq.base.utils import now
from jq.broker import (
    ORIGIN,
    PERSIST,
    STATUS,
    Move,
    Place,
    PlaceKind,
    RecordEdit,
    Status,
    ToQueue,
    ToRegistry,
    Transition,
)
from jq.core.job_state import STATUS_PLACE, JobStatus
from jq.core.lifecycle import (
    _RACE_ATTEMPTS,
    FINISHED_SETTLEMENT,
    _expiry,
    _ts,
    now_text,
    released_fields,
    with_admission,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.exceptions import InvalidJobOperation, NoSuchJobError, UnsupportedByBrokerError

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["cancel", "delete", "enqueue_now", "places_of", "refuse_pipeline", "requeue"]


def refuse_pipeline(pipeline: Any, what: str) -> None:
    """Refuse a caller's pipeline: jq's state changes are each one atomic broker call, which is
    not queued on a pipeline here (the caller passes none, or runs the call after ``execute()``)."""
    if pipeline is not None:
        raise UnsupportedByBrokerError(
            f"{what}(pipeline=...) is not supported: the change is one atomic call of its own, made "
            f"at once; call {what}() without a pipeline (before or after executing yours)"
        )


def _place_now(job: Job, status: JobStatus | None) -> Place | None:
    """The place the job is in now, as its status says, or None when it is in none: a job saved
    but never enqueued, or a failed job whose default exception handler was disabled."""
    kind = STATUS_PLACE.get(status) if status is not None else None
    if kind is None:
        return None
    place = Place(kind, job.origin)
    if kind is PlaceKind.QUEUE:
        # A reserved job is still in its queue for a move out of it (see jq.broker.Reservation).
        there = (
            job.broker.queue_position(job.origin, job.id) is not None
            or job.broker.registry_score(Place(PlaceKind.RESERVED, job.origin), job.id) is not None
        )
    else:
        there = job.broker.registry_score(place, job.id) is not None
    return place if there else None


def cancel(
    job: Job, *, enqueue_dependents: bool = False, remove_from_dependencies: bool = False
) -> dict[str, list[str]]:
    """Any status but canceled → canceled, kept ``failure_ttl`` (0: not kept at all, its record
    deleted; -1: forever), as RQ: a finished or failed job can be canceled too, and a running one
    (its execution can then no longer record its outcome).

    Jobs waiting for it stay deferred, unless ``enqueue_dependents``: then it stops being a
    dependency of each, in the same step, and those with nothing else unmet are released.
    ``remove_from_dependencies``: it leaves the lists of dependents of the jobs it waits for.
    Returns the released jobs' ids by queue name (empty without ``enqueue_dependents``).
    """
    for _attempt in range(_RACE_ATTEMPTS):
        status = job.get_status()
        if status is JobStatus.CANCELED:
            raise InvalidJobOperation(f"Cannot cancel already canceled job: {job.id}")
        waiting = job.broker.dependent_ids(job.id) if enqueue_dependents else []
        ttl = DEFAULT_FAILURE_TTL if job.failure_ttl is None else job.failure_ttl
        target = None
        if ttl == 0:
            # Not kept, like a failed job or a canceled dependent with failure_ttl=0.
            record_ttl = 0
        else:
            score, record_ttl = _expiry(job, ttl)
            target = ToRegistry(Place(PlaceKind.CANCELED, job.origin), score)
        ended = now()
        change = Transition(
            job.id,
            Move(_place_now(job, status), target),
            RecordEdit({STATUS: Status.CANCELED.stored, "ended_at": _ts(ended)}, record_ttl=record_ttl),
            # Its dependents are released as if it had finished, or else keep waiting.
            settlement=FINISHED_SETTLEMENT if enqueue_dependents else None,
            released_fields=released_fields() if enqueue_dependents else {},
            leave_dependencies=remove_from_dependencies,
        )
        if job.broker.transition(with_admission(job, change)):
            job.note_status(JobStatus.CANCELED)
            job.ended_at = ended
            return _released(job, waiting)
    raise InvalidJobOperation(f"job {job.id!r} kept changing state; try canceling it again")


def _released(job: Job, waiting: list[str]) -> dict[str, list[str]]:
    """Which of the jobs that waited for ``job`` are queued or scheduled now, by queue name."""
    released: dict[str, list[str]] = {}
    for job_id, record in zip(waiting, job.broker.load_jobs(waiting), strict=True):
        if (
            record is not None
            and record.get(STATUS) in (Status.QUEUED.stored, Status.SCHEDULED.stored)
            and ORIGIN in record
        ):
            released.setdefault(record[ORIGIN].decode(), []).append(job_id)
    return released


def requeue(job: Job, at_front: bool = False) -> None:
    """failed or stopped → queued, kept until it runs again. Jobs that wait for it keep waiting:
    if it succeeds this time, it releases them. A canceled job cannot be requeued (as RQ)."""
    for _attempt in range(_RACE_ATTEMPTS):
        status = job.get_status()
        if status not in (JobStatus.FAILED, JobStatus.STOPPED):
            raise InvalidJobOperation(
                f"job {job.id!r} is {status.value}: only failed or stopped jobs can be requeued"
                + (" (enqueue a canceled job again to run it)" if status is JobStatus.CANCELED else "")
            )
        change = Transition(
            job.id,
            # A failed job whose default exception handler was disabled is kept in no registry.
            Move(_place_now(job, status), ToQueue(job.origin, at_front)),
            RecordEdit(
                {STATUS: Status.QUEUED.stored, "enqueued_at": now_text()},
                delete_fields=("ended_at",),
                record_ttl=PERSIST,
            ),
        )
        if job.broker.transition(change):
            # Queued, or (with a rate limit) maybe waiting for a slot.
            job.note_status(job.get_status() if job.has_rate_limit else JobStatus.QUEUED)
            job.ended_at = None
            return
    raise InvalidJobOperation(f"job {job.id!r} kept changing state; try requeueing it again")


def enqueue_now(job: Job) -> None:
    """scheduled → queued at once, without waiting for its time (a delayed job, or a retry
    waiting for its interval): to the back of its queue, or the front when it was enqueued with
    ``at_front``. A job in any other state is refused with :class:`InvalidJobOperation`."""
    for _attempt in range(_RACE_ATTEMPTS):
        status = job.get_status()
        if status is not JobStatus.SCHEDULED:
            raise InvalidJobOperation(
                f"job {job.id!r} is {status.value}: only scheduled jobs can be enqueued now"
            )
        change = Transition(
            job.id,
            Move(Place(PlaceKind.SCHEDULED, job.origin), ToQueue(job.origin, job.should_enqueue_at_front())),
            RecordEdit({STATUS: Status.QUEUED.stored, "enqueued_at": now_text()}),
        )
        if job.broker.transition(change):
            job.note_status(job.get_status() if job.has_rate_limit else JobStatus.QUEUED)
            return
    raise InvalidJobOperation(f"job {job.id!r} kept changing state; try enqueueing it again")


def places_of(job: Job) -> list[Place]:
    """Every place the job may be in: the one its status names first, then its origin's others."""
    status = job.get_status(refresh=False)
    kinds = [STATUS_PLACE[status]] if status in STATUS_PLACE else []
    kinds += [kind for kind in PlaceKind if kind not in kinds and kind is not PlaceKind.QUEUE]
    return [Place(kind, job.origin) for kind in kinds]


def delete(
    job: Job, delete_dependents: bool = False, *, remove_from_queue: bool = True, store: Any = None
) -> None:
    """Delete the job's record and results and take it out of wherever it is (out of its queue
    only with ``remove_from_queue``: a claim drops an id whose record is gone).

    Raises :class:`NoSuchJobError` when the job is gone already (deleting twice raises, as in
    RQ). Jobs waiting for it stay deferred, as in RQ; once the job is gone, a worker's maintenance
    cancels them, or releases those that allow failure (see
    :meth:`jq.registry.DeferredJobRegistry.cleanup`). With ``delete_dependents``, the jobs waiting
    for it are deleted first (and theirs in turn). ``store``: where the deletes are written (a
    broker's :meth:`~jq.broker.Broker.pipeline_writes`), the job's broker by default.
    """
    job.get_status()
    if delete_dependents:
        for dependent in _waiting_dependents(job):
            try:
                delete(dependent, delete_dependents=True, store=store)
            except NoSuchJobError:
                continue  # gone meanwhile
    places = [place for place in places_of(job) if remove_from_queue or not place.is_queue]
    # A rate-limited job frees its slot: the job that admits is written when it was queued.
    admitted = released_fields() if job.has_rate_limit else None
    (job.broker if store is None else store).delete_job(job.id, places, released_fields=admitted)
    if job.group_id is not None and store is None and job.broker.supports_groups:
        # As RQ: a deleted job leaves its group (on a pipeline, the group's cleanup drops it).
        job.broker.group_remove(job.group_id, [job.id])


def _waiting_dependents(job: Job) -> list[Job]:
    found = type(job).fetch_many(
        job.broker.dependent_ids(job.id), connection=job.broker, serializer=job.serializer
    )
    return [dependent for dependent in found if dependent is not None]
