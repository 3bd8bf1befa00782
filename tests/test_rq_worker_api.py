"""RQ 3.0's worker API on jq's workers: what a worker says about itself, how to find workers,
equality (B11), bad keys (B33), logging levels (B38), dequeue strategies.

In-process workers run on every driver; what needs a work horse runs on the private
redis-server.
"""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from jq import Queue, SimpleWorker, Worker
from jq.job import Job
from jq.testing.helpers import wait_for
from jq.worker import (
    DEFAULT_RESULT_TTL,
    SHUTDOWN_SIGNAL,
    BaseWorker,
    DequeueStrategy,
    RandomWorker,
    RoundRobinWorker,
    WorkerStatus,
    signal_name,
)
from jq.worker.executions import Execution
from tests import fixtures


class CustomJob(Job):
    """A job class views are asked to use."""


class CustomQueue(Queue):
    """A queue class views are asked to use."""


def looking(queue: Queue, look, name: str = "looker", **options) -> SimpleWorker:
    """Run one failing job with a SimpleWorker whose exception handler ``look(worker, job)`` runs
    while the worker is busy with the job (so a view sees it busy)."""
    worker = SimpleWorker(
        [queue], name=name, exception_handlers=[lambda job, *exc: look(worker, job)], **options
    )
    queue.enqueue(fixtures.div_by_zero, 1)
    worker.work(burst=True, logging_level="WARNING")
    return worker


class TestWhatAWorkerRuns:
    def test_current_job_and_execution_on_the_worker_and_on_a_view(self, queue):
        seen = {}

        def look(worker, job):
            view = SimpleWorker.all(connection=queue.broker)[0]
            seen["mine"] = (worker.get_current_job_id(), worker.get_current_job().id)
            seen["view"] = (view.get_current_job_id(), view.get_current_job().id)
            seen["executions"] = [e.id for e in view.get_current_executions()]
            seen["execution"] = (view.execution.id, view.execution.job_id, view.execution.worker_name)
            seen["count"] = view.current_execution_count
            seen["by_id"] = list(view.executions)
            seen["job"] = (job.id, job.execution_id)
            seen["mine_execution"] = worker.execution

        worker = looking(queue, look)
        job_id, execution_id = seen["job"]
        assert seen["mine"] == seen["view"] == (job_id, job_id)
        assert seen["executions"] == [execution_id] == seen["by_id"]
        assert seen["execution"] == (execution_id, job_id, "looker")
        assert seen["count"] == 1
        assert isinstance(seen["mine_execution"], Execution) and seen["mine_execution"].id == execution_id
        # Idle now.
        assert worker.get_current_job_id() is None and worker.get_current_job() is None
        assert worker.execution is None and worker.executions == {} and worker.get_current_executions() == []

    def test_an_idle_view_runs_nothing(self, queue):
        worker = SimpleWorker([queue], name="idle")
        worker.register_birth()
        try:
            view = SimpleWorker.find_by_key(worker.key, connection=queue.broker)
            assert view.get_current_job() is None
            assert view.get_current_executions() == [] and view.current_execution_count == 0
        finally:
            worker.register_death()


class TestTheRecord:
    def test_version_python_version_ip_address_hostname_pid(self, queue):
        import socket

        import jq

        seen = {}
        looking(
            queue, lambda worker, job: seen.setdefault("view", SimpleWorker.all(connection=queue.broker)[0])
        )
        view = seen["view"]
        assert view.version == jq.__version__
        assert view.python_version == sys.version
        assert view.hostname == socket.gethostname()
        assert view.pid > 0
        assert isinstance(view.ip_address, str) and view.ip_address
        assert view.birth_date is not None and view.last_heartbeat is not None

    def test_ip_address_is_the_connection_address_on_redis(self, redis_client):
        worker = SimpleWorker([Queue(connection=redis_client)], name="addressed")
        worker.register_birth()
        try:
            view = SimpleWorker.find_by_key(worker.key, connection=redis_client)
            assert view.ip_address.startswith("127.0.0.1:")
        finally:
            worker.register_death()

    def test_death_date(self, queue):
        worker = SimpleWorker([queue], name="mortal")
        assert worker.death_date is None
        queue.enqueue(fixtures.add, 1, 2)
        worker.work(burst=True, logging_level="WARNING")
        assert worker.death_date is not None
        assert worker.death_date >= worker.birth_date

    def test_shutdown_requested_date(self, queue):
        seen = {}

        def look(worker, job):
            worker.request_stop()
            worker.set_shutdown_requested_date()
            seen["date"] = SimpleWorker.all(connection=queue.broker)[0].shutdown_requested_date

        looking(queue, look)
        assert seen["date"] is not None

    def test_serialize(self, queue):
        worker = SimpleWorker([queue], name="serial")
        worker.register_birth()
        try:
            data = worker.serialize()
            assert {"birth", "last_heartbeat", "queues", "pid", "hostname", "ip_address", "version",
                    "python_version"} <= set(data)  # fmt: skip
            assert data["queues"] == "default"
        finally:
            worker.register_death()


class TestFindingWorkers:
    def test_all_keys_all_count(self, queue):
        seen = {}

        def look(worker, job):
            seen["keys"] = SimpleWorker.all_keys(connection=queue.broker)
            seen["queue_keys"] = SimpleWorker.all_keys(queue=queue)
            seen["other_keys"] = SimpleWorker.all_keys(queue=Queue("other", connection=queue.broker))
            views = SimpleWorker.all(queue.broker, CustomJob, CustomQueue)
            seen["classes"] = (views[0].job_class, views[0].queue_class, type(views[0].queues[0]))
            seen["json"] = SimpleWorker.all(connection=queue.broker, serializer="json")[0].serializer
            seen["count"] = SimpleWorker.count(connection=queue.broker)

        looking(queue, look, name="found")
        assert seen["keys"] == seen["queue_keys"] == [queue.broker.worker_key("found")]
        assert seen["other_keys"] == []
        assert seen["classes"] == (CustomJob, CustomQueue, CustomQueue)
        assert seen["json"] is not None
        assert seen["count"] == 1

    def test_find_by_key_with_classes(self, queue):
        seen = {}

        def look(worker, job):
            view = SimpleWorker.find_by_key(
                worker.key, queue.broker, job_class=CustomJob, queue_class=CustomQueue
            )
            seen["view"] = view
            seen["job"] = view.get_current_job()

        looking(queue, look, name="classy")
        assert seen["view"].job_class is CustomJob
        assert isinstance(seen["job"], CustomJob)

    def test_find_by_key_of_a_gone_worker_is_none(self, queue):
        assert SimpleWorker.find_by_key(queue.broker.worker_key("gone"), connection=queue.broker) is None

    def test_find_by_key_with_a_bad_key_raises(self, queue):
        """B33: RQ raises ValueError for a key that is no worker's (jq returned None)."""
        with pytest.raises(ValueError, match="Not a valid jq worker key"):
            SimpleWorker.find_by_key("nope", connection=queue.broker)


class TestEquality:
    """B11: workers are equal, and hash alike, by name (RQ), not by identity."""

    def test_equal_by_name(self, queue):
        seen = {}

        def look(worker, job):
            seen["equal"] = SimpleWorker.all(connection=queue.broker) == [worker]
            seen["set"] = {worker, *SimpleWorker.all(connection=queue.broker)}

        looking(queue, look)
        assert seen["equal"] is True
        assert len(seen["set"]) == 1
        assert SimpleWorker([queue], name="a") != SimpleWorker([queue], name="b")
        assert hash(SimpleWorker([queue], name="a")) == hash(SimpleWorker([queue], name="a"))

    def test_compared_with_something_else_raises(self, queue):
        with pytest.raises(TypeError):
            _ = SimpleWorker([queue], name="a") == "a"


class TestLogging:
    def test_logging_level_none_leaves_the_level_alone(self, queue):
        """B38: work(logging_level=None) (RQ's default) keeps a level set before."""
        logger = logging.getLogger("jq.worker")
        before = logger.level
        try:
            logger.setLevel(logging.ERROR)
            SimpleWorker([queue]).work(burst=True)
            assert logger.level == logging.ERROR
            SimpleWorker([queue]).work(burst=True, logging_level="DEBUG")
            assert logger.level == logging.DEBUG
        finally:
            logger.setLevel(before)

    def test_an_unset_level_means_info(self, queue):
        logger = logging.getLogger("jq.worker")
        before = logger.level
        try:
            logger.setLevel(logging.NOTSET)
            SimpleWorker([queue]).work(burst=True)
            assert logger.level == logging.INFO
        finally:
            logger.setLevel(before)


def origins(jobs: list[Job]) -> list[str]:
    """The queues of ``jobs`` in the order they ran (their ``started_at``)."""
    for job in jobs:
        job.refresh()
    return [job.origin for job in sorted(jobs, key=lambda job: job.started_at)]


class TestDequeueStrategies:
    def fill(self, broker, names=("q1", "q2", "q3"), per_queue=2) -> tuple[list[Queue], list[Job]]:
        queues = [Queue(name, connection=broker) for name in names]
        jobs = [queue.enqueue(fixtures.add, 1, 2) for queue in queues for _ in range(per_queue)]
        return queues, jobs

    def test_default_takes_the_first_queue_first(self, broker):
        queues, jobs = self.fill(broker)
        SimpleWorker(queues).work(burst=True, dequeue_strategy=DequeueStrategy.DEFAULT)
        assert origins(jobs) == ["q1", "q1", "q2", "q2", "q3", "q3"]

    def test_round_robin(self, broker):
        queues, jobs = self.fill(broker)
        SimpleWorker(queues).work(burst=True, dequeue_strategy="round_robin")
        assert origins(jobs) == ["q1", "q2", "q3", "q1", "q2", "q3"]

    def test_random_takes_every_job(self, broker):
        queues, jobs = self.fill(broker, per_queue=4)
        SimpleWorker(queues).work(burst=True, dequeue_strategy=DequeueStrategy.RANDOM)
        assert sorted(origins(jobs)) == ["q1"] * 4 + ["q2"] * 4 + ["q3"] * 4

    def test_an_unknown_strategy_is_refused(self, broker):
        queues, _ = self.fill(broker)
        with pytest.raises(ValueError, match="dequeue strategy 'sideways' is not allowed"):
            SimpleWorker(queues).work(burst=True, dequeue_strategy="sideways")

    def test_round_robin_worker(self, redis_client):
        queues, jobs = self.fill(redis_client)
        RoundRobinWorker(queues).work(burst=True, logging_level="WARNING")
        assert origins(jobs) == ["q1", "q2", "q3", "q1", "q2", "q3"]

    def test_random_worker_shuffles(self, redis_client, monkeypatch):
        queues, jobs = self.fill(redis_client)
        shuffled = []
        monkeypatch.setattr("random.shuffle", lambda items: (shuffled.append(1), items.reverse()))
        RandomWorker(queues).work(burst=True, logging_level="WARNING")
        assert len(shuffled) == len(jobs)
        assert origins(jobs)[:2] == ["q1", "q3"]

    def test_reorder_queues_is_what_a_subclass_overrides(self, broker):
        queues, jobs = self.fill(broker)

        class Backwards(SimpleWorker):
            def reorder_queues(self, reference_queue):
                self._ordered_queues = list(reversed(self.queues))

        Backwards(queues).work(burst=True)
        assert origins(jobs) == ["q1", "q3", "q3", "q2", "q2", "q1"]


def test_module_names():
    assert DEFAULT_RESULT_TTL == 500
    assert SHUTDOWN_SIGNAL.name == "SIGKILL"
    assert signal_name(15) == "SIGTERM" and signal_name(1000) == "SIG_UNKNOWN"
    import jq.worker.base
    import jq.worker.worker_classes

    assert jq.worker.worker_classes.Worker is Worker
    assert jq.worker.base.Worker is Worker  # where earlier versions of jq had it
    assert jq.worker._signames[15] == "SIGTERM"


def test_properties_rq_reads(queue):
    worker = SimpleWorker([queue], worker_ttl=100)
    assert worker.dequeue_timeout == 85 and worker.connection_timeout == 95
    assert worker.horse_pid == 0 and worker.is_horse is False
    assert worker.pubsub is None and worker.pubsub_thread is None
    assert worker.pubsub_channel_name.endswith(f"commands:{worker.name}")
    assert worker.log is logging.getLogger("jq.worker")
    assert worker.should_run_maintenance_tasks is True
    assert worker.log_result_lifespan is True
    assert isinstance(BaseWorker.redis_worker_namespace_prefix, str)
    assert worker.get_state() is WorkerStatus.STARTED


def test_validate_queues(broker):
    class Special(Queue):
        pass

    with pytest.raises(TypeError, match="queue_class"):
        SimpleWorker([Queue(connection=broker)], queue_class=Special)


def test_redis_server_version(redis_client, broker):
    version = SimpleWorker([Queue(connection=redis_client)]).get_redis_server_version()
    assert isinstance(version, tuple) and version[0] >= 5
    if broker.url.startswith("memory"):
        assert SimpleWorker([Queue(connection=broker)]).get_redis_server_version() is None


def test_heartbeat_set_state_and_counters(queue):
    worker = SimpleWorker([queue], name="beating")
    worker.register_birth()
    try:
        worker.set_state(WorkerStatus.BUSY)
        worker.increment_successful_job_count()
        worker.increment_failed_job_count()
        worker.increment_total_working_time(1.5)
        worker.heartbeat()
        view = SimpleWorker.find_by_key(worker.key, connection=queue.broker)
        assert view.get_state() == "busy"
        assert (view.successful_job_count, view.failed_job_count, view.total_working_time) == (1, 1, 1.5)
    finally:
        worker.register_death()
    assert SimpleWorker.count(connection=queue.broker) == 0


def test_dequeue_job_and_maintain_ttl(queue):
    job = queue.enqueue(fixtures.add, 1, 2)
    worker = SimpleWorker([queue], name="manual")
    worker.register_birth()
    try:
        taken, from_queue = worker.dequeue_job_and_maintain_ttl(None)
        assert taken.id == job.id and from_queue is queue
        assert worker.dequeue_job_and_maintain_ttl(None) is None
        assert worker.dequeue_job_and_maintain_ttl(0.05, max_idle_time=0.1) is None
        worker.execute_job(taken, from_queue)
        assert job.get_status() == "finished" and job.result == 3
    finally:
        worker.register_death()


def test_check_for_suspension_in_burst_raises_stop_requested(queue):
    from jq.exceptions import StopRequested

    worker = SimpleWorker([queue])
    worker.check_for_suspension(burst=True)  # not suspended: returns
    queue.broker.suspend()
    try:
        with pytest.raises(StopRequested):
            worker.check_for_suspension(burst=True)
    finally:
        queue.broker.resume()


def test_clean_registries_outside_work(queue):
    worker = SimpleWorker([queue])
    assert worker.last_cleaned_at is None
    worker.clean_registries()
    assert worker.last_cleaned_at is not None and worker.should_run_maintenance_tasks is False


def test_a_shutdown_request_in_a_thread_stops_a_waiting_worker(queue):
    worker = SimpleWorker([queue], name="waiting")
    thread = threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"})
    thread.start()
    assert wait_for(lambda: SimpleWorker.count(connection=queue.broker) == 1)
    worker.request_stop(None, None)
    thread.join(30)
    assert not thread.is_alive()
