"""RQ 3.0's ``RateLimit`` (docs/docs/index.md, "Concurrency Rate Limits"), on every driver: at
most ``concurrency`` jobs of a key queued or running; the others wait ``rate_limited``, off the
queue, and are queued in enqueue order as slots are freed: never lost, never run early."""

from __future__ import annotations

import datetime
import signal
import time

import pytest

from jq import Queue, RateLimit, Repeat, Retry, SimpleWorker
from jq.exceptions import UnsupportedByBrokerError
from jq.job import Job
from jq.rate_limit import RateLimitRegistry, release_slot
from jq.scheduler import Scheduler
from jq.testing.helpers import wait_for
from jq_backends.memory import MemoryBroker
from tests import fixtures
from tests.processes import start_worker, stop


def run_burst(queue: Queue, **options) -> None:
    SimpleWorker([queue]).work(burst=True, **options)


def statuses(*jobs: Job) -> list[str]:
    return [job.get_status().value for job in jobs]


def test_jobs_over_the_limit_wait_off_the_queue(queue):
    """The documentation's example."""
    rate_limit = RateLimit(key="reports", concurrency=2)
    jobs = [queue.enqueue(fixtures.add, n, 1, rate_limit=rate_limit) for n in (1, 2, 3)]
    assert [job.get_status(refresh=False) for job in jobs] == ["queued", "queued", "rate_limited"]
    assert statuses(*jobs) == ["queued", "queued", "rate_limited"]
    assert queue.count == 2 and queue.job_ids == [jobs[0].id, jobs[1].id]
    assert jobs[2].enqueued_at is None, "not enqueued until it is put on its queue"
    registry = RateLimitRegistry("reports", queue.broker)
    assert registry.get_allowed_job_ids() == [jobs[0].id, jobs[1].id]
    assert registry.get_rate_limited_job_ids() == [jobs[2].id] and registry.get_rate_limited_job_count() == 1
    assert registry.concurrency == 2
    assert [r.key for r in RateLimitRegistry.all(queue.broker)] == ["reports"]
    stored = Job.fetch(jobs[2].id, connection=queue.broker)
    assert (stored.rate_limit_key, stored.rate_limit_concurrency, stored.has_rate_limit) == (
        "reports",
        2,
        True,
    )


def test_a_waiting_job_runs_once_a_slot_is_freed_never_before(queue):
    rate_limit = RateLimit("k", 1)
    first, second = (queue.enqueue(fixtures.add, n, 1, rate_limit=rate_limit) for n in (1, 2))
    run_burst(queue, max_jobs=1)
    assert statuses(first, second) == ["finished", "queued"]
    first.refresh()
    second.refresh()
    assert second.enqueued_at >= first.ended_at, "queued when the first one ended"
    run_burst(queue)
    assert statuses(first, second) == ["finished", "finished"]
    assert RateLimitRegistry.all(queue.broker) == [], "nothing held, nothing waiting"


def test_waiting_jobs_are_admitted_in_enqueue_order_across_queues(broker):
    one, two = Queue("one", connection=broker), Queue("two", connection=broker)
    rate_limit = RateLimit("k", 1)
    jobs = [one.enqueue(fixtures.add, 0, 0, rate_limit=rate_limit)]
    jobs += [(two if n % 2 else one).enqueue(fixtures.add, n, 0, rate_limit=rate_limit) for n in (1, 2, 3)]
    done: list[str] = []
    for _ in jobs:
        SimpleWorker([one, two]).work(burst=True, max_jobs=1)
        done += [job.id for job in jobs if job.id not in done and job.get_status() == "finished"]
    assert done == [job.id for job in jobs]


def test_failure_cancel_and_delete_free_the_slot(queue):
    rate_limit = RateLimit("k", 1)
    failing = queue.enqueue(fixtures.div_by_zero, 1, rate_limit=rate_limit)
    canceled, deleted, last = (queue.enqueue(fixtures.add, n, 1, rate_limit=rate_limit) for n in (1, 2, 3))
    run_burst(queue, max_jobs=1)
    assert statuses(failing, canceled, deleted, last) == ["failed", "queued", "rate_limited", "rate_limited"]
    canceled.cancel()
    assert statuses(deleted, last) == ["queued", "rate_limited"]
    deleted.delete()
    assert last.get_status() == "queued"
    failing.requeue()
    assert failing.get_status() == "rate_limited", "a requeued job waits for a slot too"


def test_a_waiting_job_can_be_canceled(queue):
    rate_limit = RateLimit("k", 1)
    first, waiting = (queue.enqueue(fixtures.add, n, 1, rate_limit=rate_limit) for n in (1, 2))
    waiting.cancel()
    assert waiting.get_status() == "canceled" and waiting.id in queue.canceled_job_registry
    assert RateLimitRegistry("k", queue.broker).get_rate_limited_job_ids() == []
    run_burst(queue)
    assert statuses(first, waiting) == ["finished", "canceled"]


def test_an_immediate_retry_or_repeat_keeps_its_slot(queue):
    rate_limit = RateLimit("k", 1)
    flaky = queue.enqueue(fixtures.div_by_zero, 1, rate_limit=rate_limit, retry=Retry(max=1))
    other = queue.enqueue(fixtures.add, 1, 1, rate_limit=rate_limit)
    run_burst(queue, max_jobs=1)
    assert statuses(flaky, other) == ["queued", "rate_limited"], "retried at once: it keeps its slot"
    run_burst(queue)
    assert statuses(flaky, other) == ["failed", "finished"]
    repeated = queue.enqueue(fixtures.add, 1, 1, rate_limit=rate_limit, repeat=Repeat(1))
    waiting = queue.enqueue(fixtures.add, 2, 2, rate_limit=rate_limit)
    run_burst(queue, max_jobs=1)
    assert statuses(repeated, waiting) == ["queued", "rate_limited"]


def test_a_scheduled_retry_frees_its_slot_and_waits_again_when_due(queue):
    rate_limit = RateLimit("k", 1)
    flaky = queue.enqueue(fixtures.div_by_zero, 1, rate_limit=rate_limit, retry=Retry(max=1, interval=30))
    holder = queue.enqueue(fixtures.add, 1, 1, rate_limit=rate_limit)
    run_burst(queue, max_jobs=1)
    assert statuses(flaky, holder) == ["scheduled", "queued"]
    due = queue.scheduled_job_registry.get_scheduled_time(flaky).timestamp()
    Scheduler([queue]).tick(now=due + 1)
    assert flaky.get_status() == "rate_limited"
    run_burst(queue)
    assert statuses(flaky, holder) == ["failed", "finished"]


def test_due_scheduled_jobs_and_released_dependents_wait_for_a_slot(queue):
    rate_limit = RateLimit("k", 1)
    holder = queue.enqueue(fixtures.add, 1, 1, rate_limit=rate_limit)
    later = queue.enqueue_in(datetime.timedelta(seconds=10), fixtures.add, 2, 2, rate_limit=rate_limit)
    parent = queue.enqueue(fixtures.add, 3, 3)
    child = queue.enqueue(fixtures.add, 4, 4, rate_limit=rate_limit, depends_on=parent)
    Scheduler([queue]).tick(now=time.time() + 20)
    assert later.get_status() == "rate_limited"
    SimpleWorker([queue]).work(burst=True, max_jobs=2)  # the holder, then the parent
    assert statuses(holder, parent, later, child) == ["finished", "finished", "queued", "rate_limited"]
    run_burst(queue)
    assert statuses(later, child) == ["finished", "finished"]


def test_a_slot_left_by_an_expired_job_is_freed_by_maintenance(queue):
    rate_limit = RateLimit("k", 1)
    expiring = queue.enqueue(fixtures.add, 1, 1, rate_limit=rate_limit, ttl=1)
    waiting = queue.enqueue(fixtures.add, 2, 2, rate_limit=rate_limit)
    assert wait_for(lambda: not Job.exists(expiring.id, queue.broker), timeout=10)
    assert waiting.get_status() == "rate_limited"
    SimpleWorker([queue]).run_maintenance_tasks()
    assert waiting.get_status() == "queued"


def test_unique_and_is_async_false_work_with_it(broker):
    queue = Queue(connection=broker, is_async=False)
    job = queue.enqueue(fixtures.add, 1, 2, job_id="once", unique=True, rate_limit=RateLimit("k", 1))
    assert job.get_status() == "finished" and job.return_value() == 3


def test_is_async_false_runs_a_follow_up_once_the_slot_is_free(broker):
    queue = Queue(connection=broker, is_async=False)
    outer = queue.enqueue(fixtures.enqueue_limited_follow_up, "k", rate_limit=RateLimit("k", 1))
    assert outer.return_value() == "rate_limited", "the outer job held the only slot"
    assert Job.fetch("limited-follow-up", connection=broker).get_status() == "finished"


def test_a_broker_without_rate_limits_refuses_them():
    class Plain(MemoryBroker):
        supports_rate_limits = False

    queue = Queue(connection=Plain())
    with pytest.raises(UnsupportedByBrokerError, match="rate limits"):
        queue.enqueue(fixtures.add, 1, 2, rate_limit=RateLimit("k", 1))
    assert queue.count == 0
    with pytest.raises(TypeError):
        Queue(connection=MemoryBroker()).enqueue(fixtures.add, 1, 2, rate_limit="k")


def test_on_a_callers_pipeline(redis_client):
    queue = Queue(connection=redis_client)
    with redis_client.pipeline() as pipe:
        jobs = [
            queue.enqueue(fixtures.add, n, 1, rate_limit=RateLimit("k", 1), pipeline=pipe) for n in (1, 2)
        ]
        assert queue.count == 0
        pipe.execute()
    assert statuses(*jobs) == ["queued", "rate_limited"]


def test_release_slot_after_a_refused_outcome(queue):
    """What a worker does when the outcome of its execution was refused (the job was canceled
    while it ran): the slot it kept is freed."""
    rate_limit = RateLimit("k", 1)
    running, waiting = (queue.enqueue(fixtures.add, n, 1, rate_limit=rate_limit) for n in (1, 2))
    assert queue.broker.claim([queue.name], {"execution": b"x"}, time.time() + 600) is not None
    running.cancel()
    assert waiting.get_status() == "rate_limited", "its code may still be running"
    running.refresh()
    assert release_slot(running) == [waiting.id]
    assert waiting.get_status() == "queued"


def test_two_workers_never_run_more_than_the_limit(redis_server, redis_client):
    """Two forking workers on a real server: the jobs of a key never overlap in time."""
    queue = Queue(connection=redis_client)
    jobs = [queue.enqueue(fixtures.record_span, "spans", 0.3, rate_limit=RateLimit("one-at-a-time", 1))
            for _ in range(4)]  # fmt: skip
    workers = [start_worker(redis_server.url, name=f"limited-{n}") for n in (1, 2)]
    try:
        assert wait_for(lambda: all(job.get_status() == "finished" for job in jobs), timeout=60)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            code, stderr = stop(worker)
            assert code == 0, stderr
    events = [entry.decode().split() for entry in redis_client.lrange("spans", 0, -1)]
    running = 0
    for kind, _moment, _job_id in sorted(events, key=lambda event: float(event[1])):
        running += 1 if kind == "start" else -1
        assert running <= 1, events
    assert len(events) == 8


def test_a_job_canceled_while_it_runs_keeps_its_slot_until_it_ends(redis_server, redis_client, tmp_path):
    """Its code runs on in the work horse: the next job starts only once it has ended."""
    queue = Queue(connection=redis_client)
    started = tmp_path / "started"
    rate_limit = RateLimit("k", 1)
    running = queue.enqueue(fixtures.mark_started_and_sleep, str(started), 1.5, rate_limit=rate_limit)
    waiting = queue.enqueue(fixtures.add, 1, 1, rate_limit=rate_limit)
    worker = start_worker(redis_server.url, name="canceling", work={"burst": True})
    try:
        assert wait_for(started.exists, timeout=30)
        running.cancel()
        assert waiting.get_status() == "rate_limited"
        assert wait_for(lambda: waiting.get_status() == "finished", timeout=30)
    finally:
        code, stderr = stop(worker)
    assert code == 0, stderr
    assert running.get_status() == "canceled"
