"""RQ 3.0's registry API (``rq.registry``) on every driver: each public member with RQ's
signature and meaning (issue 12, stream A), ``pipeline=`` as ruling B19 says.
"""

from __future__ import annotations

import datetime
import time

import pytest
import redis

from jq import Queue, SimpleWorker
from jq.broker import Broker
from jq.exceptions import ConfigurationError, InvalidJobOperation, NoSuchJobError, UnsupportedByBrokerError
from jq.job import Job
from jq.lifecycle import claim_fields
from jq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ReadyJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
    clean_registries,
)
from jq.timeouts import TimerDeathPenalty, UnixSignalDeathPenalty
from jq_backends.memory import MemoryBroker
from tests import fixtures

DAY = 86400


def finished_ids(queue: Queue, count: int) -> list[str]:
    """``count`` jobs of ``queue`` put in its finished registry, due 1, 2... days from now."""
    registry = queue.finished_job_registry
    ids = []
    for number in range(count):
        job = queue.enqueue(fixtures.add, number, 1, job_id=f"job{number}")
        registry.add(job, ttl=(number + 1) * DAY)
        ids.append(job.id)
    return ids


def claim(queue: Queue, lease_seconds: float = 100.0) -> Job:
    """Claim the next job of ``queue`` as a worker would (it is then started, under a lease)."""
    claimed = queue.broker.claim([queue.name], claim_fields("w1"), time.time() + lease_seconds)
    assert claimed is not None
    return Job.fetch(claimed.job_id, connection=queue.broker)


def pipeline_of(broker: Broker):
    """A redis-py pipeline of the broker's client, or None for a broker without pipelines."""
    connection = broker.connection
    return connection.pipeline() if isinstance(connection, redis.Redis) else None


class TestReading:
    def test_get_job_ids_orders_slices_and_reverses(self, broker):
        queue = Queue(connection=broker)
        ids = finished_ids(queue, 5)
        registry = queue.finished_job_registry
        assert registry.get_job_ids() == ids
        assert registry.get_job_ids(1, 2) == ids[1:3]
        assert registry.get_job_ids(desc=True) == ids[::-1]
        assert registry.get_job_ids(0, 1, desc=True) == [ids[4], ids[3]]
        assert registry.get_job_ids(3, -1, desc=True) == [ids[1], ids[0]]
        assert registry.get_job_ids(-2, -1, desc=True) == [ids[1], ids[0]]
        assert registry.get_job_ids(4, 9, desc=True) == [ids[0]]
        assert registry.get_job_ids(5, 9, desc=True) == []
        assert registry.get_job_ids(2, 1, desc=True) == []

    def test_cleanup_flag_of_counts_and_ids(self, broker):
        queue = Queue(connection=broker)
        ids = finished_ids(queue, 2)
        registry = queue.finished_job_registry
        registry.add("gone", ttl=-5)  # due 5 seconds ago: expired
        assert registry.get_job_count(cleanup=False) == 3
        assert registry.get_job_ids(cleanup=False) == ["gone", *ids]
        assert registry.get_expired_job_ids() == ["gone"]
        assert registry.get_job_count() == 2
        assert registry.get_job_ids(cleanup=False) == ids
        assert registry.count == len(registry) == 2

    def test_contains_a_job_or_an_id(self, broker):
        queue = Queue(connection=broker)
        (job_id,) = finished_ids(queue, 1)
        registry = queue.finished_job_registry
        assert job_id in registry
        assert Job.fetch(job_id, connection=broker) in registry
        assert "other" not in registry
        assert 42 not in registry

    def test_get_expired_job_ids_at_a_time(self, broker):
        queue = Queue(connection=broker)
        ids = finished_ids(queue, 3)
        registry = queue.finished_job_registry
        assert registry.get_expired_job_ids() == []
        assert registry.get_expired_job_ids(time.time() + 2.5 * DAY) == ids[:2]

    def test_key_and_key_template(self, broker):
        registry = FailedJobRegistry("reports", connection=broker)
        assert registry.key == "jq:failed:reports"
        assert registry.key_template == "jq:failed:{0}"
        assert registry.key_template.format("reports") == registry.key
        assert FinishedJobRegistry.key_template == "jq:finished:{0}"
        assert StartedJobRegistry.key_template == "jq:started:{0}"

    def test_get_queue_and_death_penalty_class(self, broker):
        registry = StartedJobRegistry(
            "low", connection=broker, death_penalty_class="jq.timeouts.TimerDeathPenalty"
        )
        assert registry.get_queue() == Queue("low", connection=broker)
        assert registry.death_penalty_class is TimerDeathPenalty
        assert StartedJobRegistry("low", connection=broker).death_penalty_class is UnixSignalDeathPenalty

    def test_parse_job_id(self):
        assert BaseRegistry.parse_job_id(b"abc") == "abc"
        assert StartedJobRegistry.parse_job_id("abc:0123") == "abc"


class TestWriting:
    def test_add_reports_whether_it_added_and_xx_only_updates(self, broker):
        registry = FinishedJobRegistry(connection=broker)
        assert registry.add("a", ttl=60) == 1
        assert registry.add("a", ttl=120) == 0
        assert registry.add("b", ttl=60, xx=True) == 0
        assert "b" not in registry
        registry.add("a", ttl=-1, xx=True)
        assert registry.get_expiration_time("a") is None  # -1: never
        assert registry.get_job_ids() == ["a"]

    def test_remove_reports_whether_it_was_there(self, broker):
        queue = Queue(connection=broker)
        (job_id,) = finished_ids(queue, 1)
        registry = queue.finished_job_registry
        assert registry.remove(job_id) == 1
        assert registry.remove(job_id) == 0
        assert Job.exists(job_id, connection=broker)

    def test_remove_and_delete_the_job(self, broker):
        queue = Queue(connection=broker)
        (job_id,) = finished_ids(queue, 1)
        assert queue.finished_job_registry.remove(job_id, delete_job=True) == 1
        assert not Job.exists(job_id, connection=broker)
        queue.finished_job_registry.add(job_id, ttl=60)  # an entry whose job is gone
        with pytest.raises(NoSuchJobError):  # as in RQ; the entry is removed all the same
            queue.finished_job_registry.remove(job_id, delete_job=True)
        assert job_id not in queue.finished_job_registry

    def test_requeue_says_what_is_wrong(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue], connection=broker).work(burst=True)
        with pytest.raises(NoSuchJobError):
            queue.failed_job_registry.requeue("no-such-job")
        with pytest.raises(InvalidJobOperation, match="not in"):
            queue.finished_job_registry.requeue(job)
        assert queue.failed_job_registry.requeue(job.id).get_status() == "queued"

    def test_failed_registry_add_keeps_the_job_and_its_failure(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        registry = queue.failed_job_registry
        assert registry.add(job, ttl=600, exc_string="Traceback: boom") is None  # as in RQ
        assert job.id in registry
        assert 590 < broker.job_ttl(job.id) <= 600  # the record is kept as long as the entry
        assert broker.load_job_fields(job.id, ["exc_info"]) == [b"Traceback: boom"]
        assert job.get_status() == "queued"  # its status is left alone, as in RQ
        registry.add(job)  # default: one year
        assert broker.job_ttl(job.id) > 364 * DAY
        registry.add(job, ttl=-1)
        assert broker.job_ttl(job.id) is None
        assert registry.get_expiration_time(job) is None
        registry.add(job, ttl=-5)  # another negative ttl: an expired entry, the record left alone
        assert job.id in registry.get_expired_job_ids() and broker.job_ttl(job.id) is None

    def test_deferred_registry_add_scores_now(self, broker):
        registry = DeferredJobRegistry(connection=broker)
        registry.add("a", ttl=5)
        registry.add("b")
        assert registry.get_job_ids(desc=True) == ["b", "a"]
        assert abs(registry.get_expiration_time("a").timestamp() - time.time()) < 60


class TestScheduled:
    def test_schedule_and_read_back(self, broker):
        queue = Queue(connection=broker)
        registry = queue.scheduled_job_registry
        when = datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        assert registry.schedule("a", when) == 1
        assert registry.get_scheduled_time("a") == when
        naive = datetime.datetime(2031, 1, 2, 3, 4, 5)  # the host's local time, as in RQ
        registry.schedule("b", naive)
        assert registry.get_scheduled_time("b") == naive.astimezone(datetime.timezone.utc)
        with pytest.raises(NoSuchJobError):
            registry.get_scheduled_time("c")

    def test_due_ids_in_chunks_and_removal(self, broker):
        registry = ScheduledJobRegistry(connection=broker)
        now = time.time()
        for number in range(5):
            registry.schedule(
                f"j{number}", datetime.datetime.fromtimestamp(now - 50 + number * 20, datetime.timezone.utc)
            )
        assert registry.get_jobs_to_schedule() == ["j0", "j1", "j2"]
        assert registry.get_jobs_to_schedule(chunk_size=2) == ["j0", "j1"]
        assert registry.get_jobs_to_schedule(now + 100) == ["j0", "j1", "j2", "j3", "j4"]
        assert registry.get_jobs_to_enqueue() == ["j0", "j1", "j2"]
        with pytest.warns(DeprecationWarning):
            assert registry.remove_jobs() == 3
        assert registry.get_job_ids() == ["j3", "j4"]


class TestStarted:
    def test_job_and_execution_ids(self, broker):
        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 2, job_id="first")
        queue.enqueue(fixtures.add, 1, 2, job_id="second")
        first, second = claim(queue, 100), claim(queue, 200)
        registry = queue.started_job_registry
        expected = [("first", first.execution_id), ("second", second.execution_id)]
        assert registry.get_job_and_execution_ids() == expected
        assert registry.get_job_and_execution_ids(desc=True) == expected[::-1]
        assert registry.get_job_ids() == ["first", "second"]

    def test_add_and_remove_are_refused_as_in_rq(self, broker):
        registry = StartedJobRegistry(connection=broker)
        with pytest.raises(NotImplementedError):
            registry.add("a")
        with pytest.raises(NotImplementedError):
            registry.remove("a")

    def test_executions_add_and_remove(self, broker):
        from jq.executions import Execution

        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 2, job_id="one")
        job = claim(queue)
        registry = queue.started_job_registry
        stale = Execution("not-current", job.id, broker)
        registry.remove_execution(stale)
        assert job.id in registry  # another execution's entry is not this one's
        registry.remove_execution(Execution(job.execution_id, job.id, broker))
        assert job.id not in registry
        registry.add_execution(Execution(job.execution_id, job.id, broker), pipeline=None, ttl=60)
        assert job.id in registry
        registry.remove_executions(job)
        assert job.id not in registry

    def test_counting_ends_abandoned_jobs_and_calls_the_handlers(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        claim(queue, lease_seconds=-1)  # its lease ran out: its worker died
        registry = queue.started_job_registry
        assert registry.get_job_count(cleanup=False) == 1
        seen = []
        assert registry.cleanup(
            exception_handlers=[lambda job, *exc_info: seen.append((job.id, exc_info[0]))]
        )
        assert seen[0][0] == job.id and seen[0][1].__name__ == "AbandonedJobError"
        assert job.get_status() == "failed"
        assert registry.count == 0


class TestOthers:
    def test_canceled_registry_has_no_expired_ids_as_in_rq(self, broker):
        with pytest.raises(NotImplementedError):
            CanceledJobRegistry(connection=broker).get_expired_job_ids()

    def test_ready_registry_is_always_empty(self, broker):
        registry = ReadyJobRegistry(connection=broker)
        assert registry.count == 0
        assert registry.get_job_ids() == []
        assert registry.cleanup() == []
        assert registry.key is None
        assert "a" not in registry
        with pytest.raises(UnsupportedByBrokerError, match="no ready state"):
            registry.add("a")

    def test_clean_registries(self, broker):
        queue = Queue(connection=broker)
        queue.finished_job_registry.add("old", ttl=-10)
        queue.failed_job_registry.add("older", ttl=-10)
        job = queue.enqueue(fixtures.add, 1, 2)
        claim(queue, lease_seconds=-1)
        clean_registries(queue)
        assert queue.finished_job_registry.get_job_ids(cleanup=False) == []
        assert queue.failed_job_registry.get_job_ids(cleanup=False) == [job.id]  # the abandoned job
        assert job.get_status() == "failed"

    def test_equality_by_kind_name_and_store(self, broker):
        assert FailedJobRegistry("a", connection=broker) == FailedJobRegistry("a", connection=broker)
        assert FailedJobRegistry("a", connection=broker) != FinishedJobRegistry("a", connection=broker)
        assert FailedJobRegistry("a", connection=broker) != FailedJobRegistry("b", connection=broker)
        assert (
            len({FailedJobRegistry("a", connection=broker), FailedJobRegistry("a", connection=broker)}) == 1
        )


def test_two_clients_of_one_server_are_one_store(redis_server):
    first, second = redis_server.client(), redis_server.client()
    try:
        assert FailedJobRegistry("a", connection=first) == FailedJobRegistry("a", connection=second)
    finally:
        first.close()
        second.close()


class TestPipelines:
    """Ruling B19: a write given ``pipeline=`` happens when the pipeline is executed."""

    def test_writes_wait_for_execute(self, broker):
        pipe = pipeline_of(broker)
        if pipe is None:
            pytest.skip("the memory broker has no pipelines (see test_a_broker_without_pipelines_refuses)")
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        finished, failed, scheduled = (
            queue.finished_job_registry,
            queue.failed_job_registry,
            queue.scheduled_job_registry,
        )
        finished.add("f1", ttl=60)
        scheduled.add("due", ttl=-10)
        assert finished.add("f2", ttl=60, pipeline=pipe) is pipe
        assert finished.add("f1", ttl=-1, pipeline=pipe, xx=True) is pipe
        assert finished.remove("f1", pipeline=pipe) is pipe
        failed.add(job, ttl=-1, exc_string="boom", pipeline=pipe)
        scheduled.schedule(
            "later", datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc), pipeline=pipe
        )
        with pytest.warns(DeprecationWarning):
            scheduled.remove_jobs(pipeline=pipe)
        # nothing written yet
        assert finished.get_job_ids(cleanup=False) == ["f1"]
        assert job.id not in failed and "later" not in scheduled and "due" in scheduled
        pipe.execute()
        assert finished.get_job_ids(cleanup=False) == ["f2"]
        assert job.id in failed and broker.job_ttl(job.id) is None
        assert broker.load_job_fields(job.id, ["exc_info"]) == [b"boom"]
        assert scheduled.get_job_ids() == ["later"]

    def test_a_transaction_pipeline_writes_all_at_once(self, broker):
        pipe = pipeline_of(broker)
        if pipe is None:
            pytest.skip("the memory broker has no pipelines")
        registry = FinishedJobRegistry(connection=broker)
        with broker.connection.pipeline(transaction=True) as transaction:
            registry.add("a", ttl=60, pipeline=transaction)
            registry.add("b", ttl=120, pipeline=transaction)
            transaction.execute()
        assert registry.get_job_ids() == ["a", "b"]

    def test_a_broker_without_pipelines_refuses(self):
        registry = FinishedJobRegistry(connection=MemoryBroker())
        with pytest.raises(UnsupportedByBrokerError, match="has no pipelines"):
            registry.add("a", pipeline=object())
        assert "a" not in registry

    def test_something_else_than_a_pipeline_is_refused(self, fakeredis_client):
        registry = FinishedJobRegistry(connection=fakeredis_client)
        with pytest.raises(ConfigurationError, match="redis-py pipeline"):
            registry.remove("a", pipeline=fakeredis_client)


def test_jqs_own_listings_leave_abandoned_jobs_to_maintenance(broker):
    from jq.admin.overview import queue_counts
    from jq.queueing.listing import place_job_ids

    queue = Queue(connection=broker)
    job = queue.enqueue(fixtures.add, 1, 2)
    claim(queue, lease_seconds=-1)
    assert place_job_ids(queue, "started", 0, -1) == [job.id]
    assert queue_counts(broker, [queue.name])[0]["started"] == 1
    assert job.get_status() == "started"  # RQ's cleanup=True would have ended it
