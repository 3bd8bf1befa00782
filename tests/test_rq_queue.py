"""Queues behave as RQ 3.0's (issue 12): the enqueue call path, options, comparisons and members.

Each test runs on every driver (memory, fakeredis, real redis) where the store takes part.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from jq import Queue, Retry, SimpleWorker
from jq.broker import Broker
from jq.clock import scheduling_now
from jq.exceptions import DuplicateJobError, UnsupportedByBrokerError
from jq.job import Job, JobStatus
from jq.scheduler import Scheduler
from tests import fixtures

RQ_ENQUEUE_CALL_KEYWORDS = sorted(
    [
        "func", "args", "kwargs", "timeout", "result_ttl", "ttl", "failure_ttl", "description",
        "depends_on", "job_id", "at_front", "meta", "retry", "repeat", "on_success", "on_failure",
        "on_stopped", "rate_limit", "webhooks", "pipeline", "unique",
    ]
)  # fmt: skip


def run_burst(queue: Queue) -> bool:
    """Run every queued job of ``queue`` in this process."""
    return SimpleWorker([queue], connection=queue.broker).work(burst=True)


class RecordingQueue(Queue):
    """A subclass that overrides enqueue_call, as django-rq's DjangoRQ does."""

    calls: list[dict[str, Any]]

    def enqueue_call(self, *args: Any, **kwargs: Any) -> Job:  # type: ignore[override]
        self.calls = [*getattr(self, "calls", []), kwargs]
        return super().enqueue_call(*args, **kwargs)


class TestCallPath:
    """B2: enqueue → enqueue_call → create_job → enqueue_job, so overrides see every enqueue."""

    def test_enqueue_goes_through_enqueue_call(self, broker: Broker) -> None:
        queue = RecordingQueue("q", broker)
        job = queue.enqueue(fixtures.echo, 1, key="value", job_timeout=30, description="d")
        assert len(queue.calls) == 1
        call = queue.calls[0]
        assert sorted(call) == RQ_ENQUEUE_CALL_KEYWORDS
        assert (call["func"], call["args"], call["kwargs"]) == (fixtures.echo, (1,), {"key": "value"})
        assert (call["timeout"], call["description"]) == (30, "d")
        assert job.timeout == 30 and job.get_status() == JobStatus.QUEUED

    def test_an_override_decides(self, broker: Broker) -> None:
        """An override that holds enqueues back (django-rq's on-commit mode) holds them all."""
        held: list[dict[str, Any]] = []

        class Deferring(Queue):
            def enqueue_call(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                held.append(kwargs)
                return None

        queue = Deferring("q", connection=broker)
        queue.enqueue(fixtures.add, 1, 2)
        assert queue.count == 0 and len(held) == 1
        Queue("q", connection=broker).enqueue_call(**held[0])
        assert queue.count == 1

    def test_create_job_and_enqueue_job_are_the_steps(self, broker: Broker) -> None:
        seen: list[str] = []

        class Steps(Queue):
            def create_job(self, *args: Any, **kwargs: Any) -> Job:  # type: ignore[override]
                seen.append("create_job")
                return super().create_job(*args, **kwargs)

            def enqueue_job(self, *args: Any, **kwargs: Any) -> Job:  # type: ignore[override]
                seen.append("enqueue_job")
                return super().enqueue_job(*args, **kwargs)

        queue = Steps("q", connection=broker)
        queue.enqueue(fixtures.add, 1, 2)
        queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 2)
        assert seen == ["create_job", "enqueue_job", "create_job"]

    def test_private_enqueue_job_does_not_wait_for_dependencies(self, broker: Broker) -> None:
        """As RQ's ``_enqueue_job``, which django-rq's "enqueue" action calls on a deferred job:
        queued now, out of the deferred registry, and not released (run) again by its parent."""
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        child = queue.enqueue(fixtures.add, 3, 4, depends_on=parent)
        assert child.get_status() == JobStatus.DEFERRED
        fetched = Job.fetch(child.id, connection=broker)
        assert queue._enqueue_job(fetched) is fetched
        assert fetched.enqueued_at is not None
        assert child.get_status(refresh=True) == JobStatus.QUEUED
        assert queue.get_job_ids() == [parent.id, child.id]
        assert child.id not in queue.deferred_job_registry
        assert Job.fetch(child.id, connection=broker).dependency_ids == [parent.id]
        run_burst(queue)
        assert child.get_status(refresh=True) == JobStatus.FINISHED
        assert len(child.results()) == 1
        assert queue.count == 0

    def test_parse_args_returns_rqs_enqueue_args(self) -> None:
        parsed = Queue.parse_args(fixtures.add, 1, 2, job_timeout=5, at_front=True, extra=3)
        assert (parsed.func, parsed.args, parsed.kwargs) == (fixtures.add, (1, 2), {"extra": 3})
        assert (parsed.timeout, parsed.at_front, parsed.unique, parsed.pipeline) == (5, True, False, None)


class TestSignaturesInUse:
    """RQ 3.0's positional orders, as callers use them."""

    def test_connection_is_the_second_parameter(self, broker: Broker) -> None:
        queue = Queue("positional", broker)
        assert queue.broker is broker
        assert Queue("q", broker, 30).default_timeout == 30
        assert Queue.DEFAULT_TIMEOUT == 180

    def test_scheduling_by_rqs_keywords(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        when = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)
        at = queue.enqueue_at(datetime=when, f=fixtures.add)
        later = queue.enqueue_in(time_delta=datetime.timedelta(hours=1), func=fixtures.add)
        again = queue.schedule_job(Job.create(fixtures.add, (1, 2), connection=broker), datetime=when)
        assert [job.get_status() for job in (at, later, again)] == [JobStatus.SCHEDULED] * 3

    def test_prepare_data_positional_order(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        # func, args, kwargs, timeout, result_ttl, ttl, failure_ttl, description, depends_on, job_id
        data = Queue.prepare_data(fixtures.add, (1, 2), None, None, None, None, None, None, parent.id, "kid")
        (child,) = queue.enqueue_many([data])
        assert (child.id, child.dependency_ids) == ("kid", [parent.id])
        assert child.get_status() == JobStatus.DEFERRED


class TestComparisons:
    """B10, B39: queues are equal, hashed and sorted by name; a queue iterates over itself."""

    def test_equal_by_name_across_stores(self, broker: Broker) -> None:
        other = "memory://another-store"
        assert Queue("same", connection=broker) == Queue("same", connection=other)
        assert hash(Queue("same", connection=broker)) == hash(Queue("same", connection=other))
        assert len({Queue("same", connection=broker), Queue("same", connection=other)}) == 1
        assert Queue("a", connection=broker) != Queue("b", connection=broker)

    def test_sorted_by_name(self, broker: Broker) -> None:
        names = [queue.name for queue in sorted([Queue("b", broker), Queue("c", broker), Queue("a", broker)])]
        assert names == ["a", "b", "c"]
        assert Queue("a", broker) < Queue("b", broker) <= Queue("b", broker)

    def test_comparing_with_anything_else_raises(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        with pytest.raises(TypeError, match="Cannot compare queues"):
            _ = queue == "q"
        with pytest.raises(TypeError):
            _ = queue < "r"  # type: ignore[operator]

    def test_a_queue_iterates_over_itself(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        assert list(queue) == [queue]
        job = queue.enqueue(fixtures.add, 1, 2)
        with pytest.raises(TypeError):
            _ = job in queue  # as RQ: the queue is compared with the job
        assert SimpleWorker(queue, connection=broker).queue_names() == ["q"]


@pytest.fixture
def local_time_plus_seven() -> Iterator[None]:
    """This process's local time is UTC+7 for the test."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "JQT-7"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


class TestScheduling:
    """B9, B17, B18: naive datetimes are local time; a scheduled job keeps at_front."""

    @pytest.mark.usefixtures("local_time_plus_seven")
    def test_a_naive_datetime_is_local_time(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        job = queue.enqueue_at(datetime.datetime(2030, 10, 8, 9, 15), fixtures.add, 1, 2)
        due = datetime.datetime(2030, 10, 8, 2, 15, tzinfo=datetime.timezone.utc)
        assert queue.scheduled_job_registry.get_scheduled_time(job) == due
        aware = queue.enqueue_at(due, fixtures.add, 1, 2)
        assert queue.scheduled_job_registry.get_scheduled_time(aware) == due
        scheduled = queue.schedule_job(
            Job.create(fixtures.add, connection=broker), datetime.datetime(2030, 1, 1)
        )
        expected = datetime.datetime(2029, 12, 31, 17, tzinfo=datetime.timezone.utc)
        assert queue.scheduled_job_registry.get_scheduled_time(scheduled) == expected

    def test_a_scheduled_job_remembers_at_front(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        queue.enqueue(fixtures.add, 1, 1, job_id="waiting")
        front = queue.enqueue_in(
            datetime.timedelta(seconds=1), fixtures.add, 2, 2, at_front=True, job_id="front"
        )
        back = queue.enqueue_in(datetime.timedelta(seconds=1), fixtures.add, 3, 3, job_id="back")
        assert front.enqueued_at is None and back.enqueued_at is None
        Scheduler([queue]).tick(now=(scheduling_now() + datetime.timedelta(seconds=5)).timestamp())
        assert queue.job_ids == ["front", "waiting", "back"]
        assert Job.fetch("front", connection=broker).enqueued_at is not None

    def test_retry_enqueue_at_front(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        failing = queue.enqueue(
            fixtures.div_by_zero, 1, retry=Retry(max=1, enqueue_at_front=True), job_id="f"
        )
        queue.enqueue(fixtures.add, 1, 1, job_id="other")
        assert Job.fetch("f", connection=broker).enqueue_at_front_on_retry
        assert SimpleWorker([queue], connection=broker).work(burst=True, max_jobs=1)
        # The failed attempt went back to the front, ahead of the job enqueued after it.
        assert failing.get_status() == JobStatus.QUEUED
        assert queue.job_ids == ["f", "other"]


class TestAtFront:
    """B17: at_front takes any truthy or falsy value, as in RQ."""

    @pytest.mark.parametrize(
        ("value", "first"), [(None, False), (0, False), ("", False), (1, True), ("yes", True)]
    )
    def test_truthiness(self, broker: Broker, value: Any, first: bool) -> None:
        queue = Queue("q", connection=broker)
        queue.enqueue(fixtures.add, 1, 1, job_id="already")
        job = queue.enqueue(fixtures.add, 1, 2, at_front=value)
        assert (queue.job_ids[0] == job.id) is first
        call = queue.enqueue_call(fixtures.add, (1, 2), at_front=value)
        assert (queue.job_ids[0] == call.id) is first


class TestEnqueuedAt:
    """B18: a job's enqueued_at is set when it is put on its queue."""

    def test_deferred_and_scheduled_jobs_have_none_until_queued(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        child = queue.enqueue(fixtures.add, 3, 4, depends_on=parent)
        later = queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 1)
        assert parent.enqueued_at is not None
        assert child.enqueued_at is None and Job.fetch(child.id, connection=broker).enqueued_at is None
        assert later.enqueued_at is None and Job.fetch(later.id, connection=broker).enqueued_at is None
        run_burst(queue)
        child.refresh()
        assert child.enqueued_at is not None and child.get_status() == JobStatus.FINISHED

    def test_a_job_whose_dependencies_are_met_is_queued_with_its_time(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        run_burst(queue)
        child = queue.enqueue(fixtures.add, 3, 4, depends_on=parent)
        assert child.get_status() == JobStatus.QUEUED
        stored = Job.fetch(child.id, connection=broker).enqueued_at
        assert stored is not None and stored == child.enqueued_at


class TestEnqueueMany:
    """B15: a job id given twice refuses the batch; B29: group_id is refused."""

    def test_a_repeated_job_id_is_refused_and_nothing_stored(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        datas = [
            Queue.prepare_data(fixtures.add, (1, 2), job_id="first"),
            Queue.prepare_data(fixtures.add, (1, 2), job_id="dup"),
            Queue.prepare_data(fixtures.add, (3, 4), job_id="dup"),
        ]
        with pytest.raises(ValueError, match="'dup' appears more than once"):
            queue.enqueue_many(datas)
        assert queue.job_ids == [] and not Job.exists("dup", broker) and not Job.exists("first", broker)

    def test_group_id_puts_the_jobs_in_the_group(self, broker: Broker) -> None:
        """Stream F: group_id= joins the jobs to that group (it was refused before)."""
        from jq.group import Group

        queue = Queue("q", connection=broker)
        jobs = queue.enqueue_many([Queue.prepare_data(fixtures.add, (1, 2))], group_id="g")
        assert queue.count == 1 and jobs[0].group_id == "g"
        assert Group.fetch("g", connection=broker).get_jobs() == jobs
        assert len(queue.enqueue_many([Queue.prepare_data(fixtures.add, (1, 2))], group_id=None)) == 1


class TestRq3Options:
    """B29: repeat=, rate_limit=, webhooks= are enqueue options, never the function's."""

    @pytest.mark.parametrize("option", ["repeat", "webhooks", "rate_limit"])
    def test_anything_but_their_class_is_a_type_error(self, broker: Broker, option: str) -> None:
        """Stream F: repeat=, rate_limit= and webhooks= are taken (they were refused before); what
        is not a Repeat, a RateLimit or a list of Webhook is a TypeError, and nothing is enqueued."""
        queue = Queue("q", connection=broker)
        bad = [object()] if option == "webhooks" else object()
        for enqueue in (
            lambda: queue.enqueue(fixtures.echo, 1, **{option: bad}),
            lambda: queue.enqueue_call(fixtures.echo, (1,), **{option: bad}),
            lambda: queue.enqueue_in(datetime.timedelta(hours=1), fixtures.echo, 1, **{option: bad}),
        ):
            with pytest.raises(TypeError):
                enqueue()
        assert queue.count == 0 and queue.scheduled_job_registry.count == 0

    def test_consumed_when_none(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        job = queue.enqueue(fixtures.echo, 1, repeat=None, rate_limit=None, webhooks=None)
        assert job.kwargs == {}
        run_burst(queue)
        assert job.return_value() == ((1,), {})
        assert queue.enqueue_call(fixtures.echo, (1,), repeat=None, rate_limit=None, webhooks=[]).kwargs == {}


class TestUnique:
    """B20: unique=True as RQ's: refused with dependencies, refused while the id has a record."""

    def test_refused_with_dependencies(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        with pytest.raises(ValueError, match="not supported with job dependencies"):
            queue.enqueue(fixtures.add, 1, 2, job_id="u", unique=True, depends_on=parent)
        assert not Job.exists("u", broker)

    def test_refused_while_an_ended_job_has_the_id(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        queue.enqueue(fixtures.add, 1, 2, job_id="fin")
        run_burst(queue)
        with pytest.raises(DuplicateJobError):
            queue.enqueue(fixtures.add, 1, 2, job_id="fin", unique=True)
        with pytest.raises(DuplicateJobError):
            queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 2, job_id="fin", unique=True)
        Job.fetch("fin", connection=broker).delete()
        assert queue.enqueue(fixtures.add, 1, 2, job_id="fin", unique=True).get_status() == JobStatus.QUEUED


class TestQueueMembers:
    """RQ's other Queue members."""

    def test_compact_drops_ids_whose_job_is_gone(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        kept = [queue.enqueue(fixtures.add, n, n) for n in range(3)]
        gone = queue.enqueue(fixtures.add, 9, 9)
        Job.fetch(gone.id, connection=broker).delete(remove_from_queue=False)
        assert queue.job_ids == [*[job.id for job in kept], gone.id]
        assert queue.compact() == 1
        assert queue.job_ids == [job.id for job in kept]

    def test_scheduler_pid(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        assert queue.scheduler_pid is None
        scheduler = Scheduler([queue])
        scheduler.tick()
        try:
            assert queue.scheduler_pid == os.getpid()
        finally:
            scheduler.release()
        assert queue.scheduler_pid is None

    def test_maintenance_lock(self, broker: Broker) -> None:
        one, two = Queue("q", connection=broker), Queue("q", connection=broker)
        assert one.acquire_maintenance_lock()
        assert not two.acquire_maintenance_lock()
        one.release_maintenance_lock()
        assert two.acquire_maintenance_lock()
        two.release_maintenance_lock()

    def test_key_names_are_jqs(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        assert queue.key == broker.queue_key("q")
        assert queue.redis_queue_namespace_prefix + "q" == queue.key
        assert Queue.from_queue_key(queue.redis_queue_namespace_prefix + "q", connection=broker) == queue
        assert queue.redis_queues_keys == broker.queues_key()
        assert Queue.redis_queue_namespace_prefix == "jq:queue:"

    def test_popping_by_hand_is_refused(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        queue.enqueue(fixtures.add, 1, 2)
        for attempt in (
            queue.pop_job_id,
            lambda: Queue.dequeue_any([queue], None, connection=broker),
            lambda: Queue.lpop([queue.key], None, connection=broker),
            lambda: queue.push_job_id("x"),
        ):
            with pytest.raises(UnsupportedByBrokerError, match="jq"):
                attempt()
        assert queue.count == 1

    def test_redis_server_version(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        if not hasattr(broker.connection, "info"):
            with pytest.raises(UnsupportedByBrokerError):
                queue.get_redis_server_version()
            return
        version = queue.get_redis_server_version()
        assert len(version) >= 2 and version[0] >= 5

    def test_async_keyword_is_rqs_deprecated_spelling(self, broker: Broker) -> None:
        with pytest.warns(DeprecationWarning, match="is_async"):
            queue = Queue("q", connection=broker, **{"async": False})
        assert queue.is_async is False
