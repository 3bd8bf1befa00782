"""Jobs waiting for others, end to end on every driver: batches that hold parents and children,
delayed children, and parents that are deleted, expire or are canceled without being kept.
"""

from __future__ import annotations

import datetime
import time

import pytest

from jq import Queue, SimpleWorker
from jq.dependency import Dependency
from jq.exceptions import NoSuchJobError
from jq.job import Job
from jq.scheduler import Scheduler
from jq.testing.helpers import wait_for
from jq.worker.maintenance import Maintenance
from tests import fixtures

DAY = datetime.timedelta(days=1)


@pytest.fixture
def queue(broker):
    """The default queue of the driver under test."""
    return Queue(connection=broker)


def run_burst(queue: Queue) -> bool:
    """Run every queued job with an in-process worker."""
    return SimpleWorker([queue]).work(burst=True)


def exists(queue: Queue, job_id: str) -> bool:
    return Job.exists(job_id, connection=queue.broker)


def nothing_stored(queue: Queue, *job_ids: str) -> bool:
    """No job, no queued id, no known queue, no registry entry."""
    registries = (
        queue.deferred_job_registry,
        queue.scheduled_job_registry,
        queue.canceled_job_registry,
        queue.finished_job_registry,
    )
    return (
        not any(exists(queue, job_id) for job_id in job_ids)
        and len(queue) == 0
        and queue.broker.queue_names() == []
        and all(registry.count == 0 for registry in registries)
    )


class TestBatches:
    """enqueue_many is all or nothing; an id listed earlier in a batch counts as existing."""

    def test_one_missing_dependency_writes_nothing_of_the_batch(self, queue):
        batch = [
            Queue.prepare_data(fixtures.add, (1, 1), job_id="ok1"),
            Queue.prepare_data(fixtures.add, (2, 2), depends_on="missing"),
            Queue.prepare_data(fixtures.add, (3, 3), job_id="ok3"),
        ]
        with pytest.raises(NoSuchJobError, match=r"missing.*nothing was enqueued"):
            queue.enqueue_many(batch)
        assert nothing_stored(queue, "ok1", "ok3")

    def test_a_parent_listed_before_its_child(self, queue):
        parent, child = queue.enqueue_many(
            [
                Queue.prepare_data(fixtures.add, (1, 1), job_id="parent"),
                Queue.prepare_data(fixtures.add, (2, 2), job_id="child", depends_on="parent"),
            ]
        )
        assert (parent.get_status(), child.get_status()) == ("queued", "deferred")
        run_burst(queue)
        assert child.result == 4
        fetch = Job.fetch
        assert (
            fetch("child", connection=queue.broker).started_at
            >= fetch("parent", connection=queue.broker).ended_at
        )

    def test_a_child_listed_before_its_parent_refuses_the_batch(self, queue):
        batch = [
            Queue.prepare_data(fixtures.add, (2, 2), job_id="child", depends_on="parent"),
            Queue.prepare_data(fixtures.add, (1, 1), job_id="parent"),
        ]
        with pytest.raises(NoSuchJobError, match="parent"):
            queue.enqueue_many(batch)
        assert nothing_stored(queue, "parent", "child")


class TestDelayedChildren:
    """A delayed job with a dependency keeps its time when its dependency finishes."""

    def test_a_child_due_later_is_scheduled_when_its_parent_finishes(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        due = datetime.datetime.now(datetime.timezone.utc) + DAY
        child = queue.enqueue_in(DAY, fixtures.add, 2, 2, depends_on=parent)
        assert child.get_status() == "deferred"
        run_burst(queue)
        assert parent.get_status() == "finished"
        assert child.get_status() == "scheduled"
        assert child.id not in queue.job_ids
        when = queue.scheduled_job_registry.get_scheduled_time(child)
        assert abs((when - due).total_seconds()) < 60
        # Its time comes: the scheduler queues it, and it runs.
        assert Scheduler([queue]).tick(now=time.time() + DAY.total_seconds() + 60) == 1
        run_burst(queue)
        assert child.result == 4

    def test_a_child_already_due_is_queued_when_its_parent_finishes(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
        child = queue.enqueue_at(past, fixtures.add, 2, 2, depends_on=parent)
        assert child.get_status() == "deferred"
        run_burst(queue)
        assert child.result == 4

    def test_a_tolerant_delayed_child_of_a_failed_parent_keeps_its_time(self, queue):
        parent = queue.enqueue(fixtures.div_by_zero, 1)
        child = queue.enqueue_in(
            DAY, fixtures.add, 2, 2, depends_on=Dependency(jobs=[parent], allow_failure=True)
        )
        run_burst(queue)
        assert child.get_status() == "scheduled"


class TestDeletedParents:
    """Deleting a parent counts as a failure for the jobs waiting for it, in the same step."""

    def test_children_that_allow_failure_are_released_the_others_canceled(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        tolerant = queue.enqueue(fixtures.add, 2, 2, depends_on=Dependency(jobs=[parent], allow_failure=True))
        strict = queue.enqueue(fixtures.add, 3, 3, depends_on=parent)
        grandchild = queue.enqueue(fixtures.add, 4, 4, depends_on=strict)
        parent.delete()
        assert not exists(queue, parent.id)
        assert tolerant.get_status() == "queued"
        assert strict.get_status() == "canceled"
        assert grandchild.get_status() == "canceled"
        run_burst(queue)
        assert tolerant.result == 4

    def test_a_child_enqueued_while_its_parent_is_deleted_does_not_wait_forever(self, queue, monkeypatch):
        from jq import lifecycle

        parent = queue.enqueue(fixtures.add, 1, 1)
        listed = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        late: list[Job] = []
        list_dependents = lifecycle._waiting_dependents

        def list_then_enqueue(job: Job) -> list[Job]:
            found = list_dependents(job)
            if job.id == parent.id:  # a child arrives after the listing, before the delete
                late.append(queue.enqueue(fixtures.add, 3, 3, depends_on=parent))
            return found

        monkeypatch.setattr(lifecycle, "_waiting_dependents", list_then_enqueue)
        parent.delete(delete_dependents=True)
        assert not exists(queue, listed.id)
        assert late[0].get_status() == "canceled"
        assert queue.deferred_job_registry.count == 0


class TestExpiredParents:
    """A parent whose record expired before it ran: its children do not wait forever."""

    def test_maintenance_cancels_or_releases_children_of_an_expired_parent(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1, ttl=1)
        strict = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        grandchild = queue.enqueue(fixtures.add, 3, 3, depends_on=strict)
        tolerant = queue.enqueue(fixtures.add, 4, 4, depends_on=Dependency(jobs=[parent], allow_failure=True))
        other = queue.enqueue(fixtures.add, 5, 5)
        waiting = queue.enqueue(fixtures.add, 6, 6, depends_on=[parent, other])
        assert wait_for(lambda: not exists(queue, parent.id), timeout=30)
        assert strict.get_status() == "deferred"
        worker = SimpleWorker([queue], name="maintainer")
        Maintenance(worker, interval=60).clean_registries()
        assert strict.get_status() == "canceled"
        assert grandchild.get_status() == "canceled"
        assert waiting.get_status() == "canceled"
        assert tolerant.get_status() == "queued"
        assert queue.deferred_job_registry.count == 0
        run_burst(queue)
        assert tolerant.result == 8

    def test_the_deferred_registry_cleanup_settles_orphans_only(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1, ttl=1)
        orphan = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        alive = queue.enqueue(fixtures.add, 3, 3)
        waiting = queue.enqueue(fixtures.add, 4, 4, depends_on=alive)
        assert wait_for(lambda: not exists(queue, parent.id), timeout=30)
        assert queue.deferred_job_registry.cleanup() == [orphan.id]
        assert orphan.get_status() == "canceled"
        assert waiting.get_status() == "deferred"
        assert queue.deferred_job_registry.get_job_ids() == [waiting.id]


class TestCanceledNotKept:
    """failure_ttl=0 means a canceled job is not kept, whoever cancels it."""

    def test_cancel_with_failure_ttl_zero_deletes_the_job_and_settles_its_children(self, queue):
        job = queue.enqueue(fixtures.add, 1, 1, failure_ttl=0)
        strict = queue.enqueue(fixtures.add, 2, 2, depends_on=job)
        tolerant = queue.enqueue(fixtures.add, 3, 3, depends_on=Dependency(jobs=[job], allow_failure=True))
        job.cancel()
        assert job.get_status(refresh=False) == "canceled"
        assert not exists(queue, job.id)
        assert job.id not in queue.canceled_job_registry
        assert job.id not in queue.job_ids
        assert strict.get_status() == "canceled"
        assert tolerant.get_status() == "queued"

    def test_a_child_with_failure_ttl_zero_canceled_by_the_cascade_is_gone_too(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent, failure_ttl=0)
        parent.cancel()
        assert not exists(queue, child.id)
        kept = queue.enqueue(fixtures.add, 3, 3, failure_ttl=-1)
        kept.cancel()
        assert queue.canceled_job_registry.get_expiration_time(kept) is None
        assert exists(queue, kept.id)
