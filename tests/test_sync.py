"""S-10: ``Queue(is_async=False)`` runs the job at once, in this thread, on every driver.

How each job ends is compared with a worker's, scenario by scenario, in test_sync_parity.py; the
tests here are about what only a synchronous queue does: the result in hand, batches, retries
without waiting, timeouts in any thread, and jobs a synchronous run releases.
"""

from __future__ import annotations

import threading
import time

import pytest

from jq import Queue, Retry, SimpleWorker
from jq.exceptions import ConfigurationError
from jq.job import Job
from jq.queueing.synchronous import death_penalty_class_for
from jq.timeouts import JobTimeoutException, TimerDeathPenalty, UnixSignalDeathPenalty
from jq_backends.memory import MemoryBroker
from tests import fixtures


def test_result_ttl_zero_keeps_the_result_in_hand(broker):
    job = Queue(is_async=False, connection=broker).enqueue(fixtures.add, 2, 3, result_ttl=0)
    assert job.result == 5
    assert not Job.exists(job.id, connection=broker)


def test_retries_run_at_once_whatever_their_intervals(broker):
    queue = Queue(is_async=False, connection=broker)
    started = time.monotonic()
    job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=2, interval=[3600, 7200]))
    assert time.monotonic() - started < 30
    assert job.get_status() == "failed"
    assert job.retries_left == 0
    assert len(job.results()) == 3
    assert queue.scheduled_job_registry.count == 0


def test_enqueue_many(broker):
    queue = Queue(is_async=False, connection=broker)
    jobs = queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(i, i)) for i in range(3)])
    assert [job.result for job in jobs] == [0, 2, 4]


def test_enqueue_many_runs_a_job_whose_dependency_is_unknown(broker):
    queue = Queue(is_async=False, connection=broker)
    batch = [
        Queue.prepare_data(fixtures.add, args=(1, 1), job_id="ok1"),
        Queue.prepare_data(fixtures.add, args=(2, 2), depends_on="missing"),
        Queue.prepare_data(fixtures.add, args=(3, 3), job_id="ok3"),
    ]
    jobs = queue.enqueue_many(batch)
    assert [job.result for job in jobs] == [2, 4, 6], "an unknown dependency counts as met, as in RQ"


def test_enqueue_many_runs_a_parent_then_its_child(broker):
    queue = Queue(is_async=False, connection=broker)
    early, parent, child, failing, waiting = queue.enqueue_many(
        [
            Queue.prepare_data(fixtures.add, args=(5, 5), job_id="early", depends_on="parent"),
            Queue.prepare_data(fixtures.add, args=(1, 1), job_id="parent"),
            Queue.prepare_data(fixtures.add, args=(2, 2), job_id="child", depends_on="parent"),
            Queue.prepare_data(fixtures.div_by_zero, args=(1,), job_id="failing"),
            Queue.prepare_data(fixtures.add, args=(3, 3), job_id="after", depends_on="failing"),
        ]
    )
    assert (parent.result, child.result, early.result) == (2, 4, 10)
    assert child.started_at >= parent.ended_at
    assert early.started_at >= parent.ended_at, "listed before its parent, it waited for it"
    assert failing.get_status() == "failed"
    assert waiting.get_status() == "deferred", "it waits for its parent to be requeued"
    failing.requeue()
    assert failing.get_status() == "queued", "a requeued job waits for a worker"


def test_a_follow_up_on_an_ordinary_queue_is_left_to_its_workers(broker):
    queue = Queue(is_async=False, connection=broker)
    job = queue.enqueue(fixtures.enqueue_follow_up, True)
    assert job.result == "deferred"
    follow_up = Job.fetch("follow-up", connection=broker)
    assert follow_up.get_status() == "queued"
    assert queue.job_ids == ["follow-up"]


class TestTimeouts:
    """job_timeout holds in sync mode, with the death penalty a SimpleWorker would use."""

    def test_in_the_main_thread_sigalrm_stops_a_blocking_call(self):
        queue = Queue(is_async=False, connection=MemoryBroker())
        started = time.monotonic()
        job = queue.enqueue(fixtures.sleep_for, 30, job_timeout=1)
        assert time.monotonic() - started < 10
        assert job.get_status() == "failed"
        assert "JobTimeoutException" in job.exc_info

    def test_in_another_thread_a_timer_stops_python_code(self):
        queue = Queue(is_async=False, connection=MemoryBroker())
        jobs: list[Job] = []
        chosen = []

        def request() -> None:
            chosen.append(death_penalty_class_for(queue))
            jobs.append(queue.enqueue(fixtures.busy_loop, 30, job_timeout=1))

        thread = threading.Thread(target=request)
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive()
        assert chosen == [TimerDeathPenalty]
        assert jobs[0].get_status() == "failed"
        assert "JobTimeoutException" in jobs[0].exc_info

    def test_in_another_thread_a_blocking_call_fails_once_it_returns(self):
        """A timer cannot break into time.sleep: the job fails when the call returns."""
        queue = Queue(is_async=False, connection=MemoryBroker())
        jobs: list[Job] = []
        thread = threading.Thread(
            target=lambda: jobs.append(queue.enqueue(fixtures.sleep_for, 2, job_timeout=1))
        )
        thread.start()
        thread.join(timeout=20)
        assert jobs[0].get_status() == "failed"
        assert "JobTimeoutException" in jobs[0].exc_info

    def test_the_queues_death_penalty_class(self):
        created = []

        class RecordingPenalty(UnixSignalDeathPenalty):
            def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
                super().__init__(timeout, exception, **kwargs)
                created.append((timeout, kwargs.get("job_id")))

        queue = Queue(is_async=False, connection=MemoryBroker(), death_penalty_class=RecordingPenalty)
        job = queue.enqueue(fixtures.add, 1, 2, job_id="recorded", job_timeout=7)
        assert job.result == 3
        assert created == [(7, "recorded")]
        assert death_penalty_class_for(queue) is RecordingPenalty

    def test_a_death_penalty_class_that_is_not_one_is_refused(self):
        with pytest.raises(ConfigurationError, match="death_penalty_class must be a subclass"):
            Queue(is_async=False, connection=MemoryBroker(), death_penalty_class=dict)
        by_path = Queue(connection=MemoryBroker(), death_penalty_class="jq.timeouts.TimerDeathPenalty")
        assert by_path.death_penalty_class is TimerDeathPenalty

    def test_a_sync_job_inside_a_workers_job_keeps_the_outer_timeout(self):
        broker = MemoryBroker()
        queue = Queue(connection=broker)
        outer = queue.enqueue(fixtures.run_sync_job_then_sleep, 30, job_timeout=1)
        started = time.monotonic()
        SimpleWorker([queue]).work(burst=True)
        assert time.monotonic() - started < 10
        assert Job.fetch("inner", connection=broker).result == 2
        assert outer.get_status() == "failed"
        assert "JobTimeoutException" in outer.exc_info
