"""Contract tests for the FAILED dependents policy: dependents that do not allow failure are
canceled, kept for their ``failure_ttl``, and the cancellation cascades down the chain."""

from __future__ import annotations

import math

from jq.broker import ALLOW_FAILURE, STATUS, Broker, DependentsPolicy, PlaceKind, Transition
from jq.testing.helpers import ClaimInThread, end_job, enqueue, job_fields, place, start_job, wait_for

__all__ = ["CancellationContract", "DependentsListContract"]

NOW = 1000.0
CANCELED_FIELDS = {"ended_at": b"then", STATUS: b"deferred"}


def _running(broker: Broker, job_id: str = "parent") -> None:
    enqueue(broker, job_id)
    start_job(broker, job_id)


def _deferred(
    broker: Broker, job_id: str, depends_on: list[str], queue: str = "default", /, **fields: bytes
) -> None:
    allow = fields.get(ALLOW_FAILURE) == b"1"
    outcome = enqueue(
        broker, job_id, queue, fields=job_fields(queue, **fields), depends_on=depends_on, allow_failure=allow
    )
    assert outcome.status == "deferred", outcome


def _fail(broker: Broker, job_id: str = "parent", *, default_failure_ttl: int = 100) -> None:
    assert end_job(
        broker,
        job_id,
        status="failed",
        canceled_fields=CANCELED_FIELDS,
        released_fields={"enqueued_at": b"now"},
        default_failure_ttl=default_failure_ttl,
        now=NOW,
    )


def _is_canceled(broker: Broker, job_id: str, queue: str = "default") -> bool:
    return (
        broker.load_job_fields(job_id, [STATUS]) == [b"canceled"]
        and broker.registry_score(place(PlaceKind.CANCELED, queue), job_id) is not None
        and broker.registry_score(place(PlaceKind.DEFERRED, queue), job_id) is None
    )


class CancellationContract:
    """A failure cancels every deferred dependent that does not allow failure, down the chain."""

    def test_failure_cancels_a_dependent_that_does_not_allow_it(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], "reports", failure_ttl=b"50")
        _fail(broker)
        record = broker.load_job("child")
        assert record is not None
        assert (record[STATUS], record["ended_at"]) == (b"canceled", b"then"), "status written last"
        assert "enqueued_at" not in record, "released fields are for released dependents"
        assert broker.registry_score(place(PlaceKind.CANCELED, "reports"), "child") == NOW + 50
        assert broker.registry_count(place(PlaceKind.DEFERRED, "reports")) == 0
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 0, "its own origin's registry"
        ttl = broker.job_ttl("child")
        assert ttl is not None and 49 < ttl <= 50
        assert broker.queue_length("reports") == 0

    def test_failure_releases_tolerant_dependents_and_cancels_the_others(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "strict", ["parent"])
        _deferred(broker, "tolerant", ["parent"], **{ALLOW_FAILURE: b"1"})
        _fail(broker)
        assert broker.queue_job_ids("default") == ["tolerant"]
        assert broker.load_job_fields("tolerant", [STATUS, "enqueued_at"]) == [b"queued", b"now"]
        assert _is_canceled(broker, "strict")

    def test_default_failure_ttl_applies_without_a_field(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "odd", ["parent"], failure_ttl=b"soon")
        _fail(broker, default_failure_ttl=30)
        for job_id in ("child", "odd"):
            assert broker.registry_score(place(PlaceKind.CANCELED), job_id) == NOW + 30
            ttl = broker.job_ttl(job_id)
            assert ttl is not None and 29 < ttl <= 30

    def test_negative_failure_ttl_keeps_the_canceled_dependent_forever(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], failure_ttl=b"-1")
        _deferred(broker, "child2", ["parent"])
        _fail(broker, default_failure_ttl=-1)
        for job_id in ("child", "child2"):
            assert broker.registry_score(place(PlaceKind.CANCELED), job_id) == math.inf
            assert broker.job_ttl(job_id) is None

    def test_zero_failure_ttl_deletes_the_canceled_dependent(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], failure_ttl=b"0")
        _deferred(broker, "grandchild", ["child"])
        _fail(broker)
        assert not broker.job_exists("child")
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 1
        assert broker.registry_count(place(PlaceKind.DEFERRED)) == 0
        assert _is_canceled(broker, "grandchild"), "its dependents were settled before it went"
        assert broker.dependent_ids("child") == []

    def test_canceled_dependent_expires_with_its_results(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], failure_ttl=b"1")
        assert broker.transition(Transition("child", None, None, result=b"earlier"))
        _fail(broker)
        assert broker.load_results("child") == [b"earlier"]
        assert wait_for(lambda: not broker.job_exists("child"), timeout=30)
        assert broker.load_results("child") == []

    def test_cancellation_cascades_two_levels_deep(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "grandchild", ["child"], "other", failure_ttl=b"-1")
        _deferred(broker, "great-grandchild", ["grandchild"], failure_ttl=b"7")
        _fail(broker)
        assert _is_canceled(broker, "child")
        assert _is_canceled(broker, "grandchild", "other")
        assert _is_canceled(broker, "great-grandchild")
        assert broker.registry_score(place(PlaceKind.CANCELED, "other"), "grandchild") == math.inf
        assert broker.registry_score(place(PlaceKind.CANCELED), "great-grandchild") == NOW + 7
        assert broker.load_job_fields("great-grandchild", ["ended_at"]) == [b"then"]
        for job_id in ("parent", "child", "grandchild"):
            assert broker.dependent_ids(job_id) == [], job_id

    def test_a_long_chain_is_canceled_to_its_end(self, broker: Broker) -> None:
        _running(broker, "link-0")
        for n in range(1, 120):
            _deferred(broker, f"link-{n}", [f"link-{n - 1}"])
        _fail(broker, "link-0")
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 119
        assert broker.registry_count(place(PlaceKind.DEFERRED)) == 0

    def test_tolerant_grandchild_of_a_canceled_child_is_released(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "grandchild", ["child"], "other", **{ALLOW_FAILURE: b"1"})
        waiter = ClaimInThread(broker, ["other"], wait=30)
        _fail(broker)
        assert _is_canceled(broker, "child")
        claimed = waiter.result(timeout=10)
        assert claimed is not None and (claimed.job_id, claimed.queue) == ("grandchild", "other")
        assert broker.load_job_fields("grandchild", ["enqueued_at"]) == [b"now"]

    def test_tolerant_grandchild_still_waits_for_its_other_dependencies(self, broker: Broker) -> None:
        _running(broker)
        _running(broker, "other-parent")
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "grandchild", ["child", "other-parent"], **{ALLOW_FAILURE: b"1"})
        _fail(broker)
        assert broker.load_job_fields("grandchild", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("child") == []
        assert end_job(broker, "other-parent")
        assert broker.queue_job_ids("default") == ["grandchild"]

    def test_a_dependent_not_deferred_is_not_canceled(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        broker.update_job("child", {STATUS: b"scheduled"})
        _fail(broker)
        assert broker.load_job_fields("child", [STATUS]) == [b"scheduled"]
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 0
        assert broker.dependent_ids("parent") == []

    def test_canceled_dependent_is_not_released_by_its_other_dependency(self, broker: Broker) -> None:
        _running(broker)
        _running(broker, "other-parent")
        _deferred(broker, "child", ["parent", "other-parent"])
        _fail(broker)
        assert _is_canceled(broker, "child")
        assert end_job(broker, "other-parent")
        assert broker.load_job_fields("child", [STATUS]) == [b"canceled"]
        assert broker.queue_length("default") == 0
        assert broker.dependent_ids("other-parent") == []

    def test_a_canceled_job_cancels_its_dependents_too(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        _deferred(broker, "child", ["parent"])
        cancel = Transition(
            "parent",
            place(PlaceKind.QUEUE),
            place(PlaceKind.CANCELED),
            score=math.inf,
            fields={STATUS: b"canceled"},
            dependents=DependentsPolicy.FAILED,
            canceled_fields=CANCELED_FIELDS,
            now=NOW,
        )
        assert broker.transition(cancel)
        assert _is_canceled(broker, "child")

    def test_refused_failure_cancels_nothing(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        assert not end_job(broker, "parent", status="failed", execution="stale")
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("parent") == ["child"]


class DependentsListContract:
    """Under FINISHED and FAILED every dependent leaves the job's list of dependents."""

    def _family(self, broker: Broker) -> None:
        _running(broker)
        _running(broker, "other-parent")
        _deferred(broker, "waiting", ["parent"])
        _deferred(broker, "two-parents", ["parent", "other-parent"])
        _deferred(broker, "tolerant", ["parent"], **{ALLOW_FAILURE: b"1"})
        _deferred(broker, "moved-on", ["parent"])
        broker.update_job("moved-on", {STATUS: b"queued"})
        _deferred(broker, "deleted", ["parent"])
        broker.delete_job("deleted", [place(PlaceKind.DEFERRED)])
        assert broker.dependent_ids("parent") == ["deleted", "moved-on", "tolerant", "two-parents", "waiting"]

    def test_finishing_empties_the_list(self, broker: Broker) -> None:
        self._family(broker)
        assert end_job(broker, "parent")
        assert broker.dependent_ids("parent") == []
        assert sorted(broker.queue_job_ids("default")) == ["tolerant", "waiting"]
        assert broker.load_job_fields("two-parents", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("other-parent") == ["two-parents"]

    def test_failing_empties_the_list(self, broker: Broker) -> None:
        self._family(broker)
        _fail(broker)
        assert broker.dependent_ids("parent") == []
        assert broker.queue_job_ids("default") == ["tolerant"]
        assert _is_canceled(broker, "waiting")
        assert _is_canceled(broker, "two-parents")
        assert broker.load_job_fields("moved-on", [STATUS]) == [b"queued"]
        assert not broker.job_exists("deleted")
