# test_tasks.py: run with `pytest`; jq's plugin provides the jq_* fixtures.
from datetime import timedelta

import tasks

from jq import Queue, Retry


def test_a_report_then_its_mail(jq_worker):
    mail = tasks.request_report([3, 5, 8, 13], "ops@example.com")  # code under test
    assert mail.get_status() == "deferred"  # waits for the report

    ran = jq_worker.run_until_idle()  # a worker runs every job, here, until none is left

    assert ran.succeeded == 2
    assert mail.dependency.result == {"total": 29, "mean": 7.25}
    assert mail.result == "report sent to ops@example.com"


def test_a_failure_is_kept_with_its_traceback(jq_queue, jq_worker):
    job = jq_queue.enqueue(tasks.divide, 1, 0)
    jq_worker.run_until_idle()
    assert job.get_status() == "failed"
    assert job.id in jq_queue.failed_job_registry
    assert "ZeroDivisionError" in job.exc_info


def test_a_retry_ten_minutes_later(jq_queue, jq_worker, jq_clock):
    job = jq_queue.enqueue(tasks.divide, 1, 0, retry=Retry(max=1, interval=600))
    jq_worker.run_until_idle()
    assert job.get_status() == "scheduled"  # its retry waits ten minutes

    jq_clock.advance(minutes=10)  # no sleep: jq's clock moves on
    ran = jq_worker.run_until_idle()

    assert ran.failed == 1
    assert job.get_status() == "failed"


def test_a_job_for_later(jq_queue, jq_worker, jq_clock):
    job = jq_queue.enqueue_in(timedelta(hours=1), tasks.count_words, "one two three")
    assert jq_worker.run_until_idle().jobs == []  # not due yet

    jq_clock.advance(hours=1)

    assert jq_worker.run_until_idle().jobs == [job]
    assert job.result == 3


def test_a_synchronous_queue_runs_retries_at_once(jq_broker):
    queue = Queue(is_async=False, connection=jq_broker)
    job = queue.enqueue(tasks.divide, 1, 0, retry=Retry(max=2, interval=60))
    assert job.get_status() == "failed"
    assert job.retries_left == 0
