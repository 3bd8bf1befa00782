"""Jobs waiting for others, end to end on every driver, by RQ's rules: a failed, stopped, canceled
or deleted parent leaves its dependents deferred; requeued and successful, it releases them;
``cancel(enqueue_dependents=True)`` releases them. jq's one addition: once a parent's record is
gone (deleted, or expired after its ``failure_ttl``), a worker's maintenance cancels the jobs still
waiting for it (releasing those that allow failure), so that nothing waits forever.

Also: batches that hold parents and children, delayed children, unknown dependencies, and the
seed scenario S-11 with a real worker process.
"""

from __future__ import annotations

import datetime
import signal
import time

import fakeredis
import pytest
import redis

from jq import Queue, SimpleWorker
from jq.broker import Broker
from jq.dependency import Dependency
from jq.exceptions import InvalidJobDependency
from jq.job import Job, cancel_job, requeue_job
from jq.scheduler import Scheduler
from jq.testing.helpers import wait_for
from jq.worker.maintenance import Maintenance
from jq_backends.memory import MemoryBroker
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.processes import start_worker, stop

DAY = datetime.timedelta(days=1)


def run_burst(queue: Queue) -> bool:
    """Run every queued job with an in-process worker."""
    return SimpleWorker([queue]).work(burst=True)


def maintain(queue: Queue) -> None:
    """One pass of a worker's maintenance on ``queue`` (what settles jobs left waiting)."""
    worker = SimpleWorker([queue], name="maintainer")
    Maintenance(worker.name, worker.broker, worker.queues, interval=60, reporter=worker).clean_registries()


def exists(queue: Queue, job_id: str) -> bool:
    return Job.exists(job_id, connection=queue.broker)


def family(queue: Queue, parent: Job) -> tuple[Job, Job, Job]:
    """A strict child of ``parent``, its grandchild, and a child that allows the parent to fail."""
    strict = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
    grandchild = queue.enqueue(fixtures.add, 3, 3, depends_on=strict)
    tolerant = queue.enqueue(fixtures.add, 4, 4, depends_on=Dependency(jobs=[parent], allow_failure=True))
    return strict, grandchild, tolerant


class TestBatches:
    """enqueue_many is all or nothing; a job may depend on one listed before or after it."""

    def test_an_unknown_dependency_counts_as_met(self, queue):
        first, second = queue.enqueue_many(
            [
                Queue.prepare_data(fixtures.add, (1, 1), job_id="ok1"),
                Queue.prepare_data(fixtures.add, (2, 2), depends_on="missing"),
            ]
        )
        assert (first.get_status(), second.get_status()) == ("queued", "queued")
        run_burst(queue)
        assert second.result == 4

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

    def test_a_child_listed_before_its_parent_waits_for_it(self, queue):
        child, parent = queue.enqueue_many(
            [
                Queue.prepare_data(fixtures.add, (2, 2), job_id="child", depends_on="parent"),
                Queue.prepare_data(fixtures.add, (1, 1), job_id="parent"),
            ]
        )
        assert (child.get_status(), parent.get_status()) == ("deferred", "queued")
        run_burst(queue)
        assert child.result == 4
        assert child.get_status() == "finished"


class TestUnknownDependencies:
    """B6: depending on an id that has no job is no error, as in RQ: that dependency is met."""

    def test_a_job_depending_only_on_unknown_ids_is_queued(self, queue):
        job = queue.enqueue(fixtures.add, 1, 2, depends_on=["nope", "nada"])
        assert job.get_status() == "queued"
        run_burst(queue)
        assert job.result == 3

    def test_a_job_waits_only_for_the_dependencies_that_exist(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        job = queue.enqueue(fixtures.add, 1, 2, depends_on=["nope", parent])
        assert job.get_status() == "deferred"
        maintain(queue)
        assert job.get_status() == "deferred", "an unknown id is not a vanished parent"
        run_burst(queue)
        assert job.result == 3


def another_store(broker: Broker) -> Broker:
    """A broker of ``broker``'s driver that stores elsewhere: another memory store, or the same
    Redis under another key prefix."""
    if isinstance(broker, MemoryBroker):
        return MemoryBroker()
    return RedisBroker(broker.connection, prefix="other:")


def the_same_store(broker: Broker) -> Broker:
    """Another broker object on ``broker``'s store: a new client of the same server (the memory
    driver has no second way in to a store: the broker itself)."""
    if isinstance(broker, MemoryBroker):
        return broker
    client = broker.connection
    if isinstance(client, fakeredis.FakeRedis):
        return RedisBroker(fakeredis.FakeRedis(server=client.connection_pool.connection_kwargs["server"]))
    settings = client.connection_pool.connection_kwargs
    return RedisBroker(redis.Redis(host=settings["host"], port=settings["port"], db=settings.get("db", 0)))


class TestDependenciesInAnotherStore:
    """A job of another store given as a dependency is refused: looked up by id in the child's
    store it would be unknown, so met, and the child would run before it."""

    @pytest.mark.parametrize("wrap", [lambda job: job, lambda job: [job], lambda job: Dependency(jobs=[job])])
    def test_a_job_of_another_store_is_refused_and_nothing_is_written(self, queue, wrap):
        elsewhere = Queue("elsewhere", connection=another_store(queue.broker))
        parent = elsewhere.enqueue(fixtures.add, 1, 1)
        with pytest.raises(InvalidJobDependency, match="same store") as refused:
            queue.enqueue(fixtures.add, 2, 2, job_id="child", depends_on=wrap(parent))
        assert parent.id in str(refused.value)
        assert not exists(queue, "child")
        assert queue.count == 0
        with pytest.raises(InvalidJobDependency, match="same store"):
            queue.enqueue_many([Queue.prepare_data(fixtures.add, (2, 2), job_id="child", depends_on=parent)])
        assert not exists(queue, "child")

    def test_a_job_of_the_same_store_through_another_client_is_taken(self, queue):
        parent = Queue(queue.name, connection=the_same_store(queue.broker)).enqueue(fixtures.add, 1, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        assert child.get_status() == "deferred"
        run_burst(queue)
        assert child.result == 4

    def test_the_id_of_a_job_of_another_store_is_unknown_here_so_met(self, queue):
        parent = Queue("elsewhere", connection=another_store(queue.broker)).enqueue(fixtures.add, 1, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent.id)
        assert child.get_status() == "queued", "an id is looked up in the child's store, as in RQ"


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


class TestFailedParents:
    """B3: a failed parent leaves its dependents deferred; requeued and successful, it releases
    them (seed S-11: "deferred until its dependency finished successfully")."""

    def test_dependents_stay_deferred_and_a_tolerant_one_runs(self, queue):
        parent = queue.enqueue(fixtures.div_by_zero, 1)
        strict, grandchild, tolerant = family(queue, parent)
        run_burst(queue)
        assert parent.get_status() == "failed"
        assert (strict.get_status(), grandchild.get_status()) == ("deferred", "deferred")
        assert strict.id in queue.deferred_job_registry
        assert queue.canceled_job_registry.count == 0
        assert tolerant.result == 8
        maintain(queue)
        assert strict.get_status() == "deferred", "the failed parent still exists: they wait"

    @pytest.mark.parametrize("how", ["job.requeue", "requeue_job", "FailedJobRegistry.requeue"])
    def test_requeued_and_successful_the_parent_releases_them(self, queue, how):
        parent = queue.enqueue(fixtures.fail_once_then_succeed, "parent")
        strict, grandchild, _tolerant = family(queue, parent)
        run_burst(queue)
        assert (parent.get_status(), strict.get_status()) == ("failed", "deferred")
        if how == "job.requeue":
            parent.requeue()
        elif how == "requeue_job":
            requeue_job(parent.id, connection=queue.broker)
        else:
            queue.failed_job_registry.requeue(parent.id)
        assert strict.get_status() == "deferred"
        run_burst(queue)
        assert parent.get_status() == "finished"
        assert (strict.result, grandchild.result) == (4, 6)
        ended = Job.fetch(parent.id, connection=queue.broker).ended_at
        assert Job.fetch(strict.id, connection=queue.broker).started_at >= ended

    def test_requeued_and_failing_again_they_still_wait(self, queue):
        parent = queue.enqueue(fixtures.div_by_zero, 1)
        strict = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        run_burst(queue)
        parent.requeue()
        run_burst(queue)
        assert (parent.get_status(), strict.get_status()) == ("failed", "deferred")

    def test_a_job_enqueued_behind_a_failed_parent_waits_for_it(self, queue):
        parent = queue.enqueue(fixtures.fail_once_then_succeed, "late")
        run_burst(queue)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        tolerant = queue.enqueue(fixtures.add, 1, 1, depends_on=Dependency(jobs=[parent], allow_failure=True))
        assert (child.get_status(), tolerant.get_status()) == ("deferred", "queued")
        parent.requeue()
        run_burst(queue)
        assert child.result == 4

    def test_once_the_failed_parent_expires_maintenance_settles_them(self, queue):
        parent = queue.enqueue(fixtures.div_by_zero, 1, failure_ttl=1)
        strict, grandchild, _tolerant = family(queue, parent)
        late_tolerant = queue.enqueue(
            fixtures.add, 5, 5, depends_on=Dependency(jobs=[strict], allow_failure=True)
        )
        run_burst(queue)
        assert wait_for(lambda: not exists(queue, parent.id), timeout=30)
        assert strict.get_status() == "deferred"
        maintain(queue)
        assert (strict.get_status(), grandchild.get_status()) == ("canceled", "canceled")
        assert late_tolerant.get_status() == "queued"
        assert queue.deferred_job_registry.count == 0


class TestStoppedParents:
    """A stopped parent, as in RQ, releases nobody, not even a dependent that allows failure (it
    may be requeued)."""

    def test_a_stopped_parent_releases_nobody_until_it_succeeds(self, queue):
        parent = queue.enqueue(fixtures.stop_self)
        strict, _grandchild, tolerant = family(queue, parent)
        run_burst(queue)
        assert parent.get_status() == "stopped"
        assert (strict.get_status(), tolerant.get_status()) == ("deferred", "deferred")


class TestCanceledParents:
    """B4: canceling a parent leaves its dependents deferred; ``enqueue_dependents`` releases them."""

    def test_dependents_stay_deferred(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        strict, grandchild, tolerant = family(queue, parent)
        assert parent.cancel() == {}
        statuses = {job.get_status() for job in (strict, grandchild, tolerant)}
        assert statuses == {"deferred"}
        maintain(queue)
        assert strict.get_status() == "deferred", "the canceled parent is kept: they wait"

    def test_enqueue_dependents_releases_them(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        strict, grandchild, tolerant = family(queue, parent)
        other = queue.enqueue(fixtures.add, 1, 1)
        waits = queue.enqueue(fixtures.add, 9, 9, depends_on=[parent, other])
        released = parent.cancel(enqueue_dependents=True)
        assert {name: sorted(ids) for name, ids in released.items()} == {
            queue.name: sorted([strict.id, tolerant.id])
        }
        assert (strict.get_status(), tolerant.get_status()) == ("queued", "queued")
        assert (grandchild.get_status(), waits.get_status()) == ("deferred", "deferred")
        run_burst(queue)
        assert (strict.result, grandchild.result, tolerant.result, waits.result) == (4, 6, 8, 18)

    def test_cancel_job_with_enqueue_dependents(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        cancel_job(parent.id, connection=queue.broker, enqueue_dependents=True)
        assert parent.get_status() == "canceled"
        assert child.get_status() == "queued"

    def test_a_deferred_job_canceled_with_enqueue_dependents(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        middle = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        last = queue.enqueue(fixtures.add, 3, 3, depends_on=middle)
        middle.cancel(enqueue_dependents=True)
        assert last.get_status() == "queued"
        run_burst(queue)
        assert (parent.result, middle.get_status(), last.result) == (2, "canceled", 6)

    def test_a_parent_canceled_and_not_kept_leaves_them_to_maintenance(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1, failure_ttl=0)
        strict, grandchild, tolerant = family(queue, parent)
        parent.cancel()
        assert not exists(queue, parent.id)
        assert strict.get_status() == "deferred"
        maintain(queue)
        assert (strict.get_status(), grandchild.get_status()) == ("canceled", "canceled")
        assert tolerant.get_status() == "queued"

    def test_a_child_with_failure_ttl_zero_canceled_by_maintenance_is_gone_too(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent, failure_ttl=0)
        parent.delete()
        maintain(queue)
        assert not exists(queue, child.id)
        kept = queue.enqueue(fixtures.add, 3, 3, failure_ttl=-1)
        kept.cancel()
        assert queue.canceled_job_registry.get_expiration_time(kept) is None
        assert exists(queue, kept.id)


class TestDeletedParents:
    """B5: deleting a parent leaves its dependents deferred; maintenance then settles them."""

    def test_they_stay_deferred_until_maintenance_settles_them(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        strict, grandchild, tolerant = family(queue, parent)
        parent.delete()
        assert not exists(queue, parent.id)
        assert {job.get_status() for job in (strict, grandchild, tolerant)} == {"deferred"}
        maintain(queue)
        assert (strict.get_status(), grandchild.get_status()) == ("canceled", "canceled")
        assert tolerant.get_status() == "queued"
        run_burst(queue)
        assert tolerant.result == 8

    def test_delete_dependents_deletes_them_and_maintenance_settles_a_late_one(self, queue, monkeypatch):
        from jq.core import lifecycle_requests as lifecycle

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
        assert late[0].get_status() == "deferred"
        maintain(queue)
        assert late[0].get_status() == "canceled"
        assert queue.deferred_job_registry.count == 0


class TestExpiredParents:
    """A parent whose record expired before it ran: its children do not wait forever."""

    def test_maintenance_cancels_or_releases_children_of_an_expired_parent(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1, ttl=1)
        strict, grandchild, tolerant = family(queue, parent)
        other = queue.enqueue(fixtures.add, 5, 5)
        waiting = queue.enqueue(fixtures.add, 6, 6, depends_on=[parent, other])
        assert wait_for(lambda: not exists(queue, parent.id), timeout=30)
        assert strict.get_status() == "deferred"
        maintain(queue)
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


def test_seed_s11_with_a_worker_process(redis_server, redis_client):
    """S-11 end to end: the parent fails in a real worker, its dependent stays deferred; the parent
    is fixed and requeued, succeeds, and the worker then runs the dependent."""
    queue = Queue("s11", connection=redis_client)
    parent = queue.enqueue(fixtures.fail_until_flag, "s11-fixed")
    child = queue.enqueue(fixtures.add, 2, 3, depends_on=parent)
    worker = start_worker(redis_server.url, ["s11"], name="s11-worker")
    try:
        assert wait_for(lambda: parent.get_status() == "failed", timeout=30)
        assert child.get_status() == "deferred"
        assert child.id in queue.deferred_job_registry
        redis_client.set("s11-fixed", "1")
        requeue_job(parent.id, connection=redis_client)
        assert wait_for(lambda: child.get_status() == "finished", timeout=30)
        assert parent.get_status() == "finished"
        assert child.result == 5
        finished = Job.fetch(parent.id, connection=redis_client)
        assert Job.fetch(child.id, connection=redis_client).started_at >= finished.ended_at
    finally:
        worker.send_signal(signal.SIGTERM)
        stop(worker)
