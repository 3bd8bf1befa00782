"""Small builders and waits shared by jq's conformance suites.

Tests wait on conditions with a bounded deadline (:func:`wait_for`), never on a fixed sleep that
assumes how fast something happens.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from jq.broker import (
    EXECUTION,
    ORIGIN,
    STATUS,
    Broker,
    Claimed,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Move,
    Place,
    PlaceKind,
    Record,
    RecordEdit,
    Status,
    ToRegistry,
    Transition,
    settlement_for,
)
from jq.defaults import DEFAULT_FAILURE_TTL

__all__ = [
    "JOIN_TIMEOUT",
    "LEASE",
    "ClaimInThread",
    "end_job",
    "enqueue",
    "job_fields",
    "place",
    "run_threads",
    "start_job",
    "wait_for",
]

#: A lease deadline far enough ahead that no test sees it pass.
LEASE = 4_000_000_000.0


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; whether it became true.

    The default deadline is generous on purpose: a wait returns as soon as its condition holds, so
    a long deadline costs a passing test nothing, and a busy 2-core machine needs it. A check that
    something does *not* happen passes its own short ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def job_fields(queue: str = "default", /, **extra: bytes) -> dict[str, bytes]:
    """A plausible job record (without status) for a job of ``queue``, plus ``extra`` fields."""
    return {ORIGIN: queue.encode(), "data": b"payload", "created_at": b"2024-01-01T00:00:00Z", **extra}


def place(kind: PlaceKind, queue: str = "default") -> Place:
    """Shorthand for :class:`~jq.broker.Place`."""
    return Place(kind, queue)


def enqueue(
    broker: Broker,
    job_id: str,
    queue: str = "default",
    *,
    fields: Mapping[str, bytes] | None = None,
    record_ttl: int | None = None,
    at_front: bool = False,
    depends_on: Sequence[str] = (),
    scheduled_at: float | None = None,
    allow_failure: bool = False,
    unique: bool = False,
    once: tuple[str, float] | None = None,
) -> EnqueueOutcome:
    """Enqueue a job built with :func:`job_fields` (or ``fields``) and return the outcome."""
    return broker.enqueue(
        EnqueueRequest(
            job_id=job_id,
            queue=queue,
            fields=job_fields(queue) if fields is None else fields,
            record_ttl=record_ttl,
            at_front=at_front,
            depends_on=depends_on,
            scheduled_at=scheduled_at,
            allow_failure=allow_failure,
            unique=unique,
            once=once,
        )
    )


def start_job(broker: Broker, job_id: str, queue: str = "default", execution: str | None = None) -> Record:
    """Claim this job (it must have a record) with execution id ``execution`` (default ``x-<id>``)."""
    fields = {EXECUTION: (execution or f"x-{job_id}").encode()}
    record = broker.claim_job(job_id, queue, fields, LEASE)
    assert record is not None, f"job {job_id} has no record to start"
    return record


def end_job(
    broker: Broker,
    job_id: str,
    queue: str = "default",
    *,
    status: str = Status.FINISHED.value,
    policy: DependentsPolicy | None = None,
    released_fields: Mapping[str, bytes] | None = None,
    canceled_fields: Mapping[str, bytes] | None = None,
    default_failure_ttl: int = DEFAULT_FAILURE_TTL,
    now: float | None = 0.0,
    execution: str | None = None,
) -> bool:
    """Move a started job to the registry of ``status`` (finished, failed, canceled...).

    The dependents policy defaults to the one that status implies (finished: ``FINISHED``,
    failed: ``FAILED``, stopped or canceled: ``NONE``, as the core does). ``canceled_fields``,
    ``default_failure_ttl`` and ``now`` make the transition's :class:`~jq.broker.Settlement`
    (see :func:`~jq.broker.settlement_for`); ``execution``, when given, is its ``execution_id``.
    """
    if policy is None:
        implied = {
            Status.FINISHED.value: DependentsPolicy.FINISHED,
            Status.FAILED.value: DependentsPolicy.FAILED,
        }
        policy = implied.get(status, DependentsPolicy.NONE)
    target = {Status.FINISHED.value: PlaceKind.FINISHED, Status.CANCELED.value: PlaceKind.CANCELED}.get(
        status, PlaceKind.FAILED
    )
    return broker.transition(
        Transition(
            job_id,
            Move(Place(PlaceKind.STARTED, queue), ToRegistry(Place(target, queue), math.inf)),
            RecordEdit({STATUS: status.encode()}),
            settlement=settlement_for(policy, canceled_fields, default_failure_ttl, now),
            released_fields=released_fields or {},
            execution_id=execution,
        )
    )


#: Every thread is joined with this bound: a hung thread fails the test instead of hanging it.
JOIN_TIMEOUT = 30.0


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Run ``target(index)`` in ``count`` threads, join them with a bound, re-raise any error."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
    if errors:
        raise errors[0]


class ClaimInThread:
    """Runs one blocking :meth:`~jq.broker.Broker.claim` in a daemon thread.

    :meth:`result` joins the thread with a bound and returns what the claim returned (re-raising
    anything it raised).
    """

    def __init__(
        self, broker: Broker, queues: Sequence[str], wait: float = 30.0, execution: str = "blocked"
    ) -> None:
        self._outcome: list[Claimed | None] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run,
            args=(broker, list(queues), {EXECUTION: execution.encode()}, wait),
            daemon=True,
        )
        self._thread.start()

    def _run(self, broker: Broker, queues: list[str], fields: dict[str, bytes], wait: float) -> None:
        try:
            self._outcome.append(broker.claim(queues, fields, LEASE, wait=wait))
        except BaseException as exc:  # handed to the test thread by result()
            self._error.append(exc)

    def result(self, timeout: float = 10.0) -> Claimed | None:
        """What the claim returned; fails the test if it has not returned within ``timeout``."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the blocked claim did not return within {timeout} s"
        if self._error:
            raise self._error[0]
        return self._outcome[0]
