"""Contract tests for worker updates made with claims and transitions, and for finish_and_claim."""

from __future__ import annotations

import math
import threading

from jq.broker import (
    EXECUTION,
    STATUS,
    WORKER_CURRENT_JOB,
    Broker,
    Claimed,
    ClaimRequest,
    DependentsPolicy,
    Move,
    PlaceKind,
    Record,
    RecordEdit,
    Settlement,
    ToRegistry,
    Transition,
    WorkerUpdate,
)
from jq.testing.helpers import LEASE, enqueue, job_fields, place, start_job, wait_for

__all__ = ["FinishAndClaimContract", "WorkerUpdateContract"]

STARTED = place(PlaceKind.STARTED)
FINISHED = place(PlaceKind.FINISHED)


def _worker(broker: Broker, name: str = "w1") -> Record | None:
    [record] = broker.load_workers([name])
    return record


def _finish(job_id: str, *, execution: str | None = None, worker: WorkerUpdate | None = None) -> Transition:
    """A started job of the default queue finishing: to the finished registry, its dependents
    released."""
    return Transition(
        job_id,
        Move(STARTED, ToRegistry(FINISHED, math.inf)),
        RecordEdit({STATUS: b"finished"}),
        settlement=Settlement(DependentsPolicy.FINISHED),
        released_fields={"enqueued_at": b"now"},
        execution_id=execution,
        worker=worker,
    )


def _claim(
    execution: str = "next", worker: WorkerUpdate | None = None, queue: str = "default"
) -> ClaimRequest:
    return ClaimRequest([queue], {EXECUTION: execution.encode()}, LEASE, worker)


class WorkerUpdateContract:
    """A :class:`WorkerUpdate` given with a claim or a transition: applied in the same step when the
    worker's record exists and the call was not refused; a claim names the job it claimed."""

    def test_claim_writes_fields_adds_increments_and_names_the_job(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"idle", "done": b"2"}, ["default"], ttl=60)
        enqueue(broker, "j1")
        update = WorkerUpdate("w1", {"state": b"busy"}, {"done": 1, "busy_seconds": 0.5})
        claimed = broker.claim(["default"], {EXECUTION: b"e1"}, LEASE, worker=update)
        assert claimed is not None and claimed.job_id == "j1"
        record = _worker(broker)
        assert record is not None
        assert (record["state"], record[WORKER_CURRENT_JOB]) == (b"busy", b"j1")
        assert float(record["done"]) == 3
        assert float(record["busy_seconds"]) == 0.5, "a missing field counts as 0"

    def test_claim_names_the_claimed_job_whatever_the_fields_say(self, broker: Broker) -> None:
        broker.register_worker("w1", {}, ["default"], ttl=60)
        enqueue(broker, "j1")
        update = WorkerUpdate("w1", {WORKER_CURRENT_JOB: b"something else"})
        assert broker.claim(["default"], {EXECUTION: b"e1"}, LEASE, worker=update) is not None
        assert _worker(broker) == {WORKER_CURRENT_JOB: b"j1"}

    def test_a_claim_of_nothing_writes_nothing_on_the_worker(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        enqueue(broker, "gone", record_ttl=None)
        broker.delete_job("gone")  # its id stays queued: a claim drops it and finds nothing
        update = WorkerUpdate("w1", {"state": b"busy"}, {"done": 1})
        assert broker.claim(["default", "other"], {EXECUTION: b"e1"}, LEASE, worker=update) is None
        assert _worker(broker) == {"state": b"idle"}

    def test_a_claim_for_a_worker_without_a_record_claims_and_creates_none(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        update = WorkerUpdate("ghost", {"state": b"busy"}, {"done": 1})
        claimed = broker.claim(["default"], {EXECUTION: b"e1"}, LEASE, worker=update)
        assert claimed is not None and claimed.job_id == "j1"
        assert _worker(broker, "ghost") is None
        assert broker.worker_names() == []

    def test_a_blocked_claim_updates_the_worker_when_a_job_comes(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        outcome: list[Claimed | None] = []
        update = WorkerUpdate("w1", {"state": b"busy"})
        thread = threading.Thread(
            target=lambda: outcome.append(
                broker.claim(["default"], {EXECUTION: b"e1"}, LEASE, wait=30, worker=update)
            ),
            daemon=True,
        )
        thread.start()
        # Not updated while nothing was claimed, however long the claim waits.
        assert _worker(broker) == {"state": b"idle"}
        enqueue(broker, "j1")
        thread.join(10)
        assert not thread.is_alive(), "the blocked claim did not return"
        assert outcome and outcome[0] is not None and outcome[0].job_id == "j1"
        assert _worker(broker) == {"state": b"busy", WORKER_CURRENT_JOB: b"j1"}

    def test_transition_updates_the_worker(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"busy", WORKER_CURRENT_JOB: b"j1"}, ["default"], ttl=60)
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="e1")
        update = WorkerUpdate("w1", {"state": b"idle"}, {"done": 1, "busy_seconds": 0.25})
        assert broker.transition(_finish("j1", execution="e1", worker=update))
        record = _worker(broker)
        assert record is not None
        assert record["state"] == b"idle"
        assert (float(record["done"]), float(record["busy_seconds"])) == (1, 0.25)
        assert record[WORKER_CURRENT_JOB] == b"j1", "only a claim names a job"
        assert broker.registry_ids(FINISHED) == ["j1"]

    def test_a_refused_transition_does_not_update_the_worker(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"busy"}, ["default"], ttl=60)
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="e1")
        update = WorkerUpdate("w1", {"state": b"idle"}, {"done": 1})
        assert not broker.transition(_finish("j1", execution="stale", worker=update))
        assert not broker.transition(_finish("missing", worker=update))
        assert _worker(broker) == {"state": b"busy"}
        assert broker.registry_ids(STARTED) == ["j1"]

    def test_a_transition_for_a_worker_without_a_record_moves_and_creates_none(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1")
        assert broker.transition(_finish("j1", worker=WorkerUpdate("ghost", {"state": b"idle"}, {"n": 1})))
        assert broker.registry_ids(FINISHED) == ["j1"]
        assert _worker(broker, "ghost") is None
        assert broker.worker_names() == []

    def test_an_expired_worker_is_not_brought_back(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=1)
        assert wait_for(lambda: broker.worker_names() == [], timeout=30)
        enqueue(broker, "j1")
        update = WorkerUpdate("w1", {"state": b"busy"}, {"done": 1})
        assert broker.claim(["default"], {EXECUTION: b"e1"}, LEASE, worker=update) is not None
        assert broker.transition(_finish("j1", worker=update))
        assert _worker(broker) is None
        assert broker.worker_names() == []


class FinishAndClaimContract:
    """:meth:`Broker.finish_and_claim`: a transition and then a claim that never waits, whether or
    not the transition was refused, each with its own worker update."""

    def test_it_finishes_one_job_and_claims_the_next(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        enqueue(broker, "j2")
        start_job(broker, "j1", execution="e1")
        moved, claimed = broker.finish_and_claim(_finish("j1", execution="e1"), _claim("e2"))
        assert moved is True
        assert claimed is not None and (claimed.job_id, claimed.queue) == ("j2", "default")
        assert claimed.record[STATUS] == b"started" and claimed.record[EXECUTION] == b"e2"
        assert broker.registry_ids(FINISHED) == ["j1"]
        assert broker.registry_ids(STARTED) == ["j2"]
        assert broker.registry_score(STARTED, "j2") == LEASE
        assert broker.queue_length("default") == 0

    def test_the_claim_happens_when_the_transition_is_refused(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        enqueue(broker, "j2")
        start_job(broker, "j1", execution="e1")
        moved, claimed = broker.finish_and_claim(_finish("j1", execution="stale"), _claim("e2"))
        assert moved is False
        assert claimed is not None and claimed.job_id == "j2"
        assert sorted(broker.registry_ids(STARTED)) == ["j1", "j2"]
        assert broker.registry_count(FINISHED) == 0
        assert broker.load_job_fields("j1", [STATUS]) == [b"started"]

    def test_a_lease_given_as_a_function_is_computed_at_the_claim(self, broker: Broker) -> None:
        """A worker prepares its next claim before running a job: the lease must count from the
        claim, made after the job, not from when the request was prepared."""
        enqueue(broker, "j1")
        enqueue(broker, "j2")
        start_job(broker, "j1", execution="e1")
        calls: list[int] = []

        def lease() -> float:
            calls.append(1)
            return LEASE + len(calls)

        request = ClaimRequest(["default"], {EXECUTION: b"e2"}, lease)
        assert calls == []
        moved, claimed = broker.finish_and_claim(_finish("j1", execution="e1"), request)
        assert moved and claimed is not None and claimed.job_id == "j2"
        assert calls == [1]
        assert broker.registry_score(STARTED, "j2") == LEASE + 1

    def test_with_nothing_to_claim_it_returns_at_once(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1")
        assert broker.finish_and_claim(_finish("j1"), _claim()) == (True, None)
        assert broker.finish_and_claim(_finish("j1"), _claim()) == (False, None)
        assert broker.finish_and_claim(_finish("j1"), ClaimRequest([], {}, LEASE)) == (False, None)

    def test_the_claim_sees_what_the_transition_did(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "child", "children", fields=job_fields("children"), depends_on=["parent"])
        start_job(broker, "parent")
        moved, claimed = broker.finish_and_claim(_finish("parent"), _claim(queue="children"))
        assert moved and claimed is not None and claimed.job_id == "child"
        assert claimed.record["enqueued_at"] == b"now", "released, then claimed"

    def test_each_part_updates_the_worker(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"busy"}, ["default"], ttl=60)
        enqueue(broker, "j1")
        enqueue(broker, "j2")
        start_job(broker, "j1", execution="e1")
        finished = WorkerUpdate("w1", {"state": b"idle", "last_job": b"j1"}, {"done": 1})
        claiming = WorkerUpdate("w1", {"state": b"busy"}, {"claims": 1})
        moved, claimed = broker.finish_and_claim(
            _finish("j1", execution="e1", worker=finished), _claim(worker=claiming)
        )
        assert moved and claimed is not None
        record = _worker(broker)
        assert record is not None
        assert (record["state"], record["last_job"], record[WORKER_CURRENT_JOB]) == (b"busy", b"j1", b"j2")
        assert (float(record["done"]), float(record["claims"])) == (1, 1)

    def test_a_refused_part_does_not_update_the_worker(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"busy"}, ["default"], ttl=60)
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="e1")
        finished = WorkerUpdate("w1", {"finished": b"yes"}, {"done": 1})
        claiming = WorkerUpdate("w1", {"claimed": b"yes"}, {"claims": 1})
        moved, claimed = broker.finish_and_claim(
            _finish("j1", execution="stale", worker=finished), _claim(worker=claiming)
        )
        assert (moved, claimed) == (False, None)
        assert _worker(broker) == {"state": b"busy"}
        enqueue(broker, "j2")
        moved, claimed = broker.finish_and_claim(
            _finish("j1", execution="stale", worker=finished), _claim(worker=claiming)
        )
        assert not moved and claimed is not None
        assert _worker(broker) == {
            "state": b"busy",
            "claimed": b"yes",
            "claims": b"1",
            WORKER_CURRENT_JOB: b"j2",
        }
