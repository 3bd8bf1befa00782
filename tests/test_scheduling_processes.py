"""Schedulers, cron runners and dependencies under real concurrency, on a real redis-server."""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
import sys
import threading
from collections import Counter

from jq import Queue, SimpleWorker
from jq.job import Job
from jq.scheduler import scheduler_lock_name
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import ROOT, start_worker, stop
from tests.redis_server import env_without_jq_url


def start_scheduler(kind: str, **config: object) -> subprocess.Popen[str]:
    """``tests/scheduler_main.py KIND CONFIG`` in a subprocess."""
    env = env_without_jq_url()
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "scheduler_main.py"), kind, json.dumps(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_schedulers_the_holder_killed_every_job_runs_once(redis_server, redis_client):
    """Two schedulers x 200 delayed jobs, the lock holder SIGKILLed mid-run: each job ran once."""
    queue = Queue(connection=redis_client)
    now = datetime.datetime.now(datetime.timezone.utc)
    jobs = [
        queue.enqueue_at(
            now + datetime.timedelta(seconds=1 + (index % 40) * 0.1), fixtures.record_run, "runs"
        )
        for index in range(200)
    ]
    config = {"url": redis_server.url, "queues": ["default"], "interval": 0.1, "lock_ttl": 1.0}
    schedulers = [start_scheduler("scheduler", **config) for _ in range(2)]
    worker = start_worker(redis_server.url, name="runner", simple=True)
    try:
        assert wait_for(lambda: redis_client.get("jq:lock:" + scheduler_lock_name("default")), timeout=20)
        # Kill the holder once it has started queueing, well before the last jobs are due.
        assert wait_for(lambda: queue.finished_job_registry.count > 0, timeout=20)
        token = redis_client.get("jq:lock:" + scheduler_lock_name("default")).decode()
        holder_pid = int(token.split(":")[2])  # name:host:pid:unique
        holder = next(process for process in schedulers if process.pid == holder_pid)
        holder.kill()
        assert wait_for(lambda: queue.finished_job_registry.count == 200, timeout=30)
    finally:
        for process in schedulers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            stop(process)
        worker.send_signal(signal.SIGTERM)
        stop(worker)
    runs = Counter(value.decode() for value in redis_client.lrange("runs", 0, -1))
    assert sorted(runs) == sorted(job.id for job in jobs)
    assert set(runs.values()) == {1}


def test_cron_runners_fire_each_tick_once_while_one_lives(redis_server, redis_client):
    """Three cron runner processes, one SIGKILLed meanwhile: each second's tick fires once."""
    runners = [start_scheduler("cron", url=redis_server.url, config="tests.cron_config") for _ in range(3)]
    worker = start_worker(redis_server.url, name="cron-runner", simple=True)
    queue = Queue(connection=redis_client)
    try:
        assert wait_for(lambda: queue.finished_job_registry.count >= 3, timeout=20)
        runners[0].kill()
        assert wait_for(lambda: queue.finished_job_registry.count >= 8, timeout=20)
    finally:
        for process in runners:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            stop(process)
        worker.send_signal(signal.SIGTERM)
        stop(worker)
    ticks = [job.meta["cron_tick"] for job in queue.finished_job_registry.get_jobs()]
    assert len(ticks) == len(set(ticks)), "a tick fired twice"
    seconds = sorted(datetime.datetime.fromisoformat(tick).timestamp() for tick in ticks)
    # One fire per second, no second skipped between the first and the last fire.
    assert seconds == [seconds[0] + offset for offset in range(len(seconds))]


def test_a_dependent_enqueued_while_its_parent_finishes_runs_once_after_it(redis_client):
    """200 times: a child enqueued at the moment its parent finishes always runs, once, after it."""
    queue = Queue(connection=redis_client)
    worker = SimpleWorker([queue], name="racer")
    thread = threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"})
    thread.start()
    pairs = []
    try:
        for _ in range(200):
            parent = queue.enqueue(fixtures.record_run, "race")
            # The worker is idle and claims the parent at once: the child races its finish.
            child = queue.enqueue(fixtures.record_run, "race", depends_on=parent)
            pairs.append((parent, child))
        assert wait_for(lambda: all(c.get_status() == "finished" for _, c in pairs[-5:]), timeout=60)
        assert wait_for(lambda: queue.finished_job_registry.count == 400, timeout=60)
    finally:
        worker.request_stop()
        thread.join(20)
    runs = Counter(value.decode() for value in redis_client.lrange("race", 0, -1))
    assert set(runs.values()) == {1} and len(runs) == 400
    for parent, child in pairs:
        parent_record = Job.fetch(parent.id, connection=redis_client)
        child_record = Job.fetch(child.id, connection=redis_client)
        assert child_record.started_at >= parent_record.ended_at
