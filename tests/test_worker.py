"""Workers that run jobs in process (SimpleWorker), on every driver.

Registries, exception handler chains (S-22), queue order (S-12), timeouts (S-08, S-28), custom
classes (S-27), the ``@job`` decorator (S-09), worker lookup basics and bad input.
"""

from __future__ import annotations

import re
import signal
import threading

import pytest

from jq import Callback, Queue, Retry, SimpleWorker
from jq.decorators import job as job_decorator
from jq.exceptions import ConfigurationError, DuplicateWorkerError, JQError
from jq.job import Job
from jq.timeouts import BaseDeathPenalty, JobTimeoutException, TimerDeathPenalty, UnixSignalDeathPenalty
from jq.worker import Worker, WorkerStatus
from tests import fixtures


@pytest.fixture(autouse=True)
def _clear_seen():
    fixtures.SEEN.clear()
    yield
    fixtures.SEEN.clear()


class TestRunning:
    """Success goes to the finished registry, failure to the failed one."""

    def test_success_and_failure_registries(self, broker):
        queue = Queue(connection=broker)
        ok = queue.enqueue(fixtures.add, 1, 2)
        bad = queue.enqueue(fixtures.div_by_zero, 1)
        worker = SimpleWorker([queue])
        assert worker.work(burst=True) is True
        assert queue.finished_job_registry.get_job_ids() == [ok.id]
        assert queue.failed_job_registry.get_job_ids() == [bad.id]
        assert queue.started_job_registry.count == 0
        assert len(queue) == 0
        assert worker.successful_job_count == 1
        assert worker.failed_job_count == 1
        assert worker.total_working_time > 0

    def test_burst_with_nothing_to_do(self, broker):
        assert SimpleWorker([Queue(connection=broker)]).work(burst=True) is False

    def test_queues_in_the_order_given(self, broker):
        """S-12: high before default before low."""
        high, default, low = (Queue(name, connection=broker) for name in ("high", "default", "low"))
        low_job = low.enqueue(fixtures.add, 1, 1)
        default_job = default.enqueue(fixtures.add, 2, 2)
        high_job = high.enqueue(fixtures.add, 3, 3)
        SimpleWorker([high, default, low]).work(burst=True)
        order = sorted(
            (job for job in (low_job, default_job, high_job)),
            key=lambda j: Job.fetch(j.id, connection=broker).started_at,
        )
        assert order == [high_job, default_job, low_job]

    def test_queue_names_and_connection_context(self, broker):
        from jq import Connection

        with Connection(broker):
            queue = Queue("low")
            job = queue.enqueue(fixtures.add, 2, 3)
            worker = SimpleWorker(["high", "low"])
            assert worker.queue_names() == ["high", "low"]
            worker.work(burst=True)
        assert job.result == 5

    def test_max_jobs(self, broker):
        queue = Queue(connection=broker)
        for i in range(3):
            queue.enqueue(fixtures.add, i, i)
        SimpleWorker([queue]).work(burst=True, max_jobs=2)
        assert len(queue) == 1

    def test_max_idle_time(self, broker):
        worker = SimpleWorker([Queue(connection=broker)])
        assert worker.work(max_idle_time=0.2) is False

    def test_missing_function_fails_naming_it(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue("tests.fixtures.no_such_function", 1)
        missing_module = queue.enqueue("no_such_package.module.func")
        SimpleWorker([queue]).work(burst=True)
        assert job.is_failed
        assert "tests.fixtures.no_such_function" in job.exc_info
        assert "no_such_function" in job.exc_info.splitlines()[-1]
        assert missing_module.is_failed
        assert "no_such_package" in missing_module.exc_info.splitlines()[-1]

    def test_unserializable_result_is_stored_as_a_placeholder(self, broker):
        """As RQ (B24): the job finishes; its stored return value is a placeholder."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.return_unserializable)
        SimpleWorker([queue]).work(burst=True)
        assert job.is_finished
        assert job.return_value() == "Unserializable return value"

    def test_worker_without_queues_is_refused(self, broker):
        with pytest.raises(ConfigurationError, match="at least one queue"):
            SimpleWorker([], connection=broker)

    def test_queues_of_different_connections_are_refused(self, broker):
        from jq_backends.memory import MemoryBroker

        other = MemoryBroker("elsewhere")
        with pytest.raises(ConfigurationError, match="another connection"):
            SimpleWorker([Queue(connection=broker), Queue(connection=other)], connection=broker)

    def test_queues_on_other_clients_of_the_same_server_are_taken(self, redis_server, redis_client):
        """As RQ, whose worker reads every queue through its own connection: django-rq gives a
        worker queues built on one client each. Another database is another store: refused."""
        default = Queue("default", connection=redis_server.client())
        high = Queue("high", connection=redis_server.client())
        job = high.enqueue(fixtures.add, 1, 2)
        SimpleWorker([default, high], connection=redis_client).work(burst=True)
        assert job.get_status(refresh=True) == "finished"
        from jq_backends.redis import RedisBroker

        another_database = Queue("high", connection=redis_server.client(db=1))
        another_prefix = Queue("high", connection=RedisBroker(redis_client, prefix="other:"))
        for elsewhere in (another_database, another_prefix):
            with pytest.raises(ConfigurationError, match=r"another connection.*run a worker for each store"):
                SimpleWorker([default, elsewhere], connection=redis_client)

    def test_bad_max_jobs(self, broker):
        with pytest.raises(ConfigurationError, match="max_jobs"):
            SimpleWorker([Queue(connection=broker)]).work(burst=True, max_jobs=0)


class TestExceptionHandlers:
    """S-22: the chain runs in order; False stops it; the default handler can be disabled."""

    def test_chain_runs_in_order_then_default(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue], exception_handlers=[fixtures.record_handler, fixtures.record_handler]).work(
            burst=True
        )
        assert fixtures.SEEN == [("record", job.id, ZeroDivisionError)] * 2
        assert job.id in queue.failed_job_registry

    def test_false_stops_the_chain_not_the_default(self, broker):
        """As RQ (B22): the job is kept in the failed registry all the same."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        handlers = [fixtures.stop_handler, fixtures.record_handler]
        SimpleWorker([queue], exception_handlers=handlers).work(burst=True)
        assert fixtures.SEEN == [("stop", job.id)]
        assert job.id in queue.failed_job_registry
        assert job.get_status() == "failed"
        assert "ZeroDivisionError" in job.exc_info

    def test_an_explicit_true_passes_to_the_next_handler_and_the_default(self, broker):
        def passes_on(job, *exc_info):
            fixtures.SEEN.append(("true", job.id))
            return True

        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue], exception_handlers=[passes_on, fixtures.record_handler]).work(burst=True)
        assert fixtures.SEEN == [("true", job.id), ("record", job.id, ZeroDivisionError)]
        assert job.id in queue.failed_job_registry

    def test_disable_default_exception_handler(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker(
            [queue], exception_handlers=[fixtures.record_handler], disable_default_exception_handler=True
        ).work(burst=True)
        assert fixtures.SEEN == [("record", job.id, ZeroDivisionError)]
        assert len(queue.failed_job_registry) == 0
        assert job.get_status() == "failed"
        # Such a job can still be requeued.
        job.requeue()
        assert queue.job_ids == [job.id]

    def test_a_raising_handler_never_loses_the_jobs_error(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1)
        ok = queue.enqueue(fixtures.add, 1, 1)
        SimpleWorker([queue], exception_handlers=[fixtures.raising_handler, fixtures.record_handler]).work(
            burst=True
        )
        assert fixtures.SEEN == [("raising", job.id), ("record", job.id, ZeroDivisionError)]
        assert "ZeroDivisionError" in job.exc_info
        assert job.id in queue.failed_job_registry
        assert ok.result == 2

    def test_handlers_by_dotted_path_and_push_pop(self, broker):
        queue = Queue(connection=broker)
        queue.enqueue(fixtures.div_by_zero, 1)
        worker = SimpleWorker([queue], exception_handlers=["tests.fixtures.record_handler"])
        worker.push_exc_handler(fixtures.stop_handler)
        worker.push_exc_handler(fixtures.raising_handler)
        assert worker.pop_exc_handler() is fixtures.raising_handler
        worker.work(burst=True)
        assert [entry[0] for entry in fixtures.SEEN] == ["record", "stop"]


class TestCallbacksAndRetry:
    """on_success / on_failure, and Retry."""

    def test_callbacks(self, broker):
        queue = Queue(connection=broker)
        ok = queue.enqueue(fixtures.add, 1, 2, on_success=fixtures.on_success_record)
        bad = queue.enqueue(
            fixtures.div_by_zero, 1, on_failure=Callback(fixtures.on_failure_record, timeout=5)
        )
        SimpleWorker([queue]).work(burst=True)
        assert ("success", ok.id, 3) in fixtures.SEEN
        assert ("failure", bad.id, ZeroDivisionError) in fixtures.SEEN

    def test_a_raising_success_callback_fails_the_job(self, broker):
        """As RQ (B8): the success callback runs before the outcome is recorded."""
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, on_success=fixtures.on_success_raise)
        SimpleWorker([queue]).work(burst=True)
        assert job.get_status() == "failed"
        assert job.result is None
        assert "callback broke" in job.exc_info

    def test_retry_then_fail(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=2))
        worker = SimpleWorker([queue])
        worker.work(burst=True)
        assert job.get_status() == "failed"
        assert worker.failed_job_count == 3
        assert job.id in queue.failed_job_registry


class TestTimeouts:
    """S-08 and S-28: a job past its timeout fails with JobTimeoutException."""

    def test_unix_signal_death_penalty(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.sleep_for, 30, job_timeout=1)
        after = queue.enqueue(fixtures.add, 1, 1)
        SimpleWorker([queue]).work(burst=True)
        assert job.is_failed
        assert "JobTimeoutException" in job.exc_info
        assert "1 seconds" in job.exc_info
        assert after.result == 2

    def test_a_simple_worker_holds_sigalrm_and_puts_the_handler_back(self, broker, monkeypatch):
        """Its jobs' penalties install no handler each (jq.timeouts.hold_alarm_handler): SIGALRM's
        handler is installed when the loop starts and the one before is back when it ends."""
        queue = Queue(connection=broker)
        jobs = [queue.enqueue(fixtures.add, n, 1, job_timeout=5) for n in range(5)]
        late = queue.enqueue(fixtures.sleep_for, 30, job_timeout=1)
        installed = []
        real = signal.signal
        monkeypatch.setattr(
            signal, "signal", lambda signum, handler: installed.append(signum) or real(signum, handler)
        )
        before = signal.getsignal(signal.SIGALRM)
        SimpleWorker([queue]).work(burst=True)
        assert [job.result for job in jobs] == [1, 2, 3, 4, 5]
        assert late.is_failed and "JobTimeoutException" in late.exc_info
        assert installed.count(signal.SIGALRM) == 2
        assert signal.getsignal(signal.SIGALRM) == before

    def test_timer_death_penalty(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.busy_loop, 30, job_timeout=1)
        SimpleWorker([queue], death_penalty_class=TimerDeathPenalty).work(burst=True)
        assert job.is_failed
        assert "JobTimeoutException" in job.exc_info

    def test_worker_in_a_thread_uses_a_timer(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.busy_loop, 30, job_timeout=1)
        thread = threading.Thread(target=SimpleWorker([queue]).work, kwargs={"burst": True})
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive()
        assert job.is_failed
        assert "JobTimeoutException" in job.exc_info

    def test_custom_death_penalty_class(self, broker):
        """BaseDeathPenalty(timeout, JobTimeoutException, job_id=...) subclasses are honoured."""
        created = []

        class RecordingPenalty(UnixSignalDeathPenalty):
            def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
                super().__init__(timeout, exception, **kwargs)
                created.append((timeout, exception, kwargs.get("job_id")))

        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, job_timeout=7)
        SimpleWorker([queue], death_penalty_class=RecordingPenalty).work(burst=True)
        assert created == [(7, JobTimeoutException, job.id)]
        assert job.result == 3

    def test_no_timeout(self, broker):
        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.sleep_for, 0.01, job_timeout=-1)
        SimpleWorker([queue]).work(burst=True)
        assert job.result == 0.01

    def test_death_penalty_class_must_be_one(self, broker):
        with pytest.raises(ConfigurationError, match="death_penalty_class"):
            SimpleWorker([Queue(connection=broker)], death_penalty_class=dict)

    def test_base_death_penalty_without_limit_does_nothing(self):
        with BaseDeathPenalty(-1, JobTimeoutException, job_id="x") as penalty:
            assert penalty.timeout is None


class CustomJob(Job):
    """A job subclass (S-27)."""


class CustomQueue(Queue):
    """A queue subclass whose jobs are CustomJob (S-27)."""

    job_class = CustomJob


class TestCustomClasses:
    """S-27: custom Job and Queue classes."""

    def test_custom_queue_and_job_class(self, broker):
        queue = CustomQueue("default", connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert isinstance(job, CustomJob)
        assert all(isinstance(j, CustomJob) for j in queue.jobs)
        worker = SimpleWorker([queue], job_class=CustomJob, queue_class=CustomQueue)
        worker.work(burst=True)
        assert job.result == 3
        assert isinstance(queue.fetch_job(job.id), CustomJob)

    def test_classes_by_dotted_path(self, broker):
        worker = SimpleWorker(["default"], connection=broker, job_class="tests.test_worker.CustomJob",
                              queue_class="tests.test_worker.CustomQueue")  # fmt: skip
        assert worker.job_class is CustomJob
        assert isinstance(worker.queues[0], CustomQueue)

    def test_bad_job_class(self, broker):
        with pytest.raises(ConfigurationError, match="job_class"):
            Queue(connection=broker, job_class=dict)


class TestDecorator:
    """S-09: @job(queue, connection=..., timeout=...) and .delay()."""

    def test_delay(self, broker):
        @job_decorator("low", connection=broker, timeout=5)
        def unused(x, y):  # pragma: no cover - a local function cannot be enqueued
            return x + y

        decorated = job_decorator("low", connection=broker, timeout=5)(fixtures.add)
        enqueued = decorated.delay(3, 4)
        assert enqueued.timeout == 5
        assert enqueued.origin == "low"
        SimpleWorker(["low"], connection=broker).work(burst=True)
        assert enqueued.result == 7

    def test_delay_options(self, broker):
        queue = Queue("low", connection=broker)
        decorated = job_decorator(queue, result_ttl=-1)(fixtures.say_hello)
        first = decorated.delay("A")
        second = decorated.delay("B", job_id="chosen", at_front=True)
        assert queue.job_ids == ["chosen", first.id]
        assert second.result_ttl == -1


class TestWorkerRecords:
    """Basic worker registration (the full lifecycle is in test_worker_lifecycle)."""

    def test_registered_while_working_and_gone_after(self, broker):
        queue = Queue(connection=broker)
        seen = {}

        def look(job, *exc_info):
            # An exception handler runs inside the worker while it is busy with ``job``.
            workers = SimpleWorker.all(connection=broker)
            seen["names"] = [w.name for w in workers]
            seen["state"] = workers[0].state
            seen["current"] = workers[0].current_job_id
            seen["count"] = SimpleWorker.count(queue=queue)
            seen["job"] = job.id

        queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue], name="looker", exception_handlers=[look]).work(burst=True)
        assert seen["names"] == ["looker"]
        assert seen["state"] == WorkerStatus.BUSY
        assert seen["current"] == seen["job"]
        assert seen["count"] == 1
        assert SimpleWorker.all(connection=broker) == []
        assert SimpleWorker.count(connection=broker) == 0

    def test_duplicate_live_name_is_refused(self, broker):
        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 1)
        inner_error = {}

        def start_twin(*args):
            try:
                SimpleWorker([queue], name="twin").work(burst=True)
            except DuplicateWorkerError as exc:
                inner_error["message"] = str(exc)

        queue.enqueue(fixtures.div_by_zero, 1)
        worker = SimpleWorker([queue], name="twin", exception_handlers=[start_twin])
        worker.work(burst=True)
        assert "already registered" in inner_error["message"]

    def test_find_by_key(self, broker):
        queue = Queue(connection=broker)
        found = {}

        def look(job, *exc_info):
            found["worker"] = SimpleWorker.find_by_key(broker.worker_key("finder"), connection=broker)

        queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue], name="finder", exception_handlers=[look]).work(burst=True)
        assert found["worker"].name == "finder"
        assert found["worker"].queue_names() == ["default"]
        assert found["worker"].key == broker.worker_key("finder")  # jq:worker:finder by default
        assert SimpleWorker.find_by_key(broker.worker_key("finder"), connection=broker) is None


def test_forking_worker_needs_a_shared_store():
    """A Worker forks; the memory store lives in one process, so it is refused clearly."""
    from jq.exceptions import UnsupportedByBrokerError
    from jq_backends.memory import MemoryBroker

    with pytest.raises(UnsupportedByBrokerError, match="SimpleWorker"):
        Worker([Queue(connection=MemoryBroker())])


BAD_WORKER_OPTIONS = {
    "worker_ttl 'x'": ({"worker_ttl": "x"}, "worker_ttl must be a number of seconds above 0"),
    "worker_ttl -5": ({"worker_ttl": -5}, "worker_ttl must be a number of seconds above 0"),
    "job_monitoring_interval 0": ({"job_monitoring_interval": 0}, "job_monitoring_interval must be"),
    "maintenance_interval NaN": ({"maintenance_interval": float("nan")}, "maintenance_interval must be"),
    "maintenance_interval '60'": ({"maintenance_interval": "60"}, "not '60'"),
    "default_result_ttl 'x'": ({"default_result_ttl": "x"}, "default_result_ttl must be 0, a positive"),
    "default_result_ttl -5": ({"default_result_ttl": -5}, "or -1 (forever), not -5"),
    "name 5": ({"name": 5}, "a worker's name must be text (a str), not int 5"),
    "queues 5": ({"queues": 5}, "a worker listens to queues or queue names, not 5"),
}


@pytest.mark.parametrize("kind", BAD_WORKER_OPTIONS)
def test_a_bad_worker_option_is_refused_when_the_worker_is_made(queue, kind):
    """Not at the first heartbeat, maintenance run or finished job, where work() died of it."""
    options, says = BAD_WORKER_OPTIONS[kind]
    with pytest.raises(ValueError) as caught:  # ConfigurationError or TimeoutFormatError
        SimpleWorker(**{"queues": [queue], "connection": queue.broker, **options})
    assert isinstance(caught.value, JQError) and says in str(caught.value)


def test_worker_options_in_range_are_kept(queue):
    worker = SimpleWorker([queue], connection=queue.broker, default_result_ttl="1h", worker_ttl=0.5)
    assert (worker.default_result_ttl, worker.worker_ttl) == (3600, 0.5)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"max_jobs": "10"}, "max_jobs must be a whole number of jobs, at least 1, not '10'"),
        ({"max_jobs": 0}, "max_jobs must be a whole number of jobs, at least 1, not 0"),
        ({"max_idle_time": "5"}, "max_idle_time must be a number of seconds above 0"),
        ({"max_idle_time": -1}, "max_idle_time must be a number of seconds above 0"),
    ],
)
def test_bad_work_options_are_refused_before_the_worker_starts(queue, options, says):
    with pytest.raises(ConfigurationError, match=re.escape(says)):
        SimpleWorker([queue], connection=queue.broker).work(burst=True, **options)
