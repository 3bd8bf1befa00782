"""Contract tests for :meth:`jq.broker.Broker.claim_many`: several jobs claimed as started in one
call, as that many claims made one after the other would claim them."""

from __future__ import annotations

import pytest

from jq.broker import (
    EXECUTION,
    STATUS,
    WORKER_CURRENT_JOB,
    Broker,
    ClaimRequest,
    PlaceKind,
    WorkerUpdate,
)
from jq.testing.helpers import LEASE, enqueue, place

__all__ = ["ClaimManyContract"]


def _fill(broker: Broker, count: int, queue: str = "default", prefix: str = "j") -> list[str]:
    ids = [f"{prefix}{n}" for n in range(count)]
    for job_id in ids:
        enqueue(broker, job_id, queue)
    return ids


def _request(*queues: str, worker: WorkerUpdate | None = None) -> ClaimRequest:
    return ClaimRequest(list(queues or ["default"]), {EXECUTION: b"ignored", "worker_name": b"w"}, LEASE,
                        worker=worker)  # fmt: skip


class ClaimManyContract:
    """Several claims in one call: every job returned is started under its own execution id, in
    queue order and the priority order of the queues listed; the worker update is made once."""

    def test_each_job_is_started_with_its_own_execution(self, broker: Broker) -> None:
        ids = _fill(broker, 5)
        claimed = broker.claim_many(_request(), ["e0", "e1", "e2"])
        assert [item.job_id for item in claimed] == ids[:3]
        assert [item.record[EXECUTION] for item in claimed] == [b"e0", b"e1", b"e2"]
        assert all(
            item.record[STATUS] == b"started" and item.record["worker_name"] == b"w" for item in claimed
        )
        assert all(item.queue == "default" and item.prior_status == b"queued" for item in claimed)
        for item in claimed:
            assert broker.load_job_fields(item.job_id, [STATUS, EXECUTION]) == [
                b"started",
                item.record[EXECUTION],
            ]
        assert broker.registry_ids(place(PlaceKind.STARTED)) == ids[:3]
        assert broker.queue_job_ids("default") == ids[3:]
        assert broker.registry_count(place(PlaceKind.RESERVED)) == 0, "nothing held back unstarted"

    def test_it_stops_when_the_queues_are_empty(self, broker: Broker) -> None:
        ids = _fill(broker, 2)
        claimed = broker.claim_many(_request(), ["e0", "e1", "e2", "e3"])
        assert [item.job_id for item in claimed] == ids
        assert broker.claim_many(_request(), ["e4", "e5"]) == []
        assert broker.claim_many(_request(), []) == []

    def test_the_first_queue_listed_goes_first(self, broker: Broker) -> None:
        low = _fill(broker, 3, "low", prefix="l")
        high = _fill(broker, 2, "high", prefix="h")
        claimed = broker.claim_many(_request("high", "low"), [f"e{n}" for n in range(4)])
        assert [(item.queue, item.job_id) for item in claimed] == [
            ("high", high[0]), ("high", high[1]), ("low", low[0]), ("low", low[1]),
        ]  # fmt: skip
        assert broker.queue_job_ids("low") == low[2:]
        assert broker.registry_ids(place(PlaceKind.STARTED, "low")) == low[:2]

    def test_ids_that_cannot_be_claimed_are_dropped_as_a_claim_drops_them(self, broker: Broker) -> None:
        _fill(broker, 4)
        broker.delete_job("j1")
        record = broker.load_job("j2")
        assert record is not None
        record[STATUS] = b"canceled"
        broker.save_job("j2", record)
        claimed = broker.claim_many(_request(), ["e0", "e1", "e2"])
        assert [item.job_id for item in claimed] == ["j0", "j3"]
        assert [item.record[EXECUTION] for item in claimed] == [b"e0", b"e1"]

    def test_a_corrupt_record_is_claimed_with_its_status_reported(self, broker: Broker) -> None:
        _fill(broker, 2)
        record = broker.load_job("j0")
        assert record is not None
        record[STATUS] = b"weird"
        broker.save_job("j0", record)
        claimed = broker.claim_many(_request(), ["e0", "e1"])
        assert [(item.job_id, item.prior_status) for item in claimed] == [("j0", b"weird"), ("j1", b"queued")]

    def test_the_worker_update_names_every_job_claimed(self, broker: Broker) -> None:
        _fill(broker, 3)
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        update = WorkerUpdate("w1", {"state": b"busy", "running_jobs": b"old"})
        claimed = broker.claim_many(_request(worker=update), ["e0", "e1", "e2"], list_field="running_jobs")
        assert len(claimed) == 3
        [worker] = broker.load_workers(["w1"])
        assert worker is not None and worker["state"] == b"busy"
        assert worker[WORKER_CURRENT_JOB] == b"j2"
        assert worker["running_jobs"] == b"old,j0,j1"

    def test_an_empty_list_field_gets_the_ids(self, broker: Broker) -> None:
        _fill(broker, 2)
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        update = WorkerUpdate("w1", {"running_jobs": b""})
        broker.claim_many(_request(worker=update), ["e0", "e1"], list_field="running_jobs")
        [worker] = broker.load_workers(["w1"])
        assert worker is not None and (worker["running_jobs"], worker[WORKER_CURRENT_JOB]) == (b"j0", b"j1")

    def test_no_job_no_worker_update(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        update = WorkerUpdate("w1", {"state": b"busy"})
        assert broker.claim_many(_request(worker=update), ["e0"]) == []
        [worker] = broker.load_workers(["w1"])
        assert worker is not None and worker["state"] == b"idle"

    def test_reservations_are_refused(self, broker: Broker) -> None:
        request = ClaimRequest(["default"], {}, LEASE, reserve=["r0"])
        with pytest.raises(ValueError, match="without reservations"):
            broker.claim_many(request, ["e0"])
