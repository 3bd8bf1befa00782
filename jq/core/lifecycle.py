"""Every change of a job's state, each one atomic broker call.

A job is always in exactly one place (its queue or one registry) or, once it ended without being
kept, in none. The functions here compute the move and the record fields, and hand them to
:meth:`jq.broker.Broker.transition` (or ``claim``), which applies them in one step. A move made
by a stale execution (a worker that lost its lease) is refused by the broker.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from jq.base.utils import format_timestamp, now, now_timestamp, public_module
from jq.broker import (
    ENQUEUE_AT_FRONT,
    EXECUTION,
    KEEP,
    PERSIST,
    RESULTS_KEPT,
    STATUS,
    Cancellation,
    Claimed,
    ClaimRequest,
    DependentsPolicy,
    Move,
    Outcome,
    Place,
    PlaceKind,
    RecordEdit,
    ResultEntry,
    Settlement,
    Status,
    Tally,
    ToQueue,
    ToRegistry,
    Transition,
    WorkerUpdate,
)
from jq.broker.clock import due_time
from jq.broker.history import FUNCTION_NAME_LIMIT
from jq.core.job_state import JobStatus
from jq.core.repeat import Repeat
from jq.core.results import Result, encode_result
from jq.core.retry import Retry
from jq.defaults import DEFAULT_FAILURE_TTL, DEFAULT_RESULT_TTL
from jq.exceptions import SerializationError

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = [
    "FAILED_SETTLEMENT",
    "FINISHED_SETTLEMENT",
    "OUTCOME_WRITER",
    "UNSERIALIZABLE_RETURN_VALUE",
    "claim_fields",
    "dependents_cancellation",
    "fail",
    "finish",
    "finishing",
    "retry_returned",
    "tally",
]

logger = logging.getLogger("jq.job")

# The statuses written here, as a record holds them.
_QUEUED, _FINISHED, _FAILED = Status.QUEUED.stored, Status.FINISHED.stored, Status.FAILED.stored

# A few attempts are enough: a refused move means another client changed the job meanwhile.
_RACE_ATTEMPTS = 5

#: What is stored as the return value of a job whose return value its serializer cannot store
#: (RQ's ``UNSERIALIZABLE_RETURN_VALUE_PAYLOAD``): the job still finished.
UNSERIALIZABLE_RETURN_VALUE = "Unserializable return value"


def _ts(moment: datetime.datetime) -> bytes:
    return format_timestamp(moment).encode()


def now_text() -> bytes:
    """The current time as stored in records."""
    return now_timestamp().encode()


def _expiry(job: Job, ttl: int) -> tuple[float, int]:
    """(registry score, record_ttl) for keeping something ``ttl`` seconds (-1: forever), the
    score counted by the store's clock, as the record's expiry is."""
    if ttl < 0:
        return math.inf, PERSIST
    return job.broker.now() + ttl, ttl


def claim_fields(worker_name: str) -> dict[str, bytes]:
    """The fields a worker writes when it claims a job (the broker adds ``status=started``): each
    claim starts a new execution, with an id of its own (16 random bytes in hex)."""
    stamp = now_text()
    return {
        "started_at": stamp,
        "last_heartbeat": stamp,
        "worker_name": worker_name.encode(),
        EXECUTION: os.urandom(16).hex().encode(),
    }


def released_fields() -> dict[str, bytes]:
    """Fields written on dependents that a move releases onto their queue."""
    return {"enqueued_at": now_text()}


#: How a job that succeeded settles its dependents: each stops waiting for it, and those with
#: nothing else unmet are released (with the transition's released fields).
FINISHED_SETTLEMENT: Final = Settlement(DependentsPolicy.FINISHED)

#: How a job that failed settles its dependents: those that allow failure are released, the
#: others keep waiting for it (requeued and successful, it releases them). Once its record is
#: gone, :meth:`jq.broker.Broker.settle_orphans` cancels them (see
#: :func:`dependents_cancellation`).
FAILED_SETTLEMENT: Final = Settlement(DependentsPolicy.FAILED)


def dependents_cancellation() -> Cancellation:
    """What a job gets when it is canceled because a job it waits for will never run (see
    :meth:`jq.broker.Broker.settle_orphans`): ``ended_at`` now, and it is kept for its own
    failure_ttl, else :data:`~jq.defaults.DEFAULT_FAILURE_TTL`."""
    return Cancellation({"ended_at": now_text()}, DEFAULT_FAILURE_TTL)


#: The function name a job's history counts it under when its call cannot be read.
UNREADABLE_FUNCTION: Final = "unknown"


def tally(job: Job, outcome: Outcome, ended: datetime.datetime, *, timed: bool = True) -> Tally:
    """The execution's outcome as its queue's history counts it (see :mod:`jq.broker.history`):
    its run time from the claim's ``started_at`` to ``ended`` (both by this machine's clock),
    unless not ``timed`` (a job ended for a worker that died: how long it ran is not known)."""
    started = job.started_at
    run_time = max((ended - started).total_seconds(), 0.0) if timed and started is not None else None
    try:
        function = job.func_name[:FUNCTION_NAME_LIMIT] or UNREADABLE_FUNCTION
    except Exception:  # a corrupt call is counted all the same: the outcome is what matters here
        function = UNREADABLE_FUNCTION
    return Tally(job.origin, function, outcome, run_time)


def with_admission(job: Job, change: Transition) -> Transition:
    """``change``, carrying the fields of a job it admits, when ``job`` has a rate limit: a move
    that frees the job's slot queues the first job waiting for one, and writes on it the
    transition's released fields (when it was put on its queue), whether or not the transition
    settles dependents."""
    if job.has_rate_limit and not change.released_fields:
        return replace(change, released_fields=released_fields())
    return change


#: Where the outcome of a job recorded in this context is written: None, through the job's broker
#: (:meth:`jq.broker.Broker.transition`), one call per outcome; else a function that writes the
#: transition and says whether it was made, as that call would. A worker running several jobs at
#: once sets it while it records one, so that outcomes ready at the same moment are written in
#: one call (see :mod:`jq.worker.concurrency.commits`).
OUTCOME_WRITER: ContextVar[Callable[[Transition], bool] | None] = ContextVar(
    "jq_outcome_writer", default=None
)


@dataclass
class NextClaim:
    """Claim the next job in the same call that records an outcome (one round trip for both).

    After the call, :attr:`claimed` holds the job claimed, or None when every queue was empty,
    and :attr:`answered` is True (it stays False while no call made the claim: the caller then
    still holds the reservations its request named).
    """

    request: ClaimRequest
    claimed: Claimed | None = None
    answered: bool = False


def _move(job: Job, change: Transition, next_claim: NextClaim | None) -> bool:
    change = with_admission(job, change)
    if next_claim is None:
        writer = OUTCOME_WRITER.get()
        return job.broker.transition(change) if writer is None else writer(change)
    moved, next_claim.claimed = job.broker.finish_and_claim(change, next_claim.request)
    next_claim.answered = True
    return moved


def finish(job: Job, return_value: Any, *, next_claim: NextClaim | None = None, **options: Any) -> bool:
    """Record success: started → finished (kept ``result_ttl``), result stored, dependents released.

    A job with repeats left (``Repeat``) goes back instead, in the same step: to its queue when its
    next interval is 0 (or ``repeat_at_once``), else to the scheduled registry for that many
    seconds, with one repeat less (see :func:`_repeat`).

    A return value the job's serializer cannot store is stored as
    :data:`UNSERIALIZABLE_RETURN_VALUE` (the job still finished, as in RQ), with a warning logged.
    Raises :class:`SerializationError` (nothing written) only when even that cannot be stored.
    Returns False when the move was refused (the execution is stale). ``options`` are those of
    :func:`finishing` (``execution_id``, ``worker_update``, which changes the worker's record in
    the same step...); ``next_claim`` claims the worker's next job in the same round trip.
    """
    change, settle = finishing(job, return_value, **options)
    return conclude(job, change, settle, next_claim)


def conclude(
    job: Job, change: Transition, settle: Callable[[], None], next_claim: NextClaim | None = None
) -> bool:
    """Write an outcome :func:`finishing` built (its admission added) and, once it was made,
    ``settle`` the job; False when the move was refused (the execution is stale)."""
    moved = _move(job, change, next_claim)
    if moved:
        settle()
    return moved


def finishing(
    job: Job,
    return_value: Any,
    *,
    execution_id: str | None,
    worker_name: str | None = None,
    default_result_ttl: int = DEFAULT_RESULT_TTL,
    worker_update: WorkerUpdate | None = None,
    repeat_at_once: bool = False,
) -> tuple[Transition, Callable[[], None]]:
    """:func:`finish`'s transition, unwritten (no admission: :func:`with_admission`), and what to
    do to the job once it was made; raises as :func:`finish` does (see jq.worker.concurrency.quiet)."""
    payload, stored_value = _return_payload(job, return_value)
    # One stamp, formatted once, for the job's end, its result's creation, its released dependents.
    ended_stamp = (ended_text := format_timestamp(ended := now())).encode()
    ttl = job.get_result_ttl(default_result_ttl)
    result = Result(
        job.id,
        Result.Type.SUCCESSFUL,
        created_at=ended,
        execution_started_at=job.started_at,
        id=execution_id,
        worker_name=worker_name,
    )
    source = Place(PlaceKind.STARTED, job.origin)
    fields = {STATUS: _FINISHED, "ended_at": ended_stamp}
    entry: ResultEntry | None = ResultEntry(encode_result(result, payload, ended_text), results_kept(job))
    record_ttl, status = KEEP, JobStatus.FINISHED
    if job.repeats_left:
        move, status = _repeat(job, source, fields, at_once=repeat_at_once)
        if ttl == 0:
            entry = None
    elif ttl == 0:
        move, record_ttl = Move(source), 0
    else:
        score, record_ttl = _expiry(job, ttl)
        move = Move(source, ToRegistry(Place(PlaceKind.FINISHED, job.origin), score))
    change = Transition(
        job.id,
        move,
        RecordEdit(fields, record_ttl=record_ttl),
        result=entry,
        settlement=FINISHED_SETTLEMENT,
        released_fields={"enqueued_at": ended_stamp},
        execution_id=execution_id,
        worker=worker_update,
        tally=tally(job, Outcome.FINISHED, ended),
    )

    def settle() -> None:
        if status is not JobStatus.FINISHED:
            job.repeats_left = int(fields["repeats_left"])
            job.repeat_intervals = json.loads(fields["repeat_intervals"])
        job.note_outcome(status, result, ended_at=ended, return_value=stored_value)

    return change, settle


def _repeat(job: Job, source: Place, fields: dict[str, bytes], *, at_once: bool) -> tuple[Move, JobStatus]:
    """The success of a job with repeats left (RQ's ``Repeat``): instead of finished, it goes back
    to its queue (its next interval is 0, or ``at_once``), or to the scheduled registry for that
    many seconds, with one repeat less (written into ``fields``). Each interval of
    ``repeat_intervals`` is used once, the last one for every repeat after it. As in RQ the
    success is recorded (unless its result_ttl is 0) and releases the job's dependents; its record
    stays while it has repeats to run.
    """
    assert job.repeats_left
    intervals = list(job.repeat_intervals or [0])
    interval = 0 if at_once else Repeat.get_interval(0, intervals)
    fields["repeats_left"] = str(job.repeats_left - 1).encode()
    fields["repeat_intervals"] = json.dumps(intervals[1:] if len(intervals) > 1 else intervals).encode()
    fields["enqueued_at"] = now_text()
    target: ToQueue | ToRegistry
    if interval > 0:
        status = JobStatus.SCHEDULED
        target = ToRegistry(Place(PlaceKind.SCHEDULED, job.origin), due_time(job.broker) + interval)
    else:
        status, target = JobStatus.QUEUED, ToQueue(job.origin)
    fields[STATUS] = status.value.encode()
    return Move(source, target), status


def _return_payload(job: Job, return_value: Any) -> tuple[bytes, Any]:
    """The stored form of a job's return value, and the value it stands for: the return value, or
    :data:`UNSERIALIZABLE_RETURN_VALUE` when the serializer cannot store it."""
    try:
        return job.serializer.dumps(return_value), return_value
    except Exception as exc:
        logger.warning(
            "job %s: its return value cannot be serialized (%s: %s): %r is stored instead",
            job.id, type(exc).__name__, exc, UNSERIALIZABLE_RETURN_VALUE,
        )  # fmt: skip
    try:
        return job.serializer.dumps(UNSERIALIZABLE_RETURN_VALUE), UNSERIALIZABLE_RETURN_VALUE
    except Exception as exc:
        raise SerializationError(
            f"the return value of job {job.id!r} cannot be serialized: {type(exc).__name__}: {exc}"
        ) from exc


def fail(
    job: Job,
    exc_string: str,
    *,
    execution_id: str | None,
    worker_name: str | None = None,
    keep: bool = True,
    stopped: bool = False,
    worker_update: WorkerUpdate | None = None,
    next_claim: NextClaim | None = None,
    retry_at_once: bool = False,
    timed: bool = True,
) -> JobStatus | None:
    """Record a failure of a started job.

    With retries left (and not ``stopped``) the job goes back to its queue, or to the scheduled
    registry when its retry interval is not zero (and not ``retry_at_once``). Otherwise it ends
    ``failed`` (or ``stopped``), in the failed registry when ``keep`` (the default exception
    handler is enabled), its record kept ``failure_ttl``. Jobs waiting for it stay deferred, to be
    released if it is requeued and succeeds; those that allow failure are released when it failed
    (not when it was stopped, as in RQ). Returns the new status, or None when the move was refused
    (stale execution). ``timed``: the execution's run time is known (not for a job whose worker
    died); its queue's history counts it.
    """
    ended = now()
    source = Place(PlaceKind.STARTED, job.origin)
    if not stopped and job.retries_left:
        return _retry(
            job,
            exc_string,
            source,
            execution_id=execution_id,
            worker_name=worker_name,
            worker_update=worker_update,
            next_claim=next_claim,
            at_once=retry_at_once,
            timed=timed,
        )
    status = JobStatus.STOPPED if stopped else JobStatus.FAILED
    kind = Result.Type.STOPPED if stopped else Result.Type.FAILED
    result = Result(
        job.id,
        kind,
        created_at=ended,
        execution_started_at=job.started_at,
        id=execution_id,
        exc_string=exc_string,
        worker_name=worker_name,
    )
    ttl = DEFAULT_FAILURE_TTL if job.failure_ttl is None else job.failure_ttl
    move, record_ttl = _failed_move(job, source, ttl, keep=keep)
    moved = _move(
        job,
        Transition(
            job.id,
            move,
            RecordEdit(
                {STATUS: status.value.encode(), "ended_at": _ts(ended), "exc_info": exc_string.encode()},
                record_ttl=record_ttl,
            ),
            result=ResultEntry(encode_result(result, None), results_kept(job)),
            # A stopped job releases nobody, as in RQ: its dependents keep waiting.
            settlement=None if stopped else FAILED_SETTLEMENT,
            released_fields={} if stopped else released_fields(),
            execution_id=execution_id,
            worker=worker_update,
            tally=tally(job, Outcome.FAILED, ended, timed=timed),
        ),
        next_claim,
    )
    if not moved:
        return None
    job.note_outcome(status, result, ended_at=ended)
    return status


def _failed_move(job: Job, source: Place | None, ttl: int, *, keep: bool = True) -> tuple[Move, int]:
    """The move and record ttl of a job that ends failed, kept ``ttl`` seconds (-1: forever; 0: its
    record deleted at once): into its origin's failed registry when ``keep`` (and ``ttl`` is not
    0), else into no place."""
    if ttl == 0:
        return Move(source), 0
    score, record_ttl = _expiry(job, ttl)
    return Move(source, ToRegistry(Place(PlaceKind.FAILED, job.origin), score) if keep else None), record_ttl


def retry_returned(
    job: Job,
    retry: Retry,
    *,
    execution_id: str | None,
    worker_name: str | None = None,
    worker_update: WorkerUpdate | None = None,
    next_claim: NextClaim | None = None,
    at_once: bool = False,
) -> JobStatus | None:
    """Record an execution whose function returned ``retry`` (RQ's "asking RQ to retry").

    The job's ``number_of_retries`` counts these retries (apart from the ``retry=`` of its
    enqueue, which counts failures). Below ``retry.max``, the job goes back to its queue (to the
    front with ``retry.enqueue_at_front``), or to the scheduled registry for the interval of this
    retry (unless ``at_once``), with a :attr:`Result.Type.RETRIED` result. At ``retry.max`` it
    ends ``failed``, in the failed registry, kept ``failure_ttl``, with a
    :attr:`Result.Type.MAX_RETRIES_EXCEEDED` result and its dependents handled as for a failure.
    Both results hold the returned ``Retry`` as their return value when the serializer can store
    it. Returns the new status, or None when the move was refused (stale execution).
    """
    done = job.number_of_retries or 0
    ended = now()
    source = Place(PlaceKind.STARTED, job.origin)
    try:
        payload: bytes | None = job.serializer.dumps(retry)
    except Exception:
        payload = None  # a JSON serializer cannot store a Retry: the result says what happened
    if done >= retry.max:
        result = Result(
            job.id, Result.Type.MAX_RETRIES_EXCEEDED, ended, id=execution_id, worker_name=worker_name
        )
        ttl = DEFAULT_FAILURE_TTL if job.failure_ttl is None else job.failure_ttl
        move, record_ttl = _failed_move(job, source, ttl)
        edit = RecordEdit({STATUS: _FAILED, "ended_at": _ts(ended)}, record_ttl=record_ttl)
        settlement, released = FAILED_SETTLEMENT, released_fields()
        status = JobStatus.FAILED
    else:
        result = Result(job.id, Result.Type.RETRIED, ended, id=execution_id, worker_name=worker_name)
        interval = 0 if at_once else Retry.get_interval(done, retry.intervals)
        target: ToQueue | ToRegistry
        if interval > 0:
            status = JobStatus.SCHEDULED
            target = ToRegistry(Place(PlaceKind.SCHEDULED, job.origin), due_time(job.broker) + interval)
        else:
            at_front = bool(getattr(retry, "enqueue_at_front", False))
            status, target = JobStatus.QUEUED, ToQueue(job.origin, at_front)
        move = Move(source, target)
        edit = RecordEdit(
            {
                STATUS: status.value.encode(),
                "number_of_retries": str(done + 1).encode(),
                "enqueued_at": now_text(),
            }
        )
        settlement, released = None, {}
    moved = _move(
        job,
        Transition(
            job.id,
            move,
            edit,
            result=ResultEntry(encode_result(result, payload), max(results_kept(job), retry.max + 1)),
            settlement=settlement,
            released_fields=released,
            execution_id=execution_id,
            worker=worker_update,
            tally=tally(job, Outcome.FAILED if status is JobStatus.FAILED else Outcome.RETRIED, ended),
        ),
        next_claim,
    )
    if not moved:
        return None
    job.note_outcome(status, result, ended_at=ended if status is JobStatus.FAILED else None)
    if status is not JobStatus.FAILED:
        job.number_of_retries = done + 1
    return status


def _retry(
    job: Job,
    exc_string: str,
    source: Place,
    *,
    execution_id: str | None,
    worker_name: str | None,
    worker_update: WorkerUpdate | None,
    next_claim: NextClaim | None,
    at_once: bool = False,
    timed: bool = True,
) -> JobStatus | None:
    assert job.retries_left
    intervals = job.retry_intervals or [0]
    interval = 0 if at_once else Retry.get_interval(_retry_number(job), intervals)
    ended = now()
    result = Result(
        job.id,
        Result.Type.RETRIED,
        created_at=ended,
        execution_started_at=job.started_at,
        id=execution_id,
        exc_string=exc_string,
        worker_name=worker_name,
    )
    target: ToQueue | ToRegistry
    if interval > 0:
        status = JobStatus.SCHEDULED
        target = ToRegistry(Place(PlaceKind.SCHEDULED, job.origin), due_time(job.broker) + interval)
    else:
        status, target = JobStatus.QUEUED, ToQueue(job.origin, job.enqueue_at_front_on_retry)
    fields = {
        STATUS: status.value.encode(),
        "retries_left": str(job.retries_left - 1).encode(),
        "exc_info": exc_string.encode(),
        "enqueued_at": now_text(),
    }
    if job.enqueue_at_front_on_retry:
        # Retry(enqueue_at_front=True): to the front now, or when its interval has passed.
        fields[ENQUEUE_AT_FRONT] = b"1"
    moved = _move(
        job,
        Transition(
            job.id,
            Move(source, target),
            RecordEdit(fields),
            result=ResultEntry(encode_result(result, None), results_kept(job)),
            execution_id=execution_id,
            worker=worker_update,
            tally=tally(job, Outcome.RETRIED, ended, timed=timed),
        ),
        next_claim,
    )
    if not moved:
        return None
    job.retries_left -= 1
    job.note_outcome(status, result)
    return status


def results_kept(job: Job) -> int:
    """How many result entries ``job`` keeps: :data:`~jq.broker.RESULTS_KEPT`, or every attempt
    its Retry allows (``retry_max + 1``) when that is more."""
    return max(RESULTS_KEPT, (job.retry_max or 0) + 1)


def _retry_number(job: Job) -> int:
    """Which retry of ``job`` comes next, 0-based (its retries must not be used up)."""
    assert job.retries_left
    if job.retry_max is None:
        # A record written before retry_max was stored: its intervals were counted from the end.
        return max(len(job.retry_intervals or ()) - job.retries_left, 0)
    return max(job.retry_max - job.retries_left, 0)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.lifecycle", NextClaim)
