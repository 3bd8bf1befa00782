"""RQ's modules that jq adds for code written for RQ (issue 12, stream A): suspension, worker
registration, executions, job lifecycle helpers, scripts, RQ's scheduler class, context locals,
RQ 3.0's option classes, and the modules of RQ machinery jq does without.
"""

from __future__ import annotations

import datetime
import threading
import time

import pytest

import jq
from jq import Queue, SimpleWorker
from jq.exceptions import SchedulerNotFound, UnsupportedByBrokerError
from jq.job import Job
from jq.lifecycle import claim_fields
from tests import fixtures


def claim(queue: Queue, lease_seconds: float = 100.0) -> Job:
    """Claim the next job of ``queue`` as a worker would."""
    claimed = queue.broker.claim([queue.name], claim_fields("w1"), time.time() + lease_seconds)
    assert claimed is not None
    return Job.fetch(claimed.job_id, connection=queue.broker)


def test_top_level_names():
    assert jq.VERSION == "3.0.0"
    from jq.job import cancel_job, requeue_job

    assert jq.requeue_job is requeue_job and jq.cancel_job is cancel_job
    assert jq.Repeat.__module__ == "jq.repeat" and jq.Webhook.__module__ == "jq.webhook"


class TestSuspension:
    def test_suspend_resume_and_ttl(self, broker):
        from jq.suspension import WORKERS_SUSPENDED, is_suspended, resume, suspend

        assert WORKERS_SUSPENDED == "jq:suspended"
        assert not is_suspended(broker)
        suspend(broker)
        assert is_suspended(broker)
        assert broker.suspension_remaining() == float("inf")
        assert resume(broker) == 1
        assert resume(broker) == 0
        suspend(broker, ttl=60)
        assert 0 < broker.suspension_remaining() <= 60
        suspend(broker, ttl=0)  # 0 ends it at once, as in RQ
        assert not is_suspended(broker)

    def test_is_suspended_renews_a_workers_heartbeat(self, broker):
        from jq.suspension import is_suspended

        beats = []

        class Beating:
            def heartbeat(self):
                beats.append(1)

        assert not is_suspended(broker, worker=Beating())
        assert beats == [1]


class TestWorkerRegistration:
    def test_keys_register_and_clean(self, broker):
        from jq.worker_registration import (
            REDIS_WORKER_KEYS,
            WORKERS_BY_QUEUE_KEY,
            clean_worker_registry,
            get_keys,
            register,
            unregister,
        )

        assert (REDIS_WORKER_KEYS, WORKERS_BY_QUEUE_KEY % "q") == ("jq:workers", "jq:workers-of:q")
        queue = Queue("q", connection=broker)
        worker = SimpleWorker([queue], connection=broker, name="w1")
        register(worker)
        assert get_keys(queue) == get_keys(connection=broker) == {worker.key}
        assert get_keys(Queue("other", connection=broker)) == set()
        with pytest.raises(ValueError):
            get_keys()
        with pytest.raises(UnsupportedByBrokerError, match="without pipeline="):
            register(worker, pipeline=object())
        clean_worker_registry(queue)
        assert get_keys(queue) == {worker.key}  # alive: kept
        unregister(worker)
        assert get_keys(queue) == set()


class TestExecutions:
    def test_a_running_job_has_one_execution(self, broker):
        from jq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution, ExecutionRegistry

        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 2, job_id="run")
        job = claim(queue)
        execution = Execution.fetch(job.execution_id, "run", connection=broker)
        assert execution.id == job.execution_id and execution.job_id == "run"
        assert execution.worker_name == "w1"
        assert execution.composite_key == f"run:{job.execution_id}"
        assert execution.job == job
        assert execution.created_at == job.started_at
        assert execution.last_heartbeat == job.last_heartbeat
        assert execution.key == job.key
        assert WORKER_EXECUTIONS_KEY_TEMPLATE.format("w1") == broker.worker_key("w1")
        registry = ExecutionRegistry("run", broker)
        assert registry.get_execution_ids() == [job.execution_id]
        assert registry.get_executions() == [execution]
        assert execution in registry and registry.count == 1
        assert registry.get_expired_job_ids() == []
        again = Execution.from_composite_key(execution.composite_key, broker)
        assert again == execution and hash(again) == hash(execution)
        copy = Execution("x", "run", broker)
        copy.restore(execution.serialize())
        assert (copy.created_at, copy.worker_name) == (execution.created_at, "w1")

    def test_heartbeat_renews_the_lease(self, broker):
        from jq.executions import Execution

        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 2, job_id="run")
        job = claim(queue, lease_seconds=5)
        Execution(job.execution_id, "run", broker).heartbeat(queue.started_job_registry, ttl=600)
        assert queue.started_job_registry.get_expiration_time(job).timestamp() > time.time() + 500

    def test_no_execution_once_the_job_ended_or_for_another_id(self, broker):
        from jq.executions import Execution, ExecutionRegistry

        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        with pytest.raises(ValueError, match="not running"):
            Execution.fetch("abc", job.id, connection=broker)
        claimed = claim(queue)
        with pytest.raises(ValueError, match="not running"):
            Execution.fetch("another", job.id, connection=broker)
        assert ExecutionRegistry("missing", broker).get_executions() == []
        assert claimed.execution_id

    def test_what_a_claim_does_is_refused(self, broker):
        from jq.executions import Execution, ExecutionRegistry, cleanup_execution, prepare_execution

        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
        for call in (
            lambda: Execution.create(job, 60, None),
            lambda: Execution("e", job.id, broker).save(60),
            lambda: ExecutionRegistry(job.id, broker).add(Execution("e", job.id, broker)),
            lambda: prepare_execution(object(), job),
        ):
            with pytest.raises(UnsupportedByBrokerError, match="atomic step"):
                call()

        class Holder:
            def __init__(self):
                self.executions = {"e": object()}

        holder = Holder()
        cleanup_execution(holder, job, None, Execution("e", job.id, broker))
        assert holder.executions == {}


class TestJobLifecycle:
    def test_call_exception_handlers_stops_at_a_false_value(self):
        from jq.job_lifecycle import call_exception_handlers

        calls = []
        handlers = [
            lambda *args: calls.append(1),  # None: go on
            lambda *args: calls.append(2) or True,
            lambda *args: calls.append(3) or 0,  # false, not None: stop
            lambda *args: calls.append(4),
        ]
        call_exception_handlers(handlers, None, ValueError, ValueError(), None)
        assert calls == [1, 2, 3]

    def test_format_exc_info(self):
        from jq.job_lifecycle import format_exc_info

        try:
            raise ValueError("bad")
        except ValueError as error:
            text = format_exc_info((ValueError, error, error.__traceback__))
        assert text.startswith("Traceback") and text.rstrip().endswith("ValueError: bad")

    def test_record_job_failure(self, broker):
        from jq.job_lifecycle import record_job_failure

        queue = Queue(connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2, failure_ttl=300)
        record_job_failure(job, "Traceback: boom")
        assert job.get_status() == "failed"
        assert job.id in queue.failed_job_registry and queue.count == 0
        assert job.latest_result().exc_string == "Traceback: boom"
        assert 290 < broker.job_ttl(job.id) <= 300


class TestScripts:
    def test_locks(self, broker):
        from jq.scripts import acquire_or_refresh_lock, release_lock

        assert acquire_or_refresh_lock(broker, "maintenance", "a", 30)
        assert not acquire_or_refresh_lock(broker, "maintenance", "b", 30)
        assert acquire_or_refresh_lock(broker, "maintenance", "a", 30)  # refreshed
        assert not release_lock(broker, "maintenance", "b")
        assert release_lock(broker, "maintenance", "a")
        assert acquire_or_refresh_lock(broker, "maintenance", "b", 30)

    def test_unique_enqueue_and_schedule(self, broker):
        from jq.exceptions import DuplicateJobError
        from jq.scripts import save_unique_job, schedule_unique_job

        queue = Queue(connection=broker)
        job = Job.create(fixtures.add, args=(1, 2), id="only", connection=broker)
        save_unique_job(broker, queue.key, job)
        assert queue.job_ids == ["only"]
        with pytest.raises(DuplicateJobError):
            save_unique_job(
                broker, queue.key, Job.create(fixtures.add, args=(1, 2), id="only", connection=broker)
            )
        later = Job.create(fixtures.add, args=(1, 2), id="later", connection=broker)
        when = datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)
        schedule_unique_job(broker, queue.key, queue.scheduled_job_registry.key, later, when)
        assert queue.scheduled_job_registry.get_scheduled_time("later") == when


class TestRQScheduler:
    def test_locks_and_enqueue_scheduled_jobs(self, broker):
        from jq.scheduler import RQScheduler, SchedulerStatus

        queue = Queue(connection=broker)
        job = queue.enqueue_at(
            datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc), fixtures.add, 1, 2
        )
        first = RQScheduler([queue], broker, name="first")
        second = RQScheduler(["default"], broker, name="second")
        assert first.status is SchedulerStatus.STOPPED
        assert first.acquire_locks() == {"default"}
        assert second.acquire_locks() == set()
        assert first.acquired_locks == {"default"} and not first.should_reacquire_locks
        assert broker.lock_owner("scheduler:default").startswith("first:")
        assert RQScheduler.get_locking_key("default") == "jq:lock:scheduler:default"
        first.enqueue_scheduled_jobs()
        assert job.get_status() == "queued"
        first.heartbeat()
        first.release_locks()
        assert second.acquire_locks() == {"default"}
        second.release_locks()
        with pytest.raises(SchedulerNotFound):
            RQScheduler.fetch("first", broker)
        assert first.to_dict()["name"] == "first" and first.key is None

    def test_start_and_stop_in_a_thread(self, broker):
        from jq.scheduler import RQScheduler

        scheduler = RQScheduler(["default"], broker, interval=0.05)
        thread = scheduler.start()
        assert isinstance(thread, threading.Thread)
        scheduler.stop()
        assert not thread.is_alive()
        assert scheduler.acquired_locks == set()


class TestLocal:
    def test_each_thread_sees_its_own(self):
        from jq.local import Local, LocalManager, LocalStack, release_local

        local, stack = Local(), LocalStack()
        local.value = "main"
        stack.push(1)
        seen = {}

        def other():
            seen["value"] = getattr(local, "value", None)
            seen["top"] = stack.top
            local.value = "other"

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert seen == {"value": None, "top": None}
        assert local.value == "main" and stack.top == 1
        proxy = local("value")
        assert proxy == "main" and proxy.upper() == "MAIN"
        assert stack.pop() == 1 and stack.top is None
        LocalManager([local]).cleanup()
        assert not hasattr(local, "value")
        local.value = 1
        release_local(local)
        assert not hasattr(local, "value")


class TestRq30Options:
    def test_repeat(self):
        from jq.repeat import Repeat

        repeat = Repeat(times=3, interval=[10, 20])
        assert (repeat.times, repeat.intervals) == (3, [10, 20])
        assert Repeat(2).intervals == [0]
        assert [Repeat.get_interval(n, [10, 20]) for n in range(4)] == [10, 20, 20, 20]
        for bad in ({"times": 0}, {"times": 1, "interval": -1}, {"times": 1, "interval": [1, -2]}):
            with pytest.raises(ValueError):
                Repeat(**bad)
        with pytest.raises(TypeError):
            Repeat(1, interval="soon")

    def test_webhook(self, broker):
        from jq.webhook import Webhook

        hook = Webhook("https://example.invalid/done", "failed", method="POST", headers={"X": "1"}, timeout=3)
        assert Webhook.from_dict(hook.to_dict()) == hook
        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
        payload = hook.get_payload(job, exc_string="boom")
        assert payload["job_id"] == job.id and payload["status"] == "failed" and payload["exc_info"] == "boom"
        assert payload["func_name"] == "tests.fixtures.add"
        for bad in (("ftp://x/y", "failed"), ("https://x/y", "started")):
            with pytest.raises(ValueError):
                Webhook(*bad)
        with pytest.raises(ValueError):
            Webhook("https://x/y", "failed", timeout=0)

    def test_rate_limit_and_its_registry(self):
        """Stream F: rate limits are enforced now (the registry refused before)."""
        from jq.rate_limit import RateLimit, RateLimitRegistry, release_slot

        assert RateLimit("api", 2) == RateLimit("api", concurrency=2)
        with pytest.raises(ValueError):
            RateLimit("", 1)
        with pytest.raises(ValueError):
            RateLimit("api", 0)
        assert RateLimitRegistry.all("memory://") == []
        registry = RateLimitRegistry("api", "memory://")
        assert registry.get_allowed_job_ids() == [] and registry.concurrency == 0
        assert registry.allowed_key == "jq:rate-limit-slots:api"
        assert registry.rate_limited_key == "jq:rate-limit-waiting:api"
        assert registry.config_key == "jq:rate-limit:api"
        with pytest.raises(UnsupportedByBrokerError):
            registry.add_to_rate_limited("j", pipeline=None)
        assert release_slot(None) == []

    def test_group_names_its_key_and_is_empty_until_jobs_join(self):
        from jq.exceptions import NoSuchGroupError
        from jq.group import Group

        group = Group.create("memory://", name="g")
        assert group.key == "jq:group:g" == Group.get_key("g")
        assert group.get_jobs() == []
        assert Group.all("memory://") == []
        with pytest.raises(NoSuchGroupError):
            Group.fetch("g", "memory://")


class TestMachineryJqDoesWithout:
    def test_intermediate_queue_is_empty(self, broker):
        from jq.intermediate_queue import IntermediateQueue
        from jq.maintenance import clean_intermediate_queue

        queue = Queue(connection=broker)
        intermediate = IntermediateQueue(queue.key, broker)
        assert intermediate.key is None and intermediate.get_job_ids() == []
        assert not intermediate.should_be_cleaned_up("x")
        with pytest.warns(DeprecationWarning):
            clean_intermediate_queue(None, queue)

    def test_cron_registries_refuse(self):
        from jq import cron_job_registry, cron_scheduler_registry

        for call in (
            cron_job_registry.get_registry_key,
            lambda: cron_job_registry.get_names("memory://"),
            lambda: cron_scheduler_registry.get_keys("memory://"),
        ):
            with pytest.raises(UnsupportedByBrokerError, match="keeps no registry"):
                call()


class TestModuleLevelNames:
    def test_callbacks_run_under_a_death_penalty(self, broker):
        from jq.callbacks import execute_failure_callback, execute_stopped_callback, execute_success_callback
        from jq.timeouts import TimerDeathPenalty

        job = Queue(connection=broker).enqueue(
            fixtures.add,
            1,
            2,
            on_success=fixtures.on_success_record,
            on_failure=fixtures.on_failure_record,
            on_stopped=fixtures.on_stopped_record,
        )
        execute_success_callback(job, TimerDeathPenalty, 3)
        execute_failure_callback(job, TimerDeathPenalty, ValueError, ValueError("x"), None)
        execute_stopped_callback(job, TimerDeathPenalty)
        raising = Queue(connection=broker).enqueue(fixtures.add, 1, 2, on_success=fixtures.on_success_raise)
        with pytest.raises(Exception):
            execute_success_callback(raising, TimerDeathPenalty, 3)

    def test_job_and_queue_names(self):
        from jq.job import JOB_ID_PATTERN, UNEVALUATED, parse_job_id
        from jq.queue import EnqueueArgs

        assert JOB_ID_PATTERN.fullmatch("abc_1-2") and not JOB_ID_PATTERN.fullmatch("a:b")
        assert parse_job_id("job:exec") == parse_job_id("job") == "job"
        assert UNEVALUATED is not None
        assert "rate_limit" in EnqueueArgs._fields and "webhooks" in EnqueueArgs._fields
