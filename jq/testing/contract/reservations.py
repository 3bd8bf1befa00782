"""Contract tests for reservations (:meth:`jq.broker.Broker.reserve`, the ``reserved`` and
``reserve`` arguments of a claim) and for :meth:`jq.broker.Broker.transition_many`."""

from __future__ import annotations

import math

import pytest

from jq.broker import (
    EXECUTION,
    RATE_LIMIT_CONCURRENCY,
    RATE_LIMIT_KEY,
    STATUS,
    WORKER_CURRENT_JOB,
    Broker,
    ClaimRequest,
    DependentsPolicy,
    Move,
    PlaceKind,
    RecordEdit,
    Reservation,
    Settlement,
    ToQueue,
    ToRegistry,
    Transition,
    WorkerUpdate,
)
from jq.testing.helpers import LEASE, enqueue, job_fields, place, start_job

__all__ = ["ReservationContract", "TransitionManyContract"]

STARTED = place(PlaceKind.STARTED)
FINISHED = place(PlaceKind.FINISHED)
RESERVED = place(PlaceKind.RESERVED)


def _status(broker: Broker, job_id: str) -> bytes | None:
    record = broker.load_job(job_id)
    return None if record is None else record.get(STATUS)


def _fill(broker: Broker, count: int, queue: str = "default", prefix: str = "j") -> list[str]:
    ids = [f"{prefix}{n}" for n in range(count)]
    for job_id in ids:
        enqueue(broker, job_id, queue)
    return ids


def _execution_ids(count: int, prefix: str = "r") -> list[str]:
    return [f"{prefix}{n}" for n in range(count)]


def _give_back(reservation: Reservation) -> Transition:
    """What a worker sends to give a reservation back: to the front of its queue, without its
    execution id, guarded by it."""
    return Transition(
        reservation.job_id,
        Move(place(PlaceKind.RESERVED, reservation.queue), ToQueue(reservation.queue, at_front=True)),
        RecordEdit(delete_fields=(EXECUTION,)),
        execution_id=reservation.execution_id,
    )


def _finish(job_id: str, execution: str) -> Transition:
    return Transition(
        job_id,
        Move(STARTED, ToRegistry(FINISHED, math.inf)),
        RecordEdit({STATUS: b"finished"}),
        settlement=Settlement(DependentsPolicy.FINISHED),
        released_fields={"enqueued_at": b"now"},
        execution_id=execution,
    )


class ReservationContract:
    """Reserved jobs stay queued, off their queue's listing and out of the started registry, under
    a lease in the reserved registry; a claim starts them in order, or gives them back when a job
    of a queue listed before theirs comes first; every call that takes a job out of its queue
    takes a reserved one too."""

    @pytest.fixture(autouse=True)
    def _needs_reservations(self, broker: Broker) -> None:
        if not broker.supports_reservations:
            pytest.skip("this broker does not reserve jobs")

    def test_reserve_takes_jobs_in_queue_order_without_starting_them(self, broker: Broker) -> None:
        ids = _fill(broker, 5)
        reserved = broker.reserve(["default"], _execution_ids(3), LEASE)
        assert [r.job_id for r in reserved] == ids[:3]
        assert [r.execution_id for r in reserved] == ["r0", "r1", "r2"]
        assert all(r.queue == "default" for r in reserved)
        assert broker.queue_job_ids("default") == ids[3:]
        assert broker.registry_ids(RESERVED) == ids[:3], "the registry lists them in the order reserved"
        assert broker.registry_count(STARTED) == 0
        for r in reserved:
            record = broker.load_job(r.job_id)
            assert record is not None and record[STATUS] == b"queued", "a reserved job is not started"
            assert record[EXECUTION] == r.execution_id.encode()
        scores = [broker.registry_score(RESERVED, job_id) or 0.0 for job_id in ids[:3]]
        assert scores == sorted(scores) and scores[0] >= LEASE

    def test_reserve_goes_through_the_queues_in_priority_order(self, broker: Broker) -> None:
        high = _fill(broker, 2, "high", "h")
        low = _fill(broker, 3, "low", "l")
        reserved = broker.reserve(["high", "low"], _execution_ids(4), LEASE)
        assert [(r.queue, r.job_id) for r in reserved] == [("high", high[0]), ("high", high[1]),
                                                             ("low", low[0]), ("low", low[1])]  # fmt: skip
        assert broker.queue_job_ids("low") == low[2:]
        assert broker.reserve(["high", "low"], _execution_ids(4, "s"), LEASE)[0].job_id == low[2]
        assert broker.reserve(["high", "low"], _execution_ids(1, "t"), LEASE) == []

    def test_reserve_drops_ids_of_jobs_gone_or_elsewhere_and_stops_at_a_corrupt_record(
        self, broker: Broker
    ) -> None:
        ids = _fill(broker, 4)
        broker.delete_job(ids[0])  # its id stays on the queue
        broker.update_job(ids[1], {STATUS: b"finished"})  # it lives elsewhere now
        broker.update_job(ids[3], {STATUS: b"mystery"})  # corrupt
        reserved = broker.reserve(["default"], _execution_ids(4), LEASE)
        assert [r.job_id for r in reserved] == [ids[2]]
        assert broker.queue_job_ids("default") == [ids[3]], "a corrupt record is left for a claim to fail"

    def test_a_claim_starts_the_callers_reservations_in_order(self, broker: Broker) -> None:
        ids = _fill(broker, 3)
        broker.register_worker("w1", {}, ["default"], ttl=60)
        reserved = broker.reserve(["default"], _execution_ids(2), LEASE)
        worker = WorkerUpdate("w1", {"state": b"busy"})
        claimed = broker.claim(["default"], {EXECUTION: b"x1"}, LEASE, worker=worker, reserved=reserved)
        assert claimed is not None and claimed.job_id == ids[0] and claimed.from_reserved == 1
        assert claimed.record[STATUS] == b"started" and claimed.record[EXECUTION] == b"x1"
        assert claimed.prior_status == b"queued"
        assert broker.registry_ids(STARTED) == [ids[0]]
        assert broker.registry_ids(RESERVED) == [ids[1]]
        assert broker.queue_job_ids("default") == [ids[2]], "the queue's own ids wait behind reservations"
        [record] = broker.load_workers(["w1"])
        assert record is not None and record[WORKER_CURRENT_JOB] == ids[0].encode()
        following = broker.claim(
            ["default"], {EXECUTION: b"x2"}, LEASE, reserved=reserved[claimed.from_reserved :]
        )
        assert following is not None and (following.job_id, following.from_reserved) == (ids[1], 1)

    def test_a_claim_skips_reservations_no_longer_held(self, broker: Broker) -> None:
        ids = _fill(broker, 3)
        reserved = broker.reserve(["default"], _execution_ids(3), LEASE)
        broker.transition(Transition(ids[0], Move(place(PlaceKind.QUEUE)), RecordEdit({STATUS: b"canceled"})))
        broker.transition(_give_back(reserved[1]))  # back on the queue: another worker may take it
        claimed = broker.claim(["default"], {EXECUTION: b"x"}, LEASE, reserved=reserved)
        assert claimed is not None and (claimed.job_id, claimed.from_reserved) == (ids[2], 3)
        assert broker.queue_job_ids("default") == [ids[1]]

    def test_a_job_of_a_queue_listed_first_gives_every_reservation_back(self, broker: Broker) -> None:
        low = _fill(broker, 4, "low", "l")
        reserved = broker.reserve(["high", "low"], _execution_ids(3), LEASE)
        enqueue(broker, "h0", "high")
        claimed = broker.claim(["high", "low"], {EXECUTION: b"x"}, LEASE, reserved=reserved)
        assert claimed is not None and (claimed.job_id, claimed.from_reserved) == ("h0", 0)
        assert broker.queue_job_ids("low") == low, "given back to the front, in order"
        assert broker.registry_count(place(PlaceKind.RESERVED, "low")) == 0
        for job_id in low[:3]:
            record = broker.load_job(job_id)
            assert record is not None and EXECUTION not in record and record[STATUS] == b"queued"

    def test_a_claim_reserves_more_from_a_deep_queue_only(self, broker: Broker) -> None:
        ids = _fill(broker, 4)
        claimed = broker.claim(["default"], {EXECUTION: b"x"}, LEASE, reserve=_execution_ids(3))
        assert claimed is not None and claimed.job_id == ids[0]
        assert [(r.job_id, r.execution_id) for r in claimed.reservations] == [
            (ids[1], "r0"), (ids[2], "r1"), (ids[3], "r2")
        ]  # fmt: skip
        record = broker.load_job(ids[1])
        assert record is not None and record[EXECUTION] == b"r0"
        assert broker.queue_length("default") == 0
        shallow_ids = _fill(broker, 3, "other", "k")
        shallow = broker.claim(["other"], {EXECUTION: b"y"}, LEASE, reserve=_execution_ids(3, "s"))
        assert shallow is not None and shallow.job_id == shallow_ids[0]
        assert shallow.reservations == (), "two jobs left of three asked for: not deep enough"
        assert broker.queue_job_ids("other") == shallow_ids[1:]

    def test_with_nothing_to_claim_the_caller_holds_nothing(self, broker: Broker) -> None:
        _fill(broker, 1)
        reserved = broker.reserve(["default"], _execution_ids(1), LEASE)
        broker.delete_job(reserved[0].job_id, [place(PlaceKind.QUEUE)])
        assert broker.claim(["default"], {EXECUTION: b"x"}, LEASE, reserved=reserved) is None
        assert broker.claim(["default"], {EXECUTION: b"x"}, LEASE, 0.05, reserved=reserved) is None

    def test_moves_out_of_a_queue_take_a_reserved_job(self, broker: Broker) -> None:
        ids = _fill(broker, 4)
        reserved = broker.reserve(["default"], _execution_ids(4), LEASE)
        to_canceled = Move(place(PlaceKind.QUEUE), ToRegistry(place(PlaceKind.CANCELED), 1.0))
        canceled = Transition(ids[0], to_canceled, RecordEdit({STATUS: b"canceled"}))
        assert broker.transition(canceled)
        assert broker.delete_job(ids[1], [place(PlaceKind.QUEUE)])
        enqueue(broker, ids[2])  # replaced: the new job is queued, the reservation is over
        assert broker.registry_ids(RESERVED) == [ids[3]]
        assert broker.queue_job_ids("default") == [ids[2]]
        claimed = broker.claim(["default"], {EXECUTION: b"x"}, LEASE, reserved=reserved)
        assert claimed is not None and (claimed.job_id, claimed.from_reserved) == (ids[3], 4)

    def test_emptying_a_queue_deletes_its_reserved_jobs(self, broker: Broker) -> None:
        ids = _fill(broker, 3)
        broker.reserve(["default"], _execution_ids(2), LEASE)
        assert broker.empty_queue("default") == 3
        assert broker.registry_count(RESERVED) == 0
        assert all(broker.load_job(job_id) is None for job_id in ids)
        _fill(broker, 2, prefix="k")
        broker.reserve(["default"], _execution_ids(1), LEASE)
        broker.delete_queue("default", delete_jobs=False)
        assert broker.registry_count(RESERVED) == 0 and broker.queue_length("default") == 0

    def test_giving_back_several_reservations_in_one_call(self, broker: Broker) -> None:
        ids = _fill(broker, 4)
        reserved = broker.reserve(["default"], _execution_ids(3), LEASE)
        start_job(broker, ids[3])
        stale = Reservation(ids[3], "default", "not-its-execution")
        moved, claimed = broker.transition_many([_give_back(r) for r in reversed([*reserved, stale])])
        assert moved == [False, True, True, True] and claimed is None
        assert broker.queue_job_ids("default") == ids[:3]
        assert broker.registry_count(RESERVED) == 0
        assert _status(broker, ids[3]) == b"started"

    def test_several_reservations_start_in_one_call(self, broker: Broker) -> None:
        ids = _fill(broker, 3)
        reserved = broker.reserve(["default"], _execution_ids(3), LEASE)
        broker.transition(_give_back(reserved[1]))  # over: its start is refused, the others go on

        def start(reservation: Reservation) -> Transition:
            return Transition(
                reservation.job_id,
                Move(RESERVED, ToRegistry(STARTED, LEASE)),
                RecordEdit(
                    {STATUS: b"started", EXECUTION: b"run-" + reservation.job_id.encode()}, record_ttl=-1
                ),
                execution_id=reservation.execution_id,
            )

        moved, _ = broker.transition_many([start(r) for r in reserved])
        assert moved == [True, False, True]
        assert broker.registry_ids(STARTED) == [ids[0], ids[2]] and broker.registry_count(RESERVED) == 0
        assert broker.queue_job_ids("default") == [ids[1]]

    def test_finish_and_claim_starts_the_next_reservation(self, broker: Broker) -> None:
        ids = _fill(broker, 3)
        first = broker.claim(["default"], {EXECUTION: b"x0"}, LEASE, reserve=_execution_ids(2))
        assert first is not None and len(first.reservations) == 2
        request = ClaimRequest(["default"], {EXECUTION: b"x1"}, LEASE, reserved=first.reservations)
        moved, claimed = broker.finish_and_claim(_finish(ids[0], "x0"), request)
        assert moved and claimed is not None and (claimed.job_id, claimed.from_reserved) == (ids[1], 1)
        assert _status(broker, ids[0]) == b"finished"
        assert broker.registry_ids(STARTED) == [ids[1]] and broker.registry_ids(RESERVED) == [ids[2]]

    def test_a_reserved_job_keeps_its_rate_limit_slot(self, broker: Broker) -> None:
        if not broker.supports_rate_limits:
            pytest.skip("this broker does not enforce rate limits")
        limited = job_fields("default", **{RATE_LIMIT_KEY: b"api", RATE_LIMIT_CONCURRENCY: b"2"})
        for job_id in ("a", "b", "c"):
            enqueue(broker, job_id, fields=limited)
        reserved = broker.reserve(["default"], _execution_ids(2), LEASE)
        assert broker.rate_limit_job_ids("api") == ["a", "b"]
        assert broker.rate_limit_job_ids("api", waiting=True) == ["c"]
        broker.transition_many([_give_back(r) for r in reversed(reserved)])
        assert broker.queue_job_ids("default") == ["a", "b"]
        assert broker.rate_limit_job_ids("api") == ["a", "b"], "given back, still holding their slots"


class TransitionManyContract:
    """Several transitions in one call, each made or refused on its own, then maybe a claim."""

    def test_each_change_is_made_or_refused_on_its_own(self, broker: Broker) -> None:
        ids = _fill(broker, 3)
        for job_id in ids:
            start_job(broker, job_id)
        broker.register_worker("w1", {"done": b"0"}, ["default"], ttl=60)
        count = WorkerUpdate("w1", increments={"done": 1})
        changes = [
            Transition(ids[0], _finish(ids[0], "x-" + ids[0]).move, RecordEdit({STATUS: b"finished"}),
                       execution_id="x-" + ids[0], worker=count),
            _finish(ids[1], "stale"),
            Transition(ids[2], _finish(ids[2], "x-" + ids[2]).move, RecordEdit({STATUS: b"finished"}),
                       execution_id="x-" + ids[2], worker=count),
        ]  # fmt: skip
        moved, claimed = broker.transition_many(changes)
        assert moved == [True, False, True] and claimed is None
        assert [_status(broker, job_id) for job_id in ids] == [b"finished", b"started", b"finished"]
        [worker] = broker.load_workers(["w1"])
        assert worker is not None and float(worker["done"]) == 2, "a refused change updates no worker"

    def test_a_later_change_sees_an_earlier_one(self, broker: Broker) -> None:
        enqueue(broker, "j")
        to_started = Transition("j", Move(place(PlaceKind.QUEUE), ToRegistry(STARTED, LEASE)),
                                RecordEdit({STATUS: b"started", EXECUTION: b"e"}))  # fmt: skip
        moved, _ = broker.transition_many([to_started, _finish("j", "e")])
        assert moved == [True, True] and _status(broker, "j") == b"finished"

    def test_then_a_claim(self, broker: Broker) -> None:
        ids = _fill(broker, 2)
        start_job(broker, ids[0])
        moved, claimed = broker.transition_many(
            [_finish(ids[0], "x-" + ids[0])], ClaimRequest(["default"], {EXECUTION: b"n"}, LEASE)
        )
        assert moved == [True] and claimed is not None and claimed.job_id == ids[1]
        moved, claimed = broker.transition_many([], ClaimRequest(["default"], {EXECUTION: b"m"}, LEASE))
        assert moved == [] and claimed is None
