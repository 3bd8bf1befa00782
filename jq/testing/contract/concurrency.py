"""Contract tests for blocking claims and for many threads sharing one broker."""

from __future__ import annotations

import threading
import time

from jq.broker import (
    EXECUTION,
    STATUS,
    Broker,
    Claimed,
    EnqueueRequest,
    Move,
    PlaceKind,
    RecordEdit,
    ToQueue,
    Transition,
)
from jq.testing.helpers import (
    JOIN_TIMEOUT,
    LEASE,
    ClaimInThread,
    end_job,
    enqueue,
    job_fields,
    place,
    run_threads,
    start_job,
    wait_for,
)

__all__ = ["BlockingClaimContract", "ConcurrencyContract"]


class BlockingClaimContract:
    """A claim with ``wait`` blocks until anything puts a job on one of its queues."""

    def test_blocked_claim_is_woken_by_an_enqueue(self, broker: Broker) -> None:
        waiter = ClaimInThread(broker, ["default"], wait=30)
        enqueue(broker, "j1")
        claimed = waiter.result(timeout=10)
        assert claimed is not None and claimed.job_id == "j1"
        assert broker.load_job_fields("j1", [STATUS, EXECUTION]) == [b"started", b"blocked"]

    def test_claim_fields_given_as_a_function_are_made_at_claim_time(self, broker: Broker) -> None:
        """A blocked claim calls the fields function for every attempt and writes what the last
        call returned: a job's started_at is when it was claimed, not when the wait began."""
        calls: list[int] = []

        def fields() -> dict[str, bytes]:
            calls.append(1)
            return {EXECUTION: str(len(calls)).encode()}

        outcome: list[Claimed | None] = []
        thread = threading.Thread(
            target=lambda: outcome.append(broker.claim(["default"], fields, LEASE, wait=30)), daemon=True
        )
        thread.start()
        assert wait_for(lambda: len(calls) >= 1, timeout=30)
        enqueue(broker, "j1")
        thread.join(10)
        assert outcome and outcome[0] is not None
        # Usually an attempt found nothing and a later one took the job; the first attempt may also
        # win if the enqueue overtook it. Either way the job carries the last call's fields.
        assert outcome[0].record[EXECUTION] == str(len(calls)).encode()
        assert broker.load_job_fields("j1", [EXECUTION]) == [str(len(calls)).encode()]

    def test_a_lease_given_as_a_function_is_computed_at_claim_time(self, broker: Broker) -> None:
        """A blocked claim computes the lease for every attempt and scores the job with what the
        last call returned: a lease counts from the claim, not from when the wait began."""
        calls: list[int] = []

        def lease() -> float:
            calls.append(1)
            return LEASE + len(calls)

        outcome: list[Claimed | None] = []
        thread = threading.Thread(
            target=lambda: outcome.append(broker.claim(["default"], {EXECUTION: b"e"}, lease, wait=30)),
            daemon=True,
        )
        thread.start()
        assert wait_for(lambda: len(calls) >= 1, timeout=30)
        enqueue(broker, "j1")
        thread.join(10)
        assert outcome and outcome[0] is not None and outcome[0].job_id == "j1"
        assert broker.registry_score(place(PlaceKind.STARTED), "j1") == LEASE + len(calls)

    def test_blocked_claim_listens_to_every_queue_it_was_given(self, broker: Broker) -> None:
        waiter = ClaimInThread(broker, ["high", "low"], wait=30)
        enqueue(broker, "j1", "low")
        claimed = waiter.result(timeout=10)
        assert claimed is not None and (claimed.job_id, claimed.queue) == ("j1", "low")

    def test_blocked_claim_is_not_taken_by_other_queues(self, broker: Broker) -> None:
        waiter = ClaimInThread(broker, ["mine"], wait=0.5)
        enqueue(broker, "j1", "theirs")
        assert waiter.result(timeout=10) is None
        assert broker.queue_job_ids("theirs") == ["j1"]

    def test_blocked_claim_is_woken_by_a_requeue(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields())
        broker.registry_add(place(PlaceKind.FAILED), "j1", 1.0)
        waiter = ClaimInThread(broker, ["default"], wait=30)
        requeue = Transition(
            "j1", Move(place(PlaceKind.FAILED), ToQueue("default")), RecordEdit({STATUS: b"queued"})
        )
        assert broker.transition(requeue)
        claimed = waiter.result(timeout=10)
        assert claimed is not None and claimed.job_id == "j1"

    def test_blocked_claim_is_woken_by_a_released_dependent(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        start_job(broker, "parent")
        enqueue(broker, "child", "children", fields=job_fields("children"), depends_on=["parent"])
        waiter = ClaimInThread(broker, ["children"], wait=30)
        assert end_job(broker, "parent")
        claimed = waiter.result(timeout=10)
        assert claimed is not None and (claimed.job_id, claimed.queue) == ("child", "children")

    def test_blocked_claim_is_woken_by_a_promotion(self, broker: Broker) -> None:
        enqueue(broker, "j1", scheduled_at=10.0)
        waiter = ClaimInThread(broker, ["default"], wait=30)
        assert broker.promote_scheduled("default", 20.0, {}) == ["j1"]
        claimed = waiter.result(timeout=10)
        assert claimed is not None and claimed.job_id == "j1"


class ConcurrencyContract:
    """Many threads on one broker: every job is claimed exactly once and none is lost."""

    def test_eight_claimers_take_four_hundred_jobs_exactly_once(self, broker: Broker) -> None:
        ids = [f"job-{n}" for n in range(400)]
        broker.enqueue_many([EnqueueRequest(job_id, "default", job_fields()) for job_id in ids])
        taken: list[list[str]] = [[] for _ in range(8)]

        def claimer(index: int) -> None:
            fields = {EXECUTION: f"claimer-{index}".encode()}
            while (claimed := broker.claim(["default"], fields, LEASE)) is not None:
                taken[index].append(claimed.job_id)

        run_threads(8, claimer)
        everything = [job_id for mine in taken for job_id in mine]
        assert sorted(everything) == sorted(ids)
        assert broker.queue_length("default") == 0
        assert broker.registry_count(place(PlaceKind.STARTED)) == 400
        for index, mine in enumerate(taken):
            for job_id in mine:
                assert broker.load_job_fields(job_id, [EXECUTION]) == [f"claimer-{index}".encode()]

    def test_producers_and_blocked_claimers_run_together(self, broker: Broker) -> None:
        producers, per_producer, claimers = 4, 100, 8
        total = producers * per_producer
        taken: list[str] = []
        lock = threading.Lock()

        def produce(index: int) -> None:
            for n in range(per_producer):
                enqueue(broker, f"p{index}-{n}")

        def claim(index: int) -> None:
            fields = {EXECUTION: f"c{index}".encode()}
            # A lost job would keep the claimers looping; stop them before the join gives up.
            deadline = time.monotonic() + JOIN_TIMEOUT / 2
            while time.monotonic() < deadline:
                with lock:
                    if len(taken) >= total:
                        return
                claimed = broker.claim(["default"], fields, LEASE, wait=0.2)
                if claimed is not None:
                    with lock:
                        taken.append(claimed.job_id)

        run_threads(producers + claimers, lambda n: produce(n) if n < producers else claim(n))
        expected = [f"p{i}-{n}" for i in range(producers) for n in range(per_producer)]
        assert sorted(taken) == sorted(expected)
        assert broker.queue_length("default") == 0
