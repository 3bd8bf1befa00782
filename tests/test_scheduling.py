"""Later, again, then, once: delayed jobs, retries, callbacks, dependencies, unique jobs.

Every test runs on each driver. Time is controlled where practical: the scheduler's ``tick`` takes
the moment to act at, so tests do not wait for wall-clock time to pass.
"""

from __future__ import annotations

import datetime
import threading
import time

import pytest
import redis

from jq import Callback, Dependency, Queue, Retry, SimpleWorker, hookimpl
from jq.broker import RESULTS_KEPT
from jq.clock import scheduling_now, scheduling_time, use_scheduling_clock
from jq.cron import Cron, CronScheduler
from jq.exceptions import AbandonedJobError, ConfigurationError, DuplicateJobError, InvalidJobDependency
from jq.job import Job
from jq.plugins import get_plugin_manager
from jq.results import Result
from jq.scheduler import Scheduler, scheduler_lock_name
from jq.testing.helpers import wait_for
from jq.worker.scheduling import WorkerScheduling
from jq_backends.redis import RedisBroker
from tests import fixtures


@pytest.fixture(autouse=True)
def _clear_seen():
    fixtures.SEEN.clear()
    yield
    fixtures.SEEN.clear()


@pytest.fixture
def failed_hook():
    """What the ``jq_job_failed`` hook saw: (job id, exception name, worker name) per call."""
    seen: list[tuple[str, str, str | None]] = []

    class Recorder:
        @hookimpl
        def jq_job_failed(self, job, exc_info, worker):
            seen.append((job.id, exc_info[0].__name__, worker.name if worker is not None else None))

    manager = get_plugin_manager()
    name = manager.register(Recorder(), name="failed-hook-recorder")
    try:
        yield seen
    finally:
        manager.unregister(name)


def run_burst(queue: Queue) -> bool:
    """Run every queued job with an in-process worker."""
    return SimpleWorker([queue]).work(burst=True)


class TestDelayedJobs:
    """enqueue_at / enqueue_in and the scheduler that queues them when due."""

    def test_enqueue_at_waits_in_the_scheduled_registry(self, queue):
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        job = queue.enqueue_at(when, fixtures.add, 1, 2)
        assert job.get_status() == "scheduled"
        assert job.id in queue.scheduled_job_registry
        assert len(queue) == 0
        scheduled = queue.scheduled_job_registry.get_scheduled_time(job)
        assert abs((scheduled - when).total_seconds()) < 0.001

    def test_naive_datetimes_are_local_time(self, queue):
        """As RQ (issue 12; tests/test_rq_queue.py checks it with another zone than UTC)."""
        naive = datetime.datetime(2030, 1, 1, 12, 0, 0)
        job = queue.enqueue_at(naive, fixtures.add, 1, 2)
        expected = naive.astimezone(datetime.timezone.utc)
        assert queue.scheduled_job_registry.get_scheduled_time(job) == expected

    def test_enqueue_in(self, queue):
        job = queue.enqueue_in(datetime.timedelta(minutes=10), fixtures.add, 1, 2)
        scheduled = queue.scheduled_job_registry.get_scheduled_time(job)
        assert 590 < (scheduled - datetime.datetime.now(datetime.timezone.utc)).total_seconds() <= 600

    def test_the_scheduler_queues_due_jobs_only(self, queue):
        soon = queue.enqueue_in(datetime.timedelta(seconds=30), fixtures.add, 1, 2)
        later = queue.enqueue_in(datetime.timedelta(hours=2), fixtures.add, 3, 4)
        scheduler = Scheduler([queue])
        assert scheduler.tick() == 0
        assert scheduler.tick(now=time.time() + 60) == 1
        assert soon.get_status() == "queued"
        assert later.get_status() == "scheduled"
        run_burst(queue)
        assert soon.result == 3

    def test_one_active_scheduler_per_queue(self, queue):
        first, second = Scheduler([queue], name="first"), Scheduler([queue], name="second")
        queue.enqueue_in(datetime.timedelta(seconds=1), fixtures.add, 1, 2)
        first.tick()
        second.tick()
        assert first.held_queues == ["default"]
        assert second.held_queues == []
        assert queue.broker.lock_owner(scheduler_lock_name("default")) == first.token
        # The second never promotes while the first holds the lock.
        assert second.tick(now=time.time() + 60) == 0
        assert first.tick(now=time.time() + 60) == 1

    def test_a_dead_scheduler_is_replaced_within_its_lock_ttl(self, queue):
        holder = Scheduler([queue], interval=0.1, lock_ttl=1.0, name="holder")
        holder.tick()
        successor = Scheduler([queue], interval=0.1, lock_ttl=1.0, name="successor")
        started = time.monotonic()
        # The holder stops renewing (it died); the successor keeps trying.
        assert wait_for(lambda: successor.tick() >= 0 and successor.held_queues == ["default"], timeout=30)
        assert time.monotonic() - started <= 2 * holder.lock_ttl
        # The old holder cannot renew a lock it lost.
        holder.tick()
        assert holder.held_queues == []

    def test_two_schedulers_promoting_at_once_without_the_lock_queue_each_job_once(self, queue):
        jobs = [queue.enqueue_in(datetime.timedelta(seconds=1), fixtures.add, n, n) for n in range(300)]
        moment = time.time() + 60
        barrier = threading.Barrier(2)
        promoted: list[list[str]] = [[], []]

        def promote(mine: list[str]) -> None:
            # The broker call a scheduler makes, bypassing the lock that normally keeps one active.
            barrier.wait(10)
            while batch := queue.broker.promote_scheduled("default", moment, {}, 7):
                mine.extend(batch)

        threads = [threading.Thread(target=promote, args=(mine,)) for mine in promoted]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        everything = promoted[0] + promoted[1]
        assert sorted(everything) == sorted(job.id for job in jobs)
        assert sorted(queue.job_ids) == sorted(job.id for job in jobs)
        assert queue.scheduled_job_registry.count == 0

    def test_release_hands_over_at_once(self, queue):
        first, second = Scheduler([queue], name="first"), Scheduler([queue], name="second")
        first.tick()
        first.release()
        second.tick()
        assert second.held_queues == ["default"]

    def test_a_worker_with_scheduler_runs_delayed_jobs(self, queue):
        job = queue.enqueue_in(datetime.timedelta(seconds=1), fixtures.add, 2, 3)
        worker = SimpleWorker([queue], name="scheduling")
        thread = threading.Thread(
            target=worker.work, kwargs={"with_scheduler": True, "logging_level": "WARNING"}
        )
        thread.start()
        try:
            assert wait_for(lambda: job.get_status() == "finished", timeout=30)
            assert job.result == 5
        finally:
            worker.request_stop()
            thread.join(10)
        # It gave its lock back when it stopped.
        assert queue.broker.lock_owner(scheduler_lock_name("default")) is None

    def test_bad_scheduler_settings(self, queue):
        with pytest.raises(ConfigurationError, match="longer than interval"):
            Scheduler([queue], interval=5, lock_ttl=5)
        with pytest.raises(ConfigurationError, match="at least one queue"):
            Scheduler([], connection=queue.broker)
        with pytest.raises(ConfigurationError, match="needs a datetime"):
            queue.enqueue_at("tomorrow", fixtures.add, 1, 2)


class TestSchedulingClock:
    """jq.clock: due times and schedulers follow a clock a test moves, not time.time."""

    def test_enqueue_in_and_the_scheduler_follow_the_scheduling_clock(self, queue):
        # Whole seconds: enqueue_in's datetime arithmetic keeps microseconds only.
        moment = [float(int(time.time()) + 3600)]
        with use_scheduling_clock(lambda: moment[0]):
            job = queue.enqueue_in(datetime.timedelta(minutes=10), fixtures.add, 1, 2)
            due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
            assert due == pytest.approx(moment[0] + 600, abs=0.01)
            scheduler = Scheduler([queue])
            assert scheduler.tick() == 0
            moment[0] += 600
            assert scheduler.tick() == 1
        assert job.get_status() == "queued"

    def test_retry_intervals_count_from_the_scheduling_clock(self, queue):
        moment = [float(int(time.time()) - 86400)]
        job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=1, interval=30))
        with use_scheduling_clock(lambda: moment[0]):
            run_burst(queue)
            due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
            assert due == pytest.approx(moment[0] + 30, abs=0.01)
            moment[0] += 30
            SimpleWorker([queue]).work(burst=True, with_scheduler=True)
        assert job.get_status() == "failed"
        job.refresh()
        assert job.retries_left == 0

    def test_the_clock_comes_back(self):
        with use_scheduling_clock(lambda: 5.0):
            assert scheduling_time() == 5.0
            assert scheduling_now() == datetime.datetime(1970, 1, 1, 0, 0, 5, tzinfo=datetime.timezone.utc)
        assert abs(scheduling_time() - time.time()) < 1
        with pytest.raises(TypeError, match="seconds since the epoch"):
            use_scheduling_clock(5.0).__enter__()


class TestWorkerScheduling:
    """A worker's scheduler and cron run in a background thread that rides out store errors."""

    def test_store_errors_are_logged_and_the_next_look_tries_again(
        self, fakeredis_client, monkeypatch, caplog
    ):
        broker = RedisBroker(fakeredis_client)
        queue = Queue(connection=broker)
        due = queue.enqueue_in(datetime.timedelta(seconds=0), fixtures.add, 2, 3)
        cron = Cron()
        cron.register(fixtures.add, interval=1, args=(1, 1), queue="periodic", name="every-second")
        worker = SimpleWorker([queue], name="weathered")
        # The first two promotions find the store unreachable; the first marker read hits a bug.
        errors = {"promote_scheduled": [redis.ConnectionError("down"), redis.ConnectionError("down")],
                  "marker": [RuntimeError("unexpected")]}  # fmt: skip
        for name, raised in errors.items():
            real = getattr(broker, name)

            def flaky(*args, _real=real, _raised=raised, **kwargs):
                if _raised:
                    raise _raised.pop(0)
                return _real(*args, **kwargs)

            monkeypatch.setattr(broker, name, flaky)
        scheduling = WorkerScheduling(
            worker.name,
            worker.broker,
            worker.fork_guard,
            Scheduler([queue], name=worker.name),
            CronScheduler(cron, broker),
            interval=0.05,
        )
        scheduling.start()
        try:
            assert wait_for(lambda: due.get_status() == "queued", timeout=30)
            assert wait_for(lambda: len(Queue("periodic", connection=broker)) >= 1, timeout=30)
        finally:
            scheduling.stop()
        assert not [thread for thread in threading.enumerate() if thread.name == "jq-scheduling-weathered"]
        # Its lock was given back when it stopped.
        assert broker.lock_owner(scheduler_lock_name("default")) is None
        assert caplog.text.count("scheduler: the store is unreachable") == 1
        assert "scheduler: the store answers again" in caplog.text
        assert "cron failed; trying again" in caplog.text

    def test_a_worker_stops_its_scheduling_thread(self, queue):
        cron = Cron()
        cron.register(fixtures.add, interval=60, args=(1, 1), name="minutely")
        worker = SimpleWorker([queue], name="tidy", cron=cron)
        thread = threading.Thread(
            target=worker.work, kwargs={"with_scheduler": True, "logging_level": "WARNING"}
        )
        thread.start()
        try:
            # The lock is taken before the thread is started: wait for both.
            assert wait_for(
                lambda: (
                    queue.broker.lock_owner(scheduler_lock_name("default")) is not None
                    and any(t.name == "jq-scheduling-tidy" for t in threading.enumerate())
                ),
                timeout=30,
            )
        finally:
            worker.request_stop()
            thread.join(10)
        assert not thread.is_alive()
        assert not any(t.name == "jq-scheduling-tidy" for t in threading.enumerate())
        assert queue.broker.lock_owner(scheduler_lock_name("default")) is None


class TestRetries:
    """Retry(max, interval): attempts recorded, intervals scheduled, what is and is not retried."""

    def test_immediate_retries_then_success(self, queue):
        job = queue.enqueue(fixtures.fail_once_then_succeed, "k", retry=Retry(max=3))
        run_burst(queue)
        assert job.result == "k done after 2 attempts"
        job.refresh()
        assert job.retries_left == 2
        assert [result.type for result in job.results()] == [Result.Type.SUCCESSFUL, Result.Type.RETRIED]

    def test_intervals_schedule_the_retries(self, queue):
        job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=2, interval=[10, 60]))
        run_burst(queue)
        assert job.get_status() == "scheduled"
        first_wait = queue.scheduled_job_registry.get_scheduled_time(job)
        assert 8 < (first_wait - datetime.datetime.now(datetime.timezone.utc)).total_seconds() <= 10
        scheduler = Scheduler([queue])
        assert scheduler.tick(now=time.time() + 11) == 1
        run_burst(queue)
        second_wait = queue.scheduled_job_registry.get_scheduled_time(job)
        assert 58 < (second_wait - datetime.datetime.now(datetime.timezone.utc)).total_seconds() <= 60
        assert scheduler.tick(now=time.time() + 61) == 1
        run_burst(queue)
        assert job.get_status() == "failed"
        assert [result.type for result in job.results()] == [
            Result.Type.FAILED,
            Result.Type.RETRIED,
            Result.Type.RETRIED,
        ]

    @pytest.mark.parametrize(
        ("interval", "waits"),
        [([10, 60], [10, 60, 60]), ([10, 60, 300, 900], [10, 60, 300]), (30, [30, 30, 30])],
    )
    def test_the_nth_retry_waits_the_nth_interval_then_the_last(self, queue, interval, waits):
        job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=3, interval=interval))
        assert Job.fetch(job.id, connection=queue.broker).retry_max == 3
        scheduler = Scheduler([queue])
        seen = []
        for wait in waits:
            before = time.time()
            run_burst(queue)
            after = time.time()
            assert job.get_status() == "scheduled"
            due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
            # The retry was scheduled while the burst ran (it takes seconds on a loaded machine):
            # the wait counts from some moment between before and after.
            seen.append(wait if due - after - 1 <= wait <= due - before + 1 else round(due - before))
            assert scheduler.tick(now=due + 1) == 1
        run_burst(queue)
        assert job.get_status() == "failed"
        assert seen == waits

    def test_every_attempt_is_kept_when_there_are_more_than_ten(self, queue):
        job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=12))
        run_burst(queue)
        assert job.get_status() == "failed"
        types = [result.type for result in job.results()]
        assert types == [Result.Type.FAILED] + [Result.Type.RETRIED] * 12
        # A job without a Retry keeps the newest RESULTS_KEPT.
        plain = queue.enqueue(fixtures.div_by_zero, 1)
        for _ in range(RESULTS_KEPT + 1):
            run_burst(queue)
            plain.requeue()
        assert len(plain.results()) == RESULTS_KEPT

    def test_a_timeout_is_retried(self, queue):
        job = queue.enqueue(fixtures.sleep_for, 5, job_timeout=1, retry=Retry(max=1))
        SimpleWorker([queue]).work(burst=True, max_jobs=1)
        assert job.get_status() == "queued"
        assert "JobTimeoutException" in job.exc_info

    def test_bad_retry_settings(self):
        with pytest.raises(ConfigurationError, match="max"):
            Retry(max=0)
        with pytest.raises(ConfigurationError, match="interval"):
            Retry(max=2, interval=[-1])
        with pytest.raises(ConfigurationError, match="interval"):
            Retry(max=2, interval=[])


class TestCallbacks:
    """on_success, on_failure, on_stopped and Callback timeouts."""

    def test_an_on_success_past_its_timeout_is_stopped_and_fails_the_job(self, queue):
        job = queue.enqueue(fixtures.add, 1, 2, on_success=Callback(fixtures.sleep_in_callback, timeout=1))
        after = queue.enqueue(fixtures.add, 2, 2)
        started = time.monotonic()
        run_burst(queue)
        assert time.monotonic() - started < 20
        assert ("slow-callback-started", job.id) in fixtures.SEEN
        assert ("slow-callback-finished", job.id) not in fixtures.SEEN
        # As in RQ, the success callback runs before the outcome is recorded: it fails the job.
        assert job.get_status() == "failed"
        assert "JobTimeoutException" in job.exc_info
        assert after.result == 4

    def test_a_raising_or_overlong_on_failure_leaves_the_job_failed(self, queue):
        broken = queue.enqueue(fixtures.div_by_zero, 1, on_failure=fixtures.on_failure_raise)
        slow = queue.enqueue(
            fixtures.div_by_zero, 1, on_failure=Callback(fixtures.sleep_in_failure_callback, timeout=1)
        )
        after = queue.enqueue(fixtures.add, 2, 2)
        started = time.monotonic()
        run_burst(queue)
        assert time.monotonic() - started < 10
        assert broken.get_status() == "failed" and slow.get_status() == "failed"
        assert "ZeroDivisionError" in broken.exc_info and "ZeroDivisionError" in slow.exc_info
        assert ("failure-raising", broken.id) in fixtures.SEEN
        assert ("slow-failure-started", slow.id) in fixtures.SEEN
        assert ("slow-failure-finished", slow.id) not in fixtures.SEEN
        assert after.result == 4

    @staticmethod
    def _abandon(queue: Queue, job: Job) -> float:
        """Claim ``job`` as a worker that then dies; a moment when its lease has long run out."""
        dead = SimpleWorker([queue], name="dead")
        claimed = dead.dequeue(wait=None)
        assert claimed is not None and claimed.id == job.id
        return time.time() + 10 * dead.worker_ttl

    def test_an_abandoned_job_runs_on_failure_and_the_failed_hook(self, queue, failed_hook):
        job = queue.enqueue(fixtures.add, 1, 2, on_failure=fixtures.on_failure_record)
        assert queue.started_job_registry.cleanup(timestamp=self._abandon(queue, job)) == [job.id]
        assert job.get_status() == "failed"
        assert fixtures.SEEN == [("failure", job.id, AbandonedJobError)]
        assert failed_hook == [(job.id, "AbandonedJobError", None)]

    def test_an_abandoned_job_with_retries_left_runs_neither(self, queue, failed_hook):
        job = queue.enqueue(fixtures.add, 1, 2, retry=Retry(max=1), on_failure=fixtures.on_failure_record)
        assert queue.started_job_registry.cleanup(timestamp=self._abandon(queue, job)) == [job.id]
        assert job.get_status() == "queued"
        assert fixtures.SEEN == []
        assert failed_hook == []

    def test_the_on_failure_of_an_abandoned_job_is_held_to_its_timeout(self, queue):
        slow = Callback(fixtures.sleep_in_failure_callback, timeout=1)
        job = queue.enqueue(fixtures.add, 1, 2, on_failure=slow)
        broken = queue.enqueue(fixtures.add, 1, 2, on_failure=fixtures.on_failure_raise)
        moment = self._abandon(queue, job)
        self._abandon(queue, broken)
        started = time.monotonic()
        assert sorted(queue.started_job_registry.cleanup(timestamp=moment)) == sorted([job.id, broken.id])
        assert time.monotonic() - started < 10
        assert ("slow-failure-started", job.id) in fixtures.SEEN
        assert ("slow-failure-finished", job.id) not in fixtures.SEEN
        assert ("failure-raising", broken.id) in fixtures.SEEN
        assert job.get_status() == "failed" and broken.get_status() == "failed"

    def test_on_failure_is_not_called_for_a_retry(self, queue):
        job = queue.enqueue(
            fixtures.fail_once_then_succeed, "x", retry=Retry(max=1), on_failure=fixtures.on_failure_record
        )
        run_burst(queue)
        assert job.get_status() == "finished"
        assert [entry for entry in fixtures.SEEN if entry[0] == "failure"] == []

    def test_callback_by_dotted_path(self, queue):
        job = queue.enqueue(fixtures.add, 1, 2, on_success="tests.fixtures.on_success_record")
        run_burst(queue)
        assert ("success", job.id, 3) in fixtures.SEEN

    def test_bad_callbacks(self, queue):
        """What RQ accepts is accepted (a lambda, a builtin's bare name); what names no function
        is refused."""
        queue.enqueue(fixtures.add, 1, 2, on_success=lambda *a: None)
        queue.enqueue(fixtures.add, 1, 2, on_failure="print")
        with pytest.raises(ConfigurationError, match="dotted path"):
            queue.enqueue(fixtures.add, 1, 2, on_failure=3)


class TestDependencies:
    """Several parents, Dependency options, failures and cancellations down the chain, cycles."""

    def test_allow_failure(self, queue):
        parent = queue.enqueue(fixtures.div_by_zero, 1)
        child = queue.enqueue(fixtures.add, 1, 1, depends_on=Dependency(jobs=[parent], allow_failure=True))
        run_burst(queue)
        assert parent.get_status() == "failed"
        assert child.result == 2

    def test_enqueue_at_front_when_released(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        waiting = queue.enqueue(fixtures.add, 3, 3)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=Dependency(jobs=parent, enqueue_at_front=True))
        SimpleWorker([queue]).work(burst=True, max_jobs=1)
        assert queue.job_ids == [child.id, waiting.id]

    def test_a_failed_parent_leaves_its_dependents_deferred(self, queue):
        parent = queue.enqueue(fixtures.div_by_zero, 1)
        child = queue.enqueue(fixtures.add, 1, 1, depends_on=parent)
        grandchild = queue.enqueue(fixtures.add, 2, 2, depends_on=child)
        tolerant = queue.enqueue(fixtures.add, 3, 3, depends_on=Dependency(jobs=child, allow_failure=True))
        run_burst(queue)
        assert child.get_status() == "deferred"
        assert grandchild.get_status() == "deferred"
        assert tolerant.get_status() == "deferred", "its dependency did not fail: it waits"
        assert queue.deferred_job_registry.count == 3
        assert queue.canceled_job_registry.count == 0

    def test_a_retried_parent_keeps_its_dependents_waiting(self, queue):
        parent = queue.enqueue(fixtures.fail_once_then_succeed, "p", retry=Retry(max=1))
        child = queue.enqueue(fixtures.add, 1, 1, depends_on=parent)
        run_burst(queue)
        assert parent.get_status() == "finished"
        assert child.result == 2

    def test_canceling_a_parent_leaves_its_dependents_deferred(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        parent.cancel()
        assert child.get_status() == "deferred"

    def test_deleting_a_parent_leaves_or_deletes_its_dependents(self, queue):
        parent = queue.enqueue(fixtures.add, 1, 1)
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        parent.delete()
        assert child.get_status() == "deferred"
        other_parent = queue.enqueue(fixtures.add, 1, 1)
        other_child = queue.enqueue(fixtures.add, 2, 2, depends_on=other_parent)
        other_parent.delete(delete_dependents=True)
        assert not Job.exists(other_child.id, connection=queue.broker)

    def test_requeueing_a_failed_job_releases_its_dependents_when_it_succeeds(self, queue):
        parent = queue.enqueue(fixtures.fail_once_then_succeed, "p")
        child = queue.enqueue(fixtures.add, 2, 2, depends_on=parent)
        run_burst(queue)
        assert (parent.get_status(), child.get_status()) == ("failed", "deferred")
        parent.requeue()
        assert child.get_status() == "deferred"
        run_burst(queue)
        assert parent.get_status() == "finished"
        assert child.result == 4

    def test_a_dependency_cycle_is_refused(self, queue):
        first = queue.enqueue(fixtures.add, 1, 1, job_id="first")
        queue.enqueue(fixtures.add, 2, 2, job_id="second", depends_on=first)
        with pytest.raises(InvalidJobDependency, match="cycle"):
            queue.enqueue(fixtures.add, 3, 3, job_id="first", depends_on="second")
        assert Job.fetch("first", connection=queue.broker).get_status() == "queued"


class TestUniqueJobs:
    """unique=True refuses a job id while a job with that id exists (as RQ: until it is deleted)."""

    def test_refused_while_the_job_exists_allowed_after_delete(self, queue):
        first = queue.enqueue(fixtures.add, 1, 2, job_id="report", unique=True)
        with pytest.raises(DuplicateJobError) as caught:
            queue.enqueue(fixtures.add, 5, 5, job_id="report", unique=True)
        assert caught.value.job_id == "report"
        assert queue.job_ids == ["report"]
        run_burst(queue)
        with pytest.raises(DuplicateJobError):
            queue.enqueue(fixtures.add, 5, 5, job_id="report", unique=True)
        assert first.get_status() == "finished"
        first.delete()
        again = queue.enqueue(fixtures.add, 5, 5, job_id="report", unique=True)
        run_burst(queue)
        assert again.result == 10

    def test_unique_needs_a_job_id(self, queue):
        with pytest.raises(ConfigurationError, match="needs a job_id"):
            queue.enqueue(fixtures.add, 1, 2, unique=True)

    def test_without_unique_an_id_is_replaced_not_doubled(self, queue):
        queue.enqueue(fixtures.add, 1, 2, job_id="same")
        queue.enqueue(fixtures.add, 3, 4, job_id="same")
        assert queue.job_ids == ["same"]
        run_burst(queue)
        assert Job.fetch("same", connection=queue.broker).result == 7

    def test_unique_scheduled_job(self, queue):
        queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 2, job_id="later", unique=True)
        with pytest.raises(DuplicateJobError):
            queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 2, job_id="later", unique=True)
