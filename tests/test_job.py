"""Jobs: fetch, attributes, status, meta, results, cancel, requeue, delete (S-14…S-18).

Every test runs against the memory driver, Redis on fakeredis, and a real redis-server.
"""

from __future__ import annotations

import datetime
import time

import pytest

from jq import Queue, Retry, SimpleWorker, get_current_job
from jq.exceptions import ConfigurationError, InvalidJobOperation, NoSuchJobError, UnsupportedByBrokerError
from jq.job import Job, JobStatus, requeue_job
from jq.results import Result
from tests import fixtures


def run_burst(queue: Queue) -> bool:
    """Run every queued job of ``queue`` with an in-process worker."""
    return SimpleWorker([queue], connection=queue.broker).work(burst=True)


class TestCreate:
    """S-14: Job.create builds a job without writing it; queue.enqueue_job stores it."""

    def test_create_then_enqueue_job(self, broker):
        queue = Queue("low", connection=broker)
        job = Job.create(
            fixtures.add, args=(2, 3), id="made", connection=broker, result_ttl=60, meta={"k": 1}
        )
        assert not Job.exists("made", connection=broker)
        assert broker.queue_names() == []
        assert queue.enqueue_job(job) is job
        assert job.get_status() == "queued" and job.origin == "low"
        assert queue.job_ids == ["made"]
        fetched = Job.fetch("made", connection=broker)
        assert (fetched.func_name, tuple(fetched.args), fetched.meta) == (
            "tests.fixtures.add",
            (2, 3),
            {"k": 1},
        )
        run_burst(queue)
        assert job.result == 5
        assert Job.fetch("made", connection=broker).result_ttl == 60


class TestFetch:
    """S-16, S-17: Job.fetch, Job.fetch_many, Job.exists."""

    def test_fetch(self, broker):
        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 2, job_id="my_job_id")
        job = Job.fetch("my_job_id", connection=broker)
        assert job.id == "my_job_id"
        assert job.func_name == "tests.fixtures.add"
        assert tuple(job.args) == (1, 2)
        assert job.get_status() == "queued"

    def test_fetch_unknown_id_raises(self, broker):
        with pytest.raises(NoSuchJobError, match="missing-id"):
            Job.fetch("missing-id", connection=broker)

    def test_fetch_many(self, broker):
        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 2, job_id="foo_id")
        queue.enqueue(fixtures.say_hello, job_id="bar_id")
        jobs = Job.fetch_many(["foo_id", "missing", "bar_id"], connection=broker)
        assert [job.id if job else None for job in jobs] == ["foo_id", None, "bar_id"]
        assert jobs[2] is not None and jobs[2].func_name == "tests.fixtures.say_hello"

    def test_exists(self, broker):
        Queue(connection=broker).enqueue(fixtures.add, 1, 2, job_id="here")
        assert Job.exists("here", connection=broker)
        assert not Job.exists("gone", connection=broker)

    def test_refresh_of_deleted_job_raises(self, broker):
        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
        job.delete()
        with pytest.raises(NoSuchJobError):
            job.refresh()
        with pytest.raises(NoSuchJobError):
            job.get_status()


class TestAttributes:
    """S-15: attributes, UTC timestamps and the readable record."""

    def test_timestamps_are_utc_and_ordered(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert job.started_at is None and job.ended_at is None
        run_burst(queue)
        job = Job.fetch(job.id, connection=broker)
        for moment in (job.created_at, job.enqueued_at, job.started_at, job.ended_at):
            assert moment is not None and moment.tzinfo is not None
            assert moment.utcoffset() == datetime.timedelta(0)
        assert job.created_at <= job.enqueued_at <= job.started_at <= job.ended_at

    def test_record_is_readable(self, broker):
        queue = Queue("q", connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, job_timeout="1m", description="d")
        record = broker.load_job(job.id)
        assert record is not None
        assert record["status"] == b"queued"
        assert record["origin"] == b"q"
        assert record["timeout"] == b"60"
        assert record["description"] == b"d"
        assert record["created_at"].decode().endswith("Z")
        assert set(record) >= {"data", "status", "origin", "created_at", "enqueued_at", "timeout"}

    def test_statuses_compare_to_strings(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert job.get_status() == "queued" == JobStatus.QUEUED
        assert job.is_queued and not job.is_finished
        run_burst(queue)
        assert job.get_status(refresh=False) == "queued"  # not refreshed: the cached value
        assert job.get_status() == "finished"
        assert job.is_finished and not job.is_failed and not job.is_started and not job.is_deferred

    def test_worker_name_and_origin(self, broker):
        queue = Queue("named", connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        SimpleWorker([queue], name="w1").work(burst=True)
        job.refresh()
        assert job.worker_name == "w1"
        assert job.origin == "named"

    def test_json_serializer(self, broker):
        """S-33: the JSON serializer stores readable calls and results."""
        queue = Queue(connection=broker, serializer="json")
        job = queue.enqueue(fixtures.echo, 1, "two", three=[3])
        assert broker.load_job(job.id)["data"].startswith(b'["tests.fixtures.echo"')
        SimpleWorker([queue], serializer="json").work(burst=True)
        assert job.result == [[1, "two"], {"three": [3]}]

    def test_custom_serializer_object(self, broker):
        """S-33: any object with dumps/loads."""
        import json

        class Reversed:
            @staticmethod
            def dumps(value):
                return json.dumps(value).encode()[::-1]

            @staticmethod
            def loads(data):
                return json.loads(data[::-1])

        queue = Queue(connection=broker, serializer=Reversed)
        job = queue.enqueue(fixtures.add, 20, 22)
        SimpleWorker([queue], serializer=Reversed).work(burst=True)
        assert job.result == 42
        assert broker.load_job(job.id)["data"].endswith(b"[")


class TestCurrentJobAndMeta:
    """S-18: get_current_job and meta."""

    def test_get_current_job_inside_a_job(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.current_job_id)
        assert get_current_job() is None
        run_burst(queue)
        assert job.result == job.id

    def test_save_meta_inside_a_job(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.save_progress, 0.5, meta={"owner": "ada"})
        run_burst(queue)
        assert job.get_meta() == {"owner": "ada", "progress": 0.5}
        assert Job.fetch(job.id, connection=broker).meta["progress"] == 0.5

    def test_save_meta_from_outside(self, broker):
        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
        job.meta["note"] = "hello"
        job.save_meta()
        assert Job.fetch(job.id, connection=broker).meta == {"note": "hello"}

    def test_save_meta_of_deleted_job(self, broker):
        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
        job.delete()
        job.meta["x"] = 1
        with pytest.raises(NoSuchJobError):
            job.save_meta()
        assert not Job.exists(job.id, connection=broker)


class TestResults:
    """return_value(), latest_result(), results(), exc_info."""

    def test_latest_result_of_success(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert job.latest_result() is None
        run_burst(queue)
        result = Job.fetch(job.id, connection=broker).latest_result()
        assert result is not None
        assert result.type is Result.Type.SUCCESSFUL
        assert result.return_value == 3
        assert result.exc_string is None

    def test_failure_keeps_exc_info(self, broker):
        """S-14: failed jobs keep the traceback."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue)
        fetched = Job.fetch(job.id, connection=broker)
        assert fetched.is_failed
        assert "ZeroDivisionError" in fetched.exc_info
        assert "div_by_zero" in fetched.exc_info
        assert fetched.return_value() is None
        assert fetched.latest_result().type is Result.Type.FAILED
        assert broker.load_job(job.id)["exc_info"].startswith(b"Traceback")

    def test_one_result_per_execution(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=2))
        run_burst(queue)
        results = job.results()
        assert [result.type for result in results] == [
            Result.Type.FAILED,
            Result.Type.RETRIED,
            Result.Type.RETRIED,
        ]
        assert len({result.id for result in results}) == 3
        assert job.get_status() == "failed"

    def test_none_result(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.no_return)
        run_burst(queue)
        assert job.get_status() == "finished"
        assert job.result is None
        assert job.latest_result().type is Result.Type.SUCCESSFUL


class TestStateChanges:
    """cancel, requeue, delete; the failed registry's requeue (S-14)."""

    def test_failed_registry_requeue(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        registry = queue.failed_job_registry
        run_burst(queue)
        assert len(registry) == 1
        registry.requeue(job)
        assert len(registry) == 0
        assert queue.count == 1
        assert job.get_status() == "queued"
        assert broker.job_ttl(job.id) is None  # no longer expiring like a failed job

    def test_requeue_by_id_and_wrong_registry(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue)
        with pytest.raises(InvalidJobOperation, match="not in"):
            queue.finished_job_registry.requeue(job.id)
        queue.failed_job_registry.requeue(job.id, at_front=True)
        assert queue.job_ids == [job.id]

    def test_requeue_finished_job_is_refused(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        run_burst(queue)
        with pytest.raises(InvalidJobOperation, match="only failed"):
            job.requeue()

    def test_cancel_queued_job(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        job.cancel()
        assert job.get_status() == "canceled"
        assert len(queue) == 0
        assert job.id in queue.canceled_job_registry
        assert not run_burst(queue)

    def test_cancel_deferred_job(self, broker):
        queue = Queue(connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        child = queue.enqueue(fixtures.add, 3, 4, depends_on=parent)
        child.cancel()
        assert child.id not in queue.deferred_job_registry
        run_burst(queue)
        assert child.get_status() == "canceled"

    def test_cancel_finished_job(self, broker):
        """A finished job can be canceled, as in RQ (B30)."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, failure_ttl=600)
        run_burst(queue)
        assert job.cancel() == {}
        assert job.get_status() == "canceled"
        assert job.id not in queue.finished_job_registry
        assert job.id in queue.canceled_job_registry
        assert 0 < broker.job_ttl(job.id) <= 600
        assert job.return_value() == 3, "its result is kept with it"

    def test_cancel_failed_job(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue)
        job.cancel()
        assert job.id not in queue.failed_job_registry
        assert job.id in queue.canceled_job_registry

    def test_a_canceled_running_job_cannot_record_its_outcome(self, broker):
        from jq import lifecycle

        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert broker.claim_job(job.id, queue.name, lifecycle.claim_fields("w"), time.time() + 60)
        running = Job.fetch(job.id, connection=broker)
        Job.fetch(job.id, connection=broker).cancel()
        assert job.id not in queue.started_job_registry
        assert not lifecycle.finish(running, 3, execution_id=running.execution_id)
        assert job.get_status() == "canceled"
        assert job.id in queue.canceled_job_registry
        assert job.id not in queue.finished_job_registry

    def test_cancel_twice_raises(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        job.cancel()
        with pytest.raises(InvalidJobOperation, match="already canceled"):
            job.cancel()

    def test_canceled_job_cannot_be_requeued(self, broker):
        """As in RQ (B30): only failed and stopped jobs are requeued."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        job.cancel()
        with pytest.raises(InvalidJobOperation, match="only failed or stopped"):
            job.requeue()
        with pytest.raises(InvalidJobOperation, match="only failed or stopped"):
            requeue_job(job.id, connection=broker)
        assert job.get_status() == "canceled"

    def test_cancel_remove_from_dependencies(self, broker):
        queue = Queue(connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        kept = queue.enqueue(fixtures.add, 3, 4, depends_on=parent)
        left = queue.enqueue(fixtures.add, 5, 6, depends_on=parent)
        kept.cancel()
        left.cancel(remove_from_dependencies=True)
        assert broker.dependent_ids(parent.id) == [kept.id]

    def test_cancel_refuses_a_pipeline_and_delete_refuses_what_is_not_one(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        with pytest.raises(UnsupportedByBrokerError, match="pipeline"):
            job.cancel(pipeline=object())
        # delete takes a redis-py pipeline of the queue's Redis (tests/test_pipelines.py); not this
        with pytest.raises((UnsupportedByBrokerError, ConfigurationError), match="pipeline"):
            job.delete(object())
        assert job.get_status() == "queued"

    def test_requeue_of_an_unknown_id_raises_no_such_job(self, broker):
        """B35: as RQ, an id with no job is NoSuchJobError; a job elsewhere InvalidJobOperation."""
        queue = Queue(connection=broker)
        with pytest.raises(NoSuchJobError):
            queue.failed_job_registry.requeue("nope")
        job = queue.enqueue(fixtures.add, 1, 2)
        with pytest.raises(InvalidJobOperation, match="not in"):
            queue.failed_job_registry.requeue(job.id)

    def test_delete(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        job.delete()
        assert len(queue) == 0
        assert not Job.exists(job.id, connection=broker)

    def test_delete_twice_raises(self, broker):
        """B31: as RQ, a job that is gone cannot be deleted again."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        job.delete()
        with pytest.raises(NoSuchJobError):
            job.delete()

    def test_delete_without_removing_from_the_queue(self, broker):
        """B31: the id stays queued; a worker drops it, since the job is gone."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        job.delete(remove_from_queue=False)
        assert not Job.exists(job.id, connection=broker)
        assert queue.job_ids == [job.id]
        assert not run_burst(queue)
        assert len(queue) == 0

    def test_delete_failed_job_leaves_the_registry(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue)
        job.delete()
        assert job.id not in queue.failed_job_registry
        assert broker.load_results(job.id) == []

    def test_delete_with_dependents(self, broker):
        queue = Queue(connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        child = queue.enqueue(fixtures.add, 3, 4, depends_on=parent)
        parent.delete(delete_dependents=True)
        assert not Job.exists(child.id, connection=broker)
        assert child.id not in queue.deferred_job_registry

    def test_get_position(self, broker):
        queue = Queue(connection=broker)
        first = queue.enqueue(fixtures.add, 1, 2)
        second = queue.enqueue(fixtures.add, 1, 2)
        assert (first.get_position(), second.get_position()) == (0, 1)
