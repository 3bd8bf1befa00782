"""Contract tests for how waiting jobs are settled beyond a parent's finish or failure: a delayed
dependent keeps its time."""

from __future__ import annotations

import time
from dataclasses import replace

from jq.broker import (
    SCHEDULED_AT,
    STATUS,
    Broker,
    DependentsPolicy,
    PlaceKind,
    Transition,
)
from jq.testing.helpers import end_job, enqueue, job_fields, place, start_job

__all__ = ["ScheduledReleaseContract"]

DEFERRED = place(PlaceKind.DEFERRED)
SCHEDULED = place(PlaceKind.SCHEDULED)
RELEASED = {"enqueued_at": b"released"}


def _status(broker: Broker, job_id: str) -> bytes | None:
    fields = broker.load_job_fields(job_id, [STATUS])
    return None if fields is None else fields[0]


class ScheduledReleaseContract:
    """A deferred job enqueued with ``scheduled_at`` is scheduled, not queued, when released before
    its time."""

    def _child(self, broker: Broker, scheduled_at: float, *, tolerant: bool = False) -> None:
        enqueue(broker, "parent")
        start_job(broker, "parent")
        fields = job_fields(allow_dependency_failures=b"1") if tolerant else job_fields()
        outcome = enqueue(
            broker,
            "child",
            fields=fields,
            depends_on=["parent"],
            scheduled_at=scheduled_at,
            allow_failure=tolerant,
        )
        assert outcome.status == "deferred"

    def test_enqueue_keeps_the_time_in_the_record(self, broker: Broker) -> None:
        self._child(broker, 1000.0)
        enqueue(broker, "plain", scheduled_at=1234.5)
        assert broker.load_job_fields("child", [SCHEDULED_AT]) == [b"1000.0"]
        assert broker.load_job_fields("plain", [SCHEDULED_AT]) == [b"1234.5"]

    def test_released_before_its_time_it_is_scheduled(self, broker: Broker) -> None:
        self._child(broker, 1000.0)
        assert end_job(broker, "parent", released_fields=RELEASED, now=500.0)
        assert broker.load_job_fields("child", [STATUS, "enqueued_at"]) == [b"scheduled", b"released"]
        assert broker.registry_score(SCHEDULED, "child") == 1000.0
        assert broker.queue_job_ids("default") == []
        assert broker.registry_count(DEFERRED) == 0
        assert broker.promote_scheduled("default", 999.0, {}) == []
        assert broker.promote_scheduled("default", 1000.0, {}) == ["child"]

    def test_released_at_or_after_its_time_it_is_queued(self, broker: Broker) -> None:
        self._child(broker, 1000.0)
        assert end_job(broker, "parent", now=1000.0)
        assert _status(broker, "child") == b"queued"
        assert broker.queue_job_ids("default") == ["child"]
        assert broker.registry_count(SCHEDULED) == 0

    def test_released_by_a_failure_it_allows_it_is_scheduled(self, broker: Broker) -> None:
        self._child(broker, 1000.0, tolerant=True)
        assert end_job(broker, "parent", status="failed", now=500.0)
        assert _status(broker, "child") == b"scheduled"

    def test_without_now_the_brokers_clock_decides(self, broker: Broker) -> None:
        self._child(broker, time.time() + 3600)
        change = Transition(
            "parent",
            place(PlaceKind.STARTED),
            place(PlaceKind.FINISHED),
            fields={STATUS: b"finished"},
            dependents=DependentsPolicy.FINISHED,
        )
        assert broker.transition(change)
        assert _status(broker, "child") == b"scheduled"
        enqueue(broker, "late", depends_on=["child"], scheduled_at=time.time() - 60)
        broker.promote_scheduled("default", time.time() + 7200, {})
        start_job(broker, "child")
        assert broker.transition(replace(change, job_id="child", target=None))
        assert _status(broker, "late") == b"queued"
