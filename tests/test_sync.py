"""S-10: ``Queue(is_async=False)`` runs the job at once, in this process, on every driver."""

from __future__ import annotations

from jq import Queue
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
