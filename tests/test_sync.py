"""S-10: ``Queue(is_async=False)`` runs the job at once, in this process, on every driver."""

from __future__ import annotations

import pytest

from jq import Queue
from jq.exceptions import NoSuchJobError
from jq.job import Job
from tests import fixtures


def test_runs_at_once(broker):
    queue = Queue("low", is_async=False, connection=broker)
    job = queue.enqueue(abs, -8)
    assert job.result == 8
    assert job.get_status() == "finished"
    assert len(queue) == 0
    assert job.id in queue.finished_job_registry
    assert Job.fetch(job.id, connection=broker).started_at is not None


def test_failure_is_recorded_not_raised(broker):
    queue = Queue(is_async=False, connection=broker)
    job = queue.enqueue(fixtures.div_by_zero, 1)
    assert job.get_status() == "failed"
    assert "ZeroDivisionError" in job.exc_info
    assert job.id in queue.failed_job_registry


def test_current_job_and_meta(broker):
    queue = Queue(is_async=False, connection=broker)
    assert queue.enqueue(fixtures.current_job_id, job_id="sync-job").result == "sync-job"
    job = queue.enqueue(fixtures.save_progress, 1.0)
    assert job.get_meta() == {"progress": 1.0}


def test_result_ttl_zero_keeps_the_result_in_hand(broker):
    job = Queue(is_async=False, connection=broker).enqueue(fixtures.add, 2, 3, result_ttl=0)
    assert job.result == 5
    assert not Job.exists(job.id, connection=broker)


def test_dependencies_run_in_order(broker):
    queue = Queue(is_async=False, connection=broker)
    parent = queue.enqueue(fixtures.add, 1, 1)
    child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
    assert child.result == 4


def test_dependent_of_a_failed_job_is_canceled(broker):
    queue = Queue(is_async=False, connection=broker)
    parent = queue.enqueue(fixtures.div_by_zero, 1)
    child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
    assert parent.get_status() == "failed"
    assert child.get_status() == "canceled"
    assert child.id in queue.canceled_job_registry


def test_enqueue_many(broker):
    queue = Queue(is_async=False, connection=broker)
    jobs = queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(i, i)) for i in range(3)])
    assert [job.result for job in jobs] == [0, 2, 4]


def test_enqueue_many_refuses_a_missing_dependency_before_running_anything(broker):
    queue = Queue(is_async=False, connection=broker)
    batch = [
        Queue.prepare_data(fixtures.add, args=(1, 1), job_id="ok1"),
        Queue.prepare_data(fixtures.add, args=(2, 2), depends_on="missing"),
        Queue.prepare_data(fixtures.add, args=(3, 3), job_id="ok3"),
    ]
    with pytest.raises(NoSuchJobError, match="missing"):
        queue.enqueue_many(batch)
    assert not Job.exists("ok1", connection=broker) and not Job.exists("ok3", connection=broker)
    assert queue.finished_job_registry.count == 0
    assert broker.queue_names() == []


def test_enqueue_many_runs_a_parent_then_its_child(broker):
    queue = Queue(is_async=False, connection=broker)
    parent, child, failing, canceled = queue.enqueue_many(
        [
            Queue.prepare_data(fixtures.add, args=(1, 1), job_id="parent"),
            Queue.prepare_data(fixtures.add, args=(2, 2), job_id="child", depends_on="parent"),
            Queue.prepare_data(fixtures.div_by_zero, args=(1,), job_id="failing"),
            Queue.prepare_data(fixtures.add, args=(3, 3), job_id="after", depends_on="failing"),
        ]
    )
    assert (parent.result, child.result) == (2, 4)
    assert child.started_at >= parent.ended_at
    assert failing.get_status() == "failed"
    assert canceled.get_status(refresh=False) == "canceled"
    assert canceled.id in queue.canceled_job_registry
