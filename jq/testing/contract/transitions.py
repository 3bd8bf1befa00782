"""Contract tests for registries, transitions, dependents release and scheduled promotion."""

from __future__ import annotations

import math

from jq.broker import (
    ALLOW_FAILURE,
    ENQUEUE_AT_FRONT,
    EXECUTION,
    KEEP,
    PERSIST,
    RESULTS_KEPT,
    STATUS,
    Broker,
    DependentsPolicy,
    PlaceKind,
    Transition,
)
from jq.testing.helpers import end_job, enqueue, job_fields, place, start_job, wait_for

__all__ = [
    "DependentsContract",
    "RegistryContract",
    "ResultsLifetimeContract",
    "SchedulingContract",
    "TransitionContract",
]

STARTED = place(PlaceKind.STARTED)
FINISHED = place(PlaceKind.FINISHED)
FAILED = place(PlaceKind.FAILED)
DEFERRED = place(PlaceKind.DEFERRED)
SCHEDULED = place(PlaceKind.SCHEDULED)
QUEUE = place(PlaceKind.QUEUE)


class RegistryContract:
    """Registries: ids ordered by ascending score, per kind and per queue, with cleanup."""

    def test_registry_ids_ascend_by_score(self, broker: Broker) -> None:
        for job_id, score in (("c", 3.0), ("a", 1.0), ("b", 2.0)):
            broker.registry_add(FAILED, job_id, score)
        assert broker.registry_ids(FAILED) == ["a", "b", "c"]
        broker.registry_add(FAILED, "a", 4.0)
        assert broker.registry_ids(FAILED) == ["b", "c", "a"]
        assert broker.registry_count(FAILED) == 3

    def test_registry_ids_take_inclusive_ranges(self, broker: Broker) -> None:
        for score, job_id in enumerate("abcde"):
            broker.registry_add(FINISHED, job_id, float(score))
        assert broker.registry_ids(FINISHED, 1, 2) == ["b", "c"]
        assert broker.registry_ids(FINISHED, -2, -1) == ["d", "e"]
        assert broker.registry_ids(FINISHED, 3, 100) == ["d", "e"]
        assert broker.registry_ids(FINISHED, 2, 1) == []

    def test_registry_keeps_infinite_scores_last(self, broker: Broker) -> None:
        broker.registry_add(FINISHED, "forever", math.inf)
        broker.registry_add(FINISHED, "soon", 10.0)
        assert broker.registry_ids(FINISHED) == ["soon", "forever"]
        assert broker.registry_score(FINISHED, "forever") == math.inf

    def test_registry_score_and_remove(self, broker: Broker) -> None:
        broker.registry_add(STARTED, "j1", 12.5)
        assert broker.registry_score(STARTED, "j1") == 12.5
        assert broker.registry_score(STARTED, "nope") is None
        assert broker.registry_remove(STARTED, "j1")
        assert not broker.registry_remove(STARTED, "j1")
        assert broker.registry_count(STARTED) == 0

    def test_registries_are_separate_per_kind_and_queue(self, broker: Broker) -> None:
        broker.registry_add(place(PlaceKind.FAILED, "a"), "j1", 1.0)
        assert broker.registry_count(place(PlaceKind.FAILED, "b")) == 0
        assert broker.registry_count(place(PlaceKind.FINISHED, "a")) == 0
        assert broker.registry_count(place(PlaceKind.FAILED, "a")) == 1

    def test_registry_add_has_no_other_effect(self, broker: Broker) -> None:
        broker.registry_add(FAILED, "j1", 1.0)
        assert not broker.job_exists("j1")
        assert broker.queue_names() == []
        assert broker.queue_length("default") == 0

    def test_registry_update_score_changes_only_an_id_that_is_there(self, broker: Broker) -> None:
        assert broker.registry_update_score(FINISHED, "j1", 5.0) is False
        assert broker.registry_score(FINISHED, "j1") is None
        broker.registry_add(FINISHED, "j1", 1.0)
        assert broker.registry_update_score(FINISHED, "j1", 1.0) is True  # an unchanged score too
        assert broker.registry_update_score(FINISHED, "j1", math.inf) is True
        assert broker.registry_score(FINISHED, "j1") == math.inf
        assert broker.registry_count(FINISHED) == 1

    def test_registry_expired_lists_without_removing(self, broker: Broker) -> None:
        for job_id, score in (("c", 3.0), ("a", 1.0), ("b", 2.0)):
            broker.registry_add(STARTED, job_id, score)
        assert broker.registry_expired(STARTED, 2.0) == ["a", "b"]
        assert broker.registry_count(STARTED) == 3

    def test_registry_cleanup_removes_and_returns_what_expired(self, broker: Broker) -> None:
        for job_id, score in (("c", 3.0), ("a", 1.0), ("b", 2.0)):
            broker.registry_add(STARTED, job_id, score)
        assert broker.registry_cleanup(STARTED, 2.0) == ["a", "b"]
        assert broker.registry_ids(STARTED) == ["c"]
        assert broker.registry_cleanup(STARTED, 2.0) == []


class TransitionContract:
    """Transition: moves, record writes, results, TTLs, and refusals that write nothing."""

    def test_transition_moves_the_job_and_writes_its_record(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        moved = broker.transition(
            Transition(
                "j1",
                source=QUEUE,
                target=STARTED,
                score=55.0,
                fields={STATUS: b"started", "worker": b"w1"},
                delete_fields=["created_at", "absent"],
            )
        )
        assert moved
        assert broker.queue_length("default") == 0
        assert broker.registry_score(STARTED, "j1") == 55.0
        record = broker.load_job("j1")
        assert record is not None and "created_at" not in record
        assert (record[STATUS], record["worker"]) == (b"started", b"w1")

    def test_transition_to_a_queue_goes_to_the_back_or_the_front(self, broker: Broker) -> None:
        enqueue(broker, "waiting")
        for job_id in ("back", "front"):
            broker.save_job(job_id, job_fields())
            broker.registry_add(FAILED, job_id, 1.0)
        assert broker.transition(Transition("back", FAILED, QUEUE, fields={STATUS: b"queued"}))
        assert broker.transition(
            Transition("front", FAILED, QUEUE, at_front=True, fields={STATUS: b"queued"})
        )
        assert broker.queue_job_ids("default") == ["front", "waiting", "back"]
        assert broker.registry_count(FAILED) == 0

    def test_transition_from_no_place_and_to_no_place(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields())
        assert broker.transition(Transition("j1", source=None, target=FAILED, score=3.0))
        assert broker.registry_ids(FAILED) == ["j1"]
        assert broker.transition(Transition("j1", source=FAILED, target=None))
        assert broker.registry_count(FAILED) == 0
        assert broker.job_exists("j1")

    def test_a_transition_with_no_places_only_writes_the_record(self, broker: Broker) -> None:
        """Neither place given: the job stays where it is; fields, a result and an expiry are
        written (how ``Result.save`` and ``Job.cleanup`` write a queued job's record)."""
        enqueue(broker, "j1")
        change = Transition(
            "j1", source=None, target=None, fields={"note": b"x"}, result=b"r1", record_ttl=300
        )
        assert broker.transition(change)
        assert broker.queue_job_ids("default") == ["j1"]
        assert broker.load_job_fields("j1", [STATUS, "note"]) == [b"queued", b"x"]
        assert broker.load_results("j1") == [b"r1"]
        ttl = broker.job_ttl("j1")
        assert ttl is not None and 250 < ttl <= 300

    def test_transition_of_a_missing_record_is_refused(self, broker: Broker) -> None:
        broker.registry_add(STARTED, "ghost", 1.0)
        assert not broker.transition(Transition("ghost", STARTED, FINISHED, fields={STATUS: b"finished"}))
        assert broker.registry_ids(STARTED) == ["ghost"]
        assert broker.registry_count(FINISHED) == 0
        assert not broker.job_exists("ghost")

    def test_transition_from_the_wrong_place_is_refused_and_writes_nothing(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        before = broker.load_job("j1")
        refused = Transition(
            "j1",
            source=STARTED,
            target=FINISHED,
            fields={STATUS: b"finished"},
            delete_fields=["data"],
            result=b"r",
            record_ttl=0,
            dependents=DependentsPolicy.FINISHED,
        )
        assert not broker.transition(refused)
        assert broker.load_job("j1") == before
        assert broker.queue_job_ids("default") == ["j1"]
        assert broker.registry_count(FINISHED) == 0
        assert broker.load_results("j1") == []

    def test_transition_of_a_stale_execution_is_refused_and_writes_nothing(self, broker: Broker) -> None:
        enqueue(broker, "j1", record_ttl=100)
        start_job(broker, "j1", execution="current")
        before = broker.load_job("j1")
        stale = Transition(
            "j1",
            source=STARTED,
            target=FAILED,
            fields={STATUS: b"failed"},
            result=b"late",
            record_ttl=5,
            execution_id="stale",
        )
        assert not broker.transition(stale)
        assert broker.load_job("j1") == before
        assert broker.registry_ids(STARTED) == ["j1"]
        assert broker.registry_count(FAILED) == 0
        assert broker.load_results("j1") == []
        assert broker.job_ttl("j1") is None

    def test_transition_of_the_current_execution_is_accepted(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="current")
        assert broker.transition(Transition("j1", STARTED, FINISHED, execution_id="current"))
        assert broker.registry_ids(FINISHED) == ["j1"]

    def test_transition_with_an_execution_id_needs_one_on_the_record(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields())
        assert not broker.transition(Transition("j1", None, FINISHED, execution_id="any"))
        assert broker.registry_count(FINISHED) == 0

    def test_results_are_newest_first_and_capped(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields())
        for n in range(RESULTS_KEPT + 2):
            assert broker.transition(Transition("j1", None, None, result=f"r{n}".encode()))
        expected = [f"r{n}".encode() for n in range(RESULTS_KEPT + 1, 1, -1)]
        assert broker.load_results("j1") == expected

    def test_a_transition_may_keep_more_or_fewer_results(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields())
        for n in range(RESULTS_KEPT + 5):
            assert broker.transition(Transition("j1", None, None, result=b"r%d" % n, results_kept=100))
        assert len(broker.load_results("j1")) == RESULTS_KEPT + 5
        assert broker.transition(Transition("j1", None, None, result=b"last", results_kept=2))
        assert broker.load_results("j1") == [b"last", b"r%d" % (RESULTS_KEPT + 4)]

    def test_record_ttl_keep_leaves_the_expiry_alone(self, broker: Broker) -> None:
        broker.save_job("brief", job_fields(), record_ttl=100)
        broker.save_job("kept", job_fields())
        for job_id in ("brief", "kept"):
            assert broker.transition(Transition(job_id, None, FINISHED, record_ttl=KEEP))
        assert broker.job_ttl("brief") is not None
        assert broker.job_ttl("kept") is None

    def test_record_ttl_persist_removes_the_expiry(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields(), record_ttl=100)
        assert broker.transition(Transition("j1", None, FINISHED, record_ttl=PERSIST, result=b"r"))
        assert broker.job_ttl("j1") is None
        assert broker.load_results("j1") == [b"r"]

    def test_positive_record_ttl_expires_the_record_and_its_results(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields())
        assert broker.transition(Transition("j1", None, FINISHED, math.inf, result=b"r", record_ttl=1))
        ttl = broker.job_ttl("j1")
        assert ttl is not None and 0 < ttl <= 1
        assert wait_for(lambda: broker.load_job("j1") is None, timeout=30)
        assert broker.load_results("j1") == []

    def test_record_ttl_zero_deletes_the_record_after_the_move(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1")
        assert broker.transition(Transition("j1", STARTED, FINISHED, 9.0, result=b"r", record_ttl=0))
        assert broker.load_job("j1") is None
        assert broker.load_results("j1") == []
        assert broker.registry_count(STARTED) == 0
        assert broker.registry_ids(FINISHED) == ["j1"]


class ResultsLifetimeContract:
    """A job's results share its record's expiry: whatever sets or removes one does the other.

    Each test gives record and results a 1 s expiry, then removes the record's expiry another way,
    and checks the results outlive a witness record given the same 1 s expiry afterwards.
    """

    def _expiring_with_a_result(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        assert broker.transition(Transition("j1", QUEUE, FAILED, 1.0, result=b"r", record_ttl=1))

    def _outlive_a_witness(self, broker: Broker) -> None:
        broker.save_job("witness", job_fields(), record_ttl=1)
        assert wait_for(lambda: not broker.job_exists("witness"), timeout=30)
        assert broker.job_exists("j1")
        assert broker.load_results("j1") == [b"r"]

    def test_results_stay_when_save_removes_the_expiry(self, broker: Broker) -> None:
        self._expiring_with_a_result(broker)
        broker.save_job("j1", job_fields(), record_ttl=None)
        self._outlive_a_witness(broker)

    def test_results_stay_when_enqueue_removes_the_expiry(self, broker: Broker) -> None:
        self._expiring_with_a_result(broker)
        assert broker.registry_remove(FAILED, "j1")
        assert enqueue(broker, "j1").status == "queued"
        self._outlive_a_witness(broker)

    def test_results_of_a_claimed_job_never_expire(self, broker: Broker) -> None:
        self._expiring_with_a_result(broker)
        assert broker.transition(Transition("j1", FAILED, QUEUE, fields={STATUS: b"queued"}))
        assert broker.claim(["default"], {EXECUTION: b"again"}, 1.0) is not None
        self._outlive_a_witness(broker)

    def test_results_stay_when_a_transition_persists_the_record(self, broker: Broker) -> None:
        self._expiring_with_a_result(broker)
        assert broker.transition(
            Transition("j1", FAILED, QUEUE, fields={STATUS: b"queued"}, record_ttl=PERSIST)
        )
        self._outlive_a_witness(broker)


class DependentsContract:
    """Releasing deferred dependents when a job finishes or fails (DependentsPolicy).

    What a failure or a vanished job does to its dependents: :mod:`.cancellation`.
    """

    def _parent_and_child(
        self, broker: Broker, child_queue: str = "default", /, **child_fields: bytes
    ) -> None:
        enqueue(broker, "parent")
        start_job(broker, "parent")
        allow = child_fields.get(ALLOW_FAILURE) == b"1"
        fields = job_fields(child_queue, **child_fields)
        outcome = enqueue(
            broker, "child", child_queue, fields=fields, depends_on=["parent"], allow_failure=allow
        )
        assert outcome.status == "deferred"

    def test_finishing_releases_a_deferred_dependent(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        assert end_job(broker, "parent", released_fields={"enqueued_at": b"now"})
        record = broker.load_job("child")
        assert record is not None
        assert (record[STATUS], record["enqueued_at"]) == (b"queued", b"now")
        assert broker.queue_job_ids("default") == ["child"]
        assert broker.registry_count(DEFERRED) == 0

    def test_released_status_is_queued_whatever_released_fields_say(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        assert end_job(broker, "parent", released_fields={STATUS: b"deferred", "note": b"x"})
        assert broker.load_job_fields("child", [STATUS, "note"]) == [b"queued", b"x"]

    def test_expired_job_forgets_who_was_waiting_on_it(self, broker: Broker) -> None:
        enqueue(broker, "parent", record_ttl=1)
        enqueue(broker, "child", depends_on=["parent"])
        assert wait_for(lambda: not broker.job_exists("parent"), timeout=30)
        # A new job under the same id starts with no dependents, as after delete_job.
        enqueue(broker, "parent")
        start_job(broker, "parent")
        assert end_job(broker, "parent")
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.queue_length("default") == 0

    def test_dependent_waits_for_every_dependency(self, broker: Broker) -> None:
        for parent in ("p1", "p2"):
            enqueue(broker, parent)
            start_job(broker, parent)
        enqueue(broker, "child", depends_on=["p1", "p2"])
        assert end_job(broker, "p1")
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.queue_length("default") == 0
        assert end_job(broker, "p2")
        assert broker.queue_job_ids("default") == ["child"]

    def test_released_dependent_goes_to_the_front_when_asked(self, broker: Broker) -> None:
        self._parent_and_child(broker, **{ENQUEUE_AT_FRONT: b"1"})
        enqueue(broker, "waiting")
        assert end_job(broker, "parent")
        assert broker.queue_job_ids("default") == ["child", "waiting"]

    def test_released_dependent_goes_to_the_back_by_default(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        enqueue(broker, "waiting")
        assert end_job(broker, "parent")
        assert broker.queue_job_ids("default") == ["waiting", "child"]

    def test_released_dependent_goes_to_its_own_queue(self, broker: Broker) -> None:
        self._parent_and_child(broker, "reports")
        assert end_job(broker, "parent")
        assert broker.queue_job_ids("reports") == ["child"]
        assert broker.queue_length("default") == 0
        assert broker.registry_count(place(PlaceKind.DEFERRED, "reports")) == 0

    def test_failure_releases_dependents_that_allow_it_and_leaves_the_others(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        tolerant = job_fields(**{ALLOW_FAILURE: b"1"})
        enqueue(broker, "tolerant", fields=tolerant, depends_on=["parent"], allow_failure=True)
        assert end_job(broker, "parent", status="failed")
        assert broker.queue_job_ids("default") == ["tolerant"]
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.registry_ids(DEFERRED) == ["child"]
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 0

    def test_released_dependents_leave_the_list(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        assert broker.dependent_ids("parent") == ["child"]
        assert end_job(broker, "parent")
        assert broker.dependent_ids("parent") == []

    def test_a_failed_job_requeued_and_finished_releases_the_waiting_ones(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        tolerant = job_fields(**{ALLOW_FAILURE: b"1"})
        enqueue(broker, "tolerant", fields=tolerant, depends_on=["parent"], allow_failure=True)
        assert end_job(broker, "parent", status="failed")
        assert broker.dependent_ids("parent") == ["child"]
        # Requeued and finished this time: the child that waited is released, once.
        assert broker.transition(Transition("parent", FAILED, QUEUE, fields={STATUS: b"queued"}))
        start_job(broker, "tolerant")
        start_job(broker, "parent")
        assert end_job(broker, "parent")
        assert broker.queue_job_ids("default") == ["child"]
        assert broker.dependent_ids("parent") == []

    def test_dependent_ids(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        for child in ("c2", "c1"):
            enqueue(broker, child, depends_on=["parent"])
        assert broker.dependent_ids("parent") == ["c1", "c2"]
        assert broker.dependent_ids("nobody") == []

    def test_policy_none_releases_nothing_and_keeps_the_list(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        assert end_job(broker, "parent", policy=DependentsPolicy.NONE)
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.queue_length("default") == 0
        assert broker.transition(
            Transition("parent", FINISHED, FINISHED, dependents=DependentsPolicy.FINISHED)
        )
        assert broker.queue_job_ids("default") == ["child"]

    def test_dependent_whose_record_is_gone_is_not_queued(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        broker.delete_job("child")
        assert end_job(broker, "parent")
        assert broker.queue_length("default") == 0
        assert not broker.job_exists("child")

    def test_dependent_no_longer_deferred_is_not_moved(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        broker.update_job("child", {STATUS: b"canceled"})
        assert end_job(broker, "parent")
        assert broker.queue_length("default") == 0
        assert broker.load_job_fields("child", [STATUS]) == [b"canceled"]

    def test_dependents_are_released_before_a_zero_ttl_deletes_the_job(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        done = Transition("parent", STARTED, None, record_ttl=0, dependents=DependentsPolicy.FINISHED)
        assert broker.transition(done)
        assert not broker.job_exists("parent")
        assert broker.queue_job_ids("default") == ["child"]

    def test_refused_transition_releases_nothing(self, broker: Broker) -> None:
        self._parent_and_child(broker)
        stale = Transition(
            "parent", STARTED, FINISHED, execution_id="stale", dependents=DependentsPolicy.FINISHED
        )
        assert not broker.transition(stale)
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.load_job_fields("parent", [EXECUTION]) == [b"x-parent"]


class SchedulingContract:
    """promote_scheduled: due jobs move to the back of the queue in score order, up to a limit;
    those whose record says ``enqueue_at_front`` to its front."""

    def test_a_job_enqueued_at_front_goes_to_the_front(self, broker: Broker) -> None:
        enqueue(broker, "already")
        enqueue(broker, "back", scheduled_at=10.0)
        enqueue(broker, "front", fields={**job_fields(), ENQUEUE_AT_FRONT: b"1"}, scheduled_at=20.0)
        assert broker.promote_scheduled("default", 50.0, {}) == ["back", "front"]
        assert broker.queue_job_ids("default") == ["front", "already", "back"]

    def test_due_jobs_are_queued_in_score_order(self, broker: Broker) -> None:
        enqueue(broker, "already")
        for job_id, due in (("a", 30.0), ("b", 10.0), ("c", 20.0), ("later", 100.0)):
            enqueue(broker, job_id, scheduled_at=due)
        promoted = broker.promote_scheduled("default", 50.0, {"enqueued_at": b"now"})
        assert promoted == ["b", "c", "a"]
        assert broker.queue_job_ids("default") == ["already", "b", "c", "a"]
        assert broker.registry_ids(SCHEDULED) == ["later"]
        for job_id in promoted:
            assert broker.load_job_fields(job_id, [STATUS, "enqueued_at"]) == [b"queued", b"now"]
        assert broker.load_job_fields("later", [STATUS]) == [b"scheduled"]

    def test_a_job_due_exactly_now_is_due(self, broker: Broker) -> None:
        enqueue(broker, "j1", scheduled_at=50.0)
        assert broker.promote_scheduled("default", 50.0, {}) == ["j1"]

    def test_without_now_jobs_are_due_by_the_stores_clock(self, broker: Broker) -> None:
        now = broker.now()
        enqueue(broker, "due", scheduled_at=now - 1)
        enqueue(broker, "later", scheduled_at=now + 3600)
        assert broker.promote_scheduled("default", None, {}) == ["due"]
        assert broker.registry_ids(SCHEDULED) == ["later"]

    def test_nothing_due_promotes_nothing(self, broker: Broker) -> None:
        enqueue(broker, "j1", scheduled_at=50.0)
        assert broker.promote_scheduled("default", 49.0, {}) == []
        assert broker.promote_scheduled("empty", 49.0, {}) == []
        assert broker.registry_ids(SCHEDULED) == ["j1"]

    def test_promotion_stops_at_the_limit(self, broker: Broker) -> None:
        for n in range(5):
            enqueue(broker, f"j{n}", scheduled_at=float(n))
        assert broker.promote_scheduled("default", 100.0, {}, limit=2) == ["j0", "j1"]
        assert broker.registry_ids(SCHEDULED) == ["j2", "j3", "j4"]
        assert broker.queue_job_ids("default") == ["j0", "j1"]

    def test_dropped_ids_do_not_use_up_the_limit(self, broker: Broker) -> None:
        for n in range(3):
            enqueue(broker, f"j{n}", scheduled_at=float(n))
        broker.delete_job("j0")
        assert broker.promote_scheduled("default", 10.0, {}, limit=1) == ["j1"]
        assert broker.registry_ids(SCHEDULED) == ["j2"]

    def test_promoted_status_is_queued_whatever_the_fields_say(self, broker: Broker) -> None:
        enqueue(broker, "j1", scheduled_at=1.0)
        assert broker.promote_scheduled("default", 10.0, {STATUS: b"scheduled"}) == ["j1"]
        assert broker.load_job_fields("j1", [STATUS]) == [b"queued"]

    def test_ids_whose_record_is_gone_are_dropped(self, broker: Broker) -> None:
        enqueue(broker, "gone", scheduled_at=1.0)
        enqueue(broker, "kept", scheduled_at=2.0)
        broker.delete_job("gone")
        assert broker.promote_scheduled("default", 10.0, {}) == ["kept"]
        assert broker.registry_count(SCHEDULED) == 0
        assert broker.queue_job_ids("default") == ["kept"]
