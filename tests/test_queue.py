"""Queues: enqueue and its options (S-01…S-07, S-19…S-21), contents, emptying, deleting.

Every test runs against the memory driver, Redis on fakeredis, and a real redis-server.
"""

from __future__ import annotations

import math

import pytest

from jq import Queue, SimpleWorker
from jq.broker import Place, PlaceKind
from jq.exceptions import (
    ConfigurationError,
    InvalidJobDependency,
    SerializationError,
    TimeoutFormatError,
)
from jq.job import Job, JobStatus
from tests import fixtures


def run_burst(queue: Queue) -> bool:
    """Run every queued job of ``queue`` with an in-process worker."""
    return SimpleWorker([queue], connection=queue.broker).work(burst=True)


class TestEnqueue:
    """S-01: enqueue returns a Job whose result is None until a worker ran it."""

    def test_result_is_none_until_a_worker_ran_it(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.say_hello, "Ada")
        assert isinstance(job, Job)
        assert job.result is None
        assert job.get_status() == "queued"
        run_burst(queue)
        assert job.result == "Hi there, Ada!"
        assert job.return_value() == "Hi there, Ada!"
        assert job.get_status() == JobStatus.FINISHED

    def test_enqueue_by_dotted_path(self, broker):
        """S-05: a function named by its dotted path."""
        queue = Queue("low", connection=broker)
        job = queue.enqueue("tests.fixtures.add", 3, 4)
        assert job.func_name == "tests.fixtures.add"
        run_burst(queue)
        assert job.result == 7

    def test_methods_callables_and_builtins(self, broker):
        queue = Queue(connection=broker)
        method_job = queue.enqueue(fixtures.Number(10).div, 4)
        callable_job = queue.enqueue(fixtures.CallableObject(), 21)
        builtin_job = queue.enqueue(abs, -8)
        run_burst(queue)
        assert method_job.result == 2.5
        assert callable_job.result == 42
        assert builtin_job.result == 8

    def test_args_and_kwargs_for_names_that_clash_with_options(self, broker):
        """S-04: args=/kwargs= reach the function; ttl= and description= stay enqueue's."""
        queue = Queue("low", connection=broker)
        job = queue.enqueue(
            fixtures.echo,
            ttl=30,
            args=("http://nvie.com",),
            kwargs={"description": "Function description", "ttl": 15},
        )
        assert job.ttl == 30
        assert tuple(job.args) == ("http://nvie.com",)
        assert tuple(Job.fetch(job.id, connection=broker).args) == ("http://nvie.com",)
        assert job.kwargs == {"description": "Function description", "ttl": 15}
        run_burst(queue)
        assert job.result == (("http://nvie.com",), {"description": "Function description", "ttl": 15})

    def test_a_timeout_keyword_goes_to_the_function(self, broker):
        """Only job_timeout is enqueue's: requests.get(url, timeout=5) keeps its own timeout."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.echo, "url", timeout=5)
        assert job.kwargs == {"timeout": 5}
        assert job.timeout == 180

    def test_positional_args_with_explicit_args_is_refused(self, broker):
        queue = Queue(connection=broker)
        with pytest.raises(ConfigurationError, match="either positionally or with args="):
            queue.enqueue(fixtures.echo, 1, args=(2,))
        assert len(queue) == 0

    def test_options_job_id_description_meta(self, broker):
        """S-03."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, job_id="my_id", description="adding", meta={"owner": "ada"})
        fetched = Job.fetch("my_id", connection=broker)
        assert fetched.description == "adding"
        assert fetched.meta == {"owner": "ada"}
        assert fetched.origin == "default"
        assert job.key == broker.job_key("my_id") == "jq:job:my_id"

    def test_default_description_is_the_call(self, broker):
        job = Queue(connection=broker).enqueue(fixtures.add, 1, y=2)
        assert job.description == "tests.fixtures.add(1, y=2)"

    def test_at_front(self, broker):
        """S-03: at_front puts the job first."""
        queue = Queue(connection=broker)
        first = queue.enqueue(fixtures.add, 1, 1)
        second = queue.enqueue(fixtures.add, 2, 2)
        urgent = queue.enqueue(fixtures.add, 3, 3, at_front=True)
        assert queue.job_ids == [urgent.id, first.id, second.id]

    def test_enqueue_call(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue_call(fixtures.add, args=(2,), kwargs={"y": 5}, timeout="2m", result_ttl=60)
        assert job.timeout == 120
        assert job.result_ttl == 60
        run_burst(queue)
        assert job.result == 7


class TestTimeouts:
    """S-06 and S-07: job_timeout forms, queue defaults, per-job override."""

    @pytest.mark.parametrize(
        ("given", "seconds"),
        [(30, 30), ("30", 30), ("1h", 3600), ("3m", 180), ("5s", 5), ("2d", 172800), (-1, -1), ("-1", -1)],
    )
    def test_timeout_forms(self, broker, given, seconds):
        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2, job_timeout=given)
        assert job.timeout == seconds
        assert Job.fetch(job.id, connection=broker).timeout == seconds

    @pytest.mark.parametrize("bad", ["1x", "", "abc", "5y", 0, -5, "-3", 1.5, float("nan"), True, [1]])
    def test_bad_timeout_is_refused_and_nothing_is_written(self, broker, bad):
        queue = Queue(connection=broker)
        with pytest.raises(TimeoutFormatError, match="job_timeout"):
            queue.enqueue(fixtures.add, 1, 2, job_timeout=bad)
        assert len(queue) == 0
        assert broker.queue_names() == []

    def test_default_timeout_is_180_seconds(self, broker):
        assert Queue(connection=broker).enqueue(fixtures.add, 1, 2).timeout == 180

    def test_queue_default_and_per_job_override(self, broker):
        high = Queue("high", default_timeout=8, connection=broker)
        low = Queue("low", default_timeout=600, connection=broker)
        assert high.enqueue(fixtures.add, 1, 2).timeout == 8
        assert low.enqueue(fixtures.add, 1, 2).timeout == 600
        assert low.enqueue(fixtures.add, 1, 2, job_timeout=3600).timeout == 3600

    def test_bad_queue_default_timeout(self, broker):
        with pytest.raises(TimeoutFormatError, match="default_timeout"):
            Queue(default_timeout="soon", connection=broker)


class TestTTLs:
    """S-19, S-20, S-21: result_ttl, ttl and failure_ttl."""

    def test_result_ttl_default_500(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        run_burst(queue)
        remaining = broker.job_ttl(job.id)
        assert remaining is not None and 490 < remaining <= 500
        assert job.id in queue.finished_job_registry

    def test_result_ttl_zero_deletes_at_once(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, result_ttl=0)
        run_burst(queue)
        assert not Job.exists(job.id, connection=broker)
        assert job.id not in queue.finished_job_registry

    def test_result_ttl_minus_one_keeps_forever(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, result_ttl=-1)
        run_burst(queue)
        assert Job.exists(job.id, connection=broker)
        assert broker.job_ttl(job.id) is None
        assert queue.finished_job_registry.get_expiration_time(job) is None
        assert job.result == 3

    def test_result_ttl_one_day(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, result_ttl=86400)
        run_burst(queue)
        remaining = broker.job_ttl(job.id)
        assert remaining is not None and 86390 < remaining <= 86400

    def test_ttl_drops_a_job_not_started_in_time(self, broker):
        """S-20: a queued job whose ttl passed is never run.

        As documented (docs/tutorial.md, the contract's queue_length): its record is gone at once,
        but its id still counts in len/count/job_ids until a claim drops it.
        """
        from jq.testing.helpers import wait_for

        queue = Queue(connection=broker)
        doomed = queue.enqueue(fixtures.add, 1, 2, ttl=1)
        kept = queue.enqueue(fixtures.add, 2, 2)
        assert wait_for(lambda: not Job.exists(doomed.id, connection=broker), timeout=30)
        assert len(queue) == queue.count == 2
        assert queue.job_ids == [doomed.id, kept.id]
        assert [job.id for job in queue.jobs] == [kept.id]
        run_burst(queue)
        assert kept.result == 4
        assert not Job.exists(doomed.id, connection=broker)
        assert queue.finished_job_registry.get_job_ids() == [kept.id]
        assert len(queue) == queue.count == 0 and queue.job_ids == []

    def test_ttl_is_removed_once_the_job_starts(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, ttl=100, result_ttl=-1)
        assert broker.job_ttl(job.id) is not None
        run_burst(queue)
        assert broker.job_ttl(job.id) is None

    def test_failure_ttl_default_one_year(self, broker):
        """S-21."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue)
        remaining = broker.job_ttl(job.id)
        year = 365 * 24 * 3600
        assert remaining is not None and year - 10 < remaining <= year
        expires = queue.failed_job_registry.get_expiration_time(job)
        assert expires is not None

    def test_failure_ttl_custom(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1, failure_ttl=300)
        run_burst(queue)
        remaining = broker.job_ttl(job.id)
        assert remaining is not None and 290 < remaining <= 300

    @pytest.mark.parametrize(
        ("option", "bad"),
        [
            ("ttl", 0),
            ("ttl", -2),
            ("result_ttl", -5),
            ("failure_ttl", -2),
            ("ttl", "forever"),
            ("result_ttl", 1.5),
        ],
    )
    def test_bad_ttls_are_refused(self, broker, option, bad):
        queue = Queue(connection=broker)
        with pytest.raises(TimeoutFormatError, match=option):
            queue.enqueue(fixtures.add, 1, 2, **{option: bad})
        assert len(queue) == 0
        assert broker.queue_names() == []


class TestQueueContents:
    """S-02: named queues, len, count, job_ids, jobs, fetch_job, empty, delete."""

    def test_named_queue_created_on_first_enqueue(self, broker):
        assert Queue.all(connection=broker) == []
        low = Queue("low", connection=broker)
        assert broker.queue_names() == []
        low.enqueue(fixtures.add, 1, 2)
        assert [queue.name for queue in Queue.all(connection=broker)] == ["low"]

    def test_len_count_ids_jobs(self, broker):
        queue = Queue(connection=broker)
        jobs = [queue.enqueue(fixtures.add, i, i) for i in range(3)]
        assert len(queue) == queue.count == 3
        assert queue.job_ids == [job.id for job in jobs]
        assert [job.id for job in queue.jobs] == [job.id for job in jobs]
        assert queue.get_job_ids(1, 1) == [jobs[1].id]
        assert queue.get_job_position(jobs[2]) == 2

    def test_fetch_job(self, broker):
        queue = Queue(connection=broker)
        other = Queue("other", connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, job_id="my_id")
        elsewhere = other.enqueue(fixtures.add, 1, 2)
        assert queue.fetch_job("my_id") == job
        assert queue.fetch_job("missing") is None
        assert queue.fetch_job(elsewhere.id) is None

    def test_empty_deletes_waiting_jobs(self, broker):
        queue = Queue(connection=broker)
        jobs = [queue.enqueue(fixtures.add, i, i) for i in range(3)]
        assert queue.empty() == 3
        assert len(queue) == 0
        assert all(not Job.exists(job.id, connection=broker) for job in jobs)

    def test_delete_with_jobs(self, broker):
        queue = Queue("doomed", connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        queue.delete(delete_jobs=True)
        assert "doomed" not in broker.queue_names()
        assert not Job.exists(job.id, connection=broker)
        # Enqueueing recreates it.
        queue.enqueue(fixtures.add, 1, 2)
        assert "doomed" in broker.queue_names()

    def test_delete_keeping_jobs(self, broker):
        queue = Queue("doomed", connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        queue.delete(delete_jobs=False)
        assert len(queue) == 0
        assert Job.exists(job.id, connection=broker)

    def test_remove(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert queue.remove(job)
        assert len(queue) == 0
        assert not queue.remove(job)

    def test_registries_are_attributes(self, broker):
        queue = Queue("q", connection=broker)
        expected = {
            "started_job_registry": PlaceKind.STARTED,
            "finished_job_registry": PlaceKind.FINISHED,
            "failed_job_registry": PlaceKind.FAILED,
            "deferred_job_registry": PlaceKind.DEFERRED,
            "scheduled_job_registry": PlaceKind.SCHEDULED,
            "canceled_job_registry": PlaceKind.CANCELED,
        }
        for attribute, kind in expected.items():
            registry = getattr(queue, attribute)
            assert registry.place == Place(kind, "q")
            assert registry.key == broker.place_key(Place(kind, "q"))
            assert len(registry) == registry.count == 0

    @pytest.mark.parametrize("bad", ["", "has space", "a" * 129, "new\nline", "{tag}", 5])
    def test_bad_queue_name(self, broker, bad):
        with pytest.raises(ConfigurationError, match="queue name"):
            Queue(bad, connection=broker)

    def test_unknown_keyword_argument(self, broker):
        with pytest.raises(TypeError, match="unexpected keyword"):
            Queue("q", connection=broker, asynchronous=False)


class TestEnqueueMany:
    """enqueue_many + prepare_data."""

    def test_enqueue_many(self, broker):
        queue = Queue(connection=broker)
        jobs = queue.enqueue_many(
            [
                Queue.prepare_data(fixtures.add, args=(1, 2), job_id="first", timeout="1m"),
                Queue.prepare_data(fixtures.say_hello, kwargs={"name": "Bob"}, result_ttl=-1),
                Queue.prepare_data(fixtures.add, args=(9, 9), at_front=True, meta={"k": "v"}),
            ]
        )
        assert [job.get_status() for job in jobs] == ["queued"] * 3
        assert queue.job_ids == [jobs[2].id, "first", jobs[1].id]
        assert jobs[0].timeout == 60
        run_burst(queue)
        assert [job.result for job in jobs] == [3, "Hi there, Bob!", 18]

    def test_one_bad_job_means_nothing_is_written(self, broker):
        queue = Queue(connection=broker)
        with pytest.raises(TimeoutFormatError):
            queue.enqueue_many(
                [
                    Queue.prepare_data(fixtures.add, args=(1, 2)),
                    Queue.prepare_data(fixtures.add, args=(1, 2), timeout="never"),
                ]
            )
        assert len(queue) == 0

    def test_enqueue_many_with_dependencies(self, broker):
        queue = Queue(connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 1)
        (child,) = queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(2, 2), depends_on=parent)])
        assert child.get_status() == "deferred"
        run_burst(queue)
        assert child.result == 4


class TestDependencies:
    """S-11: a dependent waits until its dependency finished successfully."""

    def test_dependent_is_deferred_then_runs(self, broker):
        queue = Queue("low", connection=broker)
        report = queue.enqueue(fixtures.add, 1, 2)
        send = queue.enqueue(fixtures.say_hello, "report", depends_on=report)
        assert send.get_status() == "deferred"
        assert send.id in queue.deferred_job_registry
        assert queue.job_ids == [report.id]
        run_burst(queue)
        assert send.result == "Hi there, report!"
        assert send.dependency_ids == [report.id]
        assert [job.id for job in send.dependencies] == [report.id]

    def test_depends_on_id_and_list(self, broker):
        queue = Queue(connection=broker)
        a = queue.enqueue(fixtures.add, 1, 1)
        b = queue.enqueue(fixtures.add, 2, 2)
        c = queue.enqueue(fixtures.add, 3, 3, depends_on=[a, b.id])
        assert c.get_status() == "deferred"
        run_burst(queue)
        assert c.result == 6

    def test_dependent_of_finished_job_is_queued_at_once(self, broker):
        queue = Queue(connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 1)
        run_burst(queue)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        assert child.get_status() == "queued"

    def test_dependent_of_failed_job_does_not_run(self, broker):
        queue = Queue(connection=broker)
        parent = queue.enqueue(fixtures.div_by_zero, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        run_burst(queue)
        assert parent.get_status() == "failed"
        assert child.get_status() == "deferred"
        assert child.result is None

    def test_an_unknown_dependency_counts_as_met(self, broker):
        """B6: as in RQ, a job depending on an id that has no job is queued."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, depends_on="no-such-parent")
        assert job.get_status() == "queued"
        assert queue.job_ids == [job.id]
        assert job.dependency_ids == ["no-such-parent"]
        run_burst(queue)
        assert job.result == 3

    def test_self_dependency_is_refused(self, broker):
        with pytest.raises(InvalidJobDependency, match="itself"):
            Queue(connection=broker).enqueue(fixtures.add, 1, 2, job_id="me", depends_on="me")


class TestBadInput:
    """Bad input gets a clear error and writes nothing."""

    def test_unserializable_argument(self, broker):
        import threading

        queue = Queue(connection=broker)
        with pytest.raises(SerializationError, match="cannot be serialized"):
            queue.enqueue(fixtures.echo, threading.Lock())
        assert len(queue) == 0
        assert broker.queue_names() == []

    def test_lambda_is_refused(self, broker):
        with pytest.raises(ConfigurationError, match="module level"):
            Queue(connection=broker).enqueue(lambda: 1)

    @pytest.mark.parametrize("bad", ["has space", "x" * 200, "a:b", ""])
    def test_bad_job_id(self, broker, bad):
        queue = Queue(connection=broker)
        with pytest.raises(ConfigurationError, match="job id"):
            queue.enqueue(fixtures.add, 1, 2, job_id=bad)
        assert len(queue) == 0

    def test_not_a_function(self, broker):
        with pytest.raises(ConfigurationError, match="function or a dotted path"):
            Queue(connection=broker).enqueue(42)

    def test_bad_meta(self, broker):
        with pytest.raises(ConfigurationError, match="meta must be a dict"):
            Queue(connection=broker).enqueue(fixtures.add, 1, 2, meta=["x"])


def test_scores_for_kept_forever_are_infinite(broker):
    queue = Queue(connection=broker)
    job = queue.enqueue(fixtures.add, 1, 2, result_ttl=-1)
    run_burst(queue)
    assert math.isinf(broker.registry_score(Place(PlaceKind.FINISHED, "default"), job.id))
