"""How an execution's outcome is recorded, as RQ documents it, on every driver: a job that returns
``Retry(...)`` (B7), an ``on_success`` callback that raises (B8), an exception handler that stops
the chain (B22), and a return value the serializer cannot store (B24).
"""

from __future__ import annotations

import logging
import time

import pytest

from jq import Callback, Queue, Retry, SimpleWorker
from jq.dependency import Dependency
from jq.job import Job
from jq.results import Result
from jq.scheduler import Scheduler
from jq.serializers import JSONSerializer
from tests import fixtures
from tests.processes import HORSE_MODES, WORKER_MODES, start_worker, stop

RETRIED, MAX_RETRIES_EXCEEDED = Result.Type.RETRIED, Result.Type.MAX_RETRIES_EXCEEDED


@pytest.fixture(autouse=True)
def _clear_seen():
    fixtures.SEEN.clear()
    yield
    fixtures.SEEN.clear()


def run_burst(queue: Queue, **options) -> bool:
    """Run every queued job with an in-process worker."""
    return SimpleWorker([queue], **options).work(burst=True)


def result_types(job: Job) -> list[Result.Type]:
    return [result.type for result in job.results()]


class TestReturnedRetry:
    """B7: a job that returns ``Retry(max, interval)`` runs again, up to ``max`` times, then fails
    (docs/docs/results.md, "Asking RQ to Retry")."""

    def test_it_is_retried_until_max_then_fails(self, queue):
        job = queue.enqueue(fixtures.return_retry, 2)
        SimpleWorker([queue]).work(burst=True, max_jobs=1)
        assert job.get_status() == "queued"
        assert queue.job_ids == [job.id]
        latest = job.latest_result()
        assert latest is not None and latest.type is RETRIED
        assert isinstance(latest.return_value, Retry) and latest.return_value.max == 2
        assert job.return_value() is None
        assert Job.fetch(job.id, connection=queue.broker).number_of_retries == 1
        run_burst(queue)
        assert job.get_status() == "failed"
        assert job.id in queue.failed_job_registry
        assert result_types(job) == [MAX_RETRIES_EXCEEDED, RETRIED, RETRIED]
        assert job.exc_info is None, "no exception was raised"
        assert fixtures.SEEN == [("asked-retry", job.id)] * 3

    def test_intervals_schedule_the_retries(self, queue):
        job = queue.enqueue(fixtures.return_retry, 3, [10, 30])
        started = time.time()
        run_burst(queue)
        assert job.get_status() == "scheduled"
        due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
        assert started + 10 - 2 <= due <= time.time() + 10 + 2
        assert Scheduler([queue]).tick(now=due + 1) == 1
        second_run = time.time()
        run_burst(queue)
        due2 = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
        assert second_run + 30 - 2 <= due2 <= time.time() + 30 + 2, "the second interval"
        assert result_types(job) == [RETRIED, RETRIED]

    def test_a_job_may_succeed_after_asking_for_a_retry(self, queue):
        job = queue.enqueue(fixtures.retry_once_then_succeed, "k")
        run_burst(queue)
        assert job.get_status() == "scheduled"
        Scheduler([queue]).tick(now=time.time() + 120)
        run_burst(queue)
        assert job.result == "k done after 2 runs"
        assert result_types(job) == [Result.Type.SUCCESSFUL, RETRIED]

    def test_once_failed_its_dependents_are_handled_as_for_a_failure(self, queue):
        job = queue.enqueue(fixtures.return_retry, 1)
        strict = queue.enqueue(fixtures.add, 1, 1, depends_on=job)
        tolerant = queue.enqueue(fixtures.add, 2, 2, depends_on=Dependency(jobs=[job], allow_failure=True))
        run_burst(queue)
        assert job.get_status() == "failed"
        assert strict.get_status() == "deferred"
        assert tolerant.result == 4

    def test_a_serializer_that_cannot_store_the_retry(self, broker):
        queue = Queue(connection=broker, serializer=JSONSerializer)
        job = queue.enqueue("tests.fixtures.return_retry", 1)
        run_burst(queue, serializer=JSONSerializer)
        assert job.get_status() == "failed"
        assert result_types(job) == [MAX_RETRIES_EXCEEDED, RETRIED]
        assert job.latest_result().return_value is None

    def test_is_async_false_runs_the_retries_at_once(self, broker):
        job = Queue(connection=broker, is_async=False).enqueue(fixtures.return_retry, 2, 60)
        assert job.get_status() == "failed"
        assert result_types(job) == [MAX_RETRIES_EXCEEDED, RETRIED, RETRIED]


@pytest.mark.parametrize("mode", HORSE_MODES)
def test_a_returned_retry_in_a_work_horse(redis_server, redis_client, mode):
    """The same in a forking Worker's work horse, on a real server."""
    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.return_retry, 2)
    worker = start_worker(
        redis_server.url, name=f"retrying-{mode}", work={"burst": True}, **WORKER_MODES[mode]
    )
    code, stderr = stop(worker)
    assert code == 0, stderr
    assert job.get_status() == "failed"
    assert result_types(job) == [MAX_RETRIES_EXCEEDED, RETRIED, RETRIED]


class TestOnSuccess:
    """B8: the success callback runs before the outcome is recorded; if it raises, the job fails
    and its dependents stay deferred (docs/docs/index.md, "Success Callback")."""

    def test_a_raising_callback_fails_the_job(self, queue):
        job = queue.enqueue(
            fixtures.add,
            1,
            2,
            on_success=fixtures.on_success_record_then_raise,
            on_failure=fixtures.on_failure_record,
        )
        child = queue.enqueue(fixtures.add, 3, 4, depends_on=job)
        run_burst(queue)
        assert job.get_status() == "failed"
        assert job.id in queue.failed_job_registry
        assert result_types(job) == [Result.Type.FAILED]
        assert "RuntimeError: success callback broke" in job.exc_info
        assert job.return_value() is None
        assert child.get_status() == "deferred"
        assert fixtures.SEEN == [("success-raising", job.id, 3), ("failure", job.id, RuntimeError)]

    def test_with_retries_left_the_job_is_retried(self, queue):
        job = queue.enqueue(fixtures.add, 1, 2, on_success=fixtures.on_success_raise, retry=Retry(max=1))
        run_burst(queue)
        assert job.get_status() == "failed"
        assert result_types(job) == [Result.Type.FAILED, RETRIED]

    def test_a_callback_that_returns_lets_the_job_finish(self, queue):
        job = queue.enqueue(fixtures.add, 1, 2, on_success=Callback(fixtures.on_success_record))
        child = queue.enqueue(fixtures.add, 3, 4, depends_on=job)
        run_burst(queue)
        assert (job.result, child.result) == (3, 7)
        assert ("success", job.id, 3) in fixtures.SEEN


class TestExceptionHandlers:
    """B22: a handler that returns False stops the chain; the job is still kept in the failed
    registry (only ``disable_default_exception_handler`` keeps it out)."""

    def test_false_stops_the_chain_and_the_job_is_kept(self, queue):
        job = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue, exception_handlers=[fixtures.stop_handler, fixtures.record_handler])
        assert fixtures.SEEN == [("stop", job.id)]
        assert job.get_status() == "failed"
        assert job.id in queue.failed_job_registry

    def test_the_default_handler_disabled_keeps_it_out(self, queue):
        job = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue, disable_default_exception_handler=True)
        assert job.get_status() == "failed"
        assert job.id not in queue.failed_job_registry


class TestUnserializableReturnValue:
    """B24: the job finishes; its stored return value is RQ's placeholder; a warning is logged."""

    PLACEHOLDER = "Unserializable return value"

    def test_the_job_finishes_with_the_placeholder(self, queue, caplog):
        job = queue.enqueue(fixtures.return_unserializable, on_success=fixtures.on_success_record)
        child = queue.enqueue(fixtures.add, 1, 1, depends_on=job)
        with caplog.at_level(logging.WARNING, logger="jq.job"):
            run_burst(queue)
        assert job.get_status() == "finished"
        assert job.return_value() == self.PLACEHOLDER
        assert Job.fetch(job.id, connection=queue.broker).result == self.PLACEHOLDER
        assert child.result == 2
        assert any("cannot be serialized" in record.getMessage() for record in caplog.records)
        (seen,) = fixtures.SEEN
        assert seen[0] == "success" and type(seen[2]).__name__ == "lock", "the callback saw the value"

    def test_is_async_false_too(self, broker):
        job = Queue(connection=broker, is_async=False).enqueue(fixtures.return_unserializable)
        assert job.get_status() == "finished"
        assert Job.fetch(job.id, connection=broker).return_value() == self.PLACEHOLDER
