"""Schedulers, cron runners and dependencies under real concurrency, on a real redis-server."""

from __future__ import annotations

import contextlib
import datetime
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from jq import Queue
from jq.command import send_stop_job_command
from jq.exceptions import InvalidJobOperation
from jq.job import Job
from jq.scheduler import scheduler_lock_name
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import ROOT, read_pid, start_worker, stop
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
        assert wait_for(lambda: redis_client.get("jq:lock:" + scheduler_lock_name("default")), timeout=30)
        # Kill the holder once it has started queueing, well before the last jobs are due.
        assert wait_for(lambda: queue.finished_job_registry.count > 0, timeout=30)
        lock = "jq:lock:" + scheduler_lock_name("default")
        token = redis_client.get(lock)
        holder_pid = int(token.decode().split(":")[2])  # name:host:pid:unique
        holder = next(process for process in schedulers if process.pid == holder_pid)
        survivor = next(process for process in schedulers if process is not holder)
        holder.kill()
        killed_at = time.monotonic()
        # The survivor holds the lock within twice its ttl (1 s) of the holder's death.
        assert wait_for(lambda: redis_client.get(lock) not in (None, token), timeout=2 * config["lock_ttl"])
        assert time.monotonic() - killed_at <= 2 * config["lock_ttl"]
        assert int(redis_client.get(lock).decode().split(":")[2]) == survivor.pid
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


WORKER_KINDS = {
    "SimpleWorker": {"simple": True},
    "Worker": {},
    "Worker-fork_per_job": {"fork_per_job": True},
}


def _start_long_job(redis_client, tmp_path) -> tuple[Job, Path]:
    """A job on queue 'long' that runs for a minute unless stopped, and its started marker."""
    marker = tmp_path / "started"
    job = Queue("long", connection=redis_client).enqueue(fixtures.mark_started_and_nap, str(marker), 60)
    return job, marker


def _stop_long_job_and_workers(redis_client, job: Job, *processes: subprocess.Popen[str]) -> None:
    """Stop the long job if it still runs, then warm-stop the worker processes."""
    if job.get_status() == "started":
        with contextlib.suppress(InvalidJobOperation):
            send_stop_job_command(redis_client, job.id)
        # Before the signal: a SimpleWorker's stop must land in the job, not in the signal handler.
        assert wait_for(lambda: job.get_status() != "started", timeout=30)
    for process in processes:
        process.send_signal(signal.SIGTERM)
    # Every process is stopped (killed past the timeout) before any failure is reported.
    failures = []
    for process in processes:
        try:
            code, stderr = stop(process)
        except AssertionError as error:
            failures.append(str(error))
            continue
        if code != 0:
            failures.append(f"exit code {code}:\n{stderr}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_a_busy_worker_keeps_its_lock_and_queues_due_jobs(redis_server, redis_client, tmp_path, kind):
    """A worker with a scheduler busy with a long job renews its lock and queues a due delayed job,
    which another worker runs meanwhile."""
    queue = Queue(connection=redis_client)
    long_job, marker = _start_long_job(redis_client, tmp_path)
    busy = start_worker(
        redis_server.url,
        ["long", "default"],
        name="busy",
        work={"with_scheduler": True},
        **WORKER_KINDS[kind],
    )
    helper = start_worker(redis_server.url, ["default"], name="helper", simple=True)
    lock = "jq:lock:" + scheduler_lock_name("default")
    try:
        assert wait_for(lambda: read_pid(marker) is not None, timeout=30), "the long job never started"
        assert wait_for(lambda: (redis_client.get(lock) or b"").startswith(b"busy:"), timeout=30)
        # Renewed while the job runs: the lock's time to live goes up again.
        first = redis_client.pttl(lock)
        assert wait_for(lambda: redis_client.pttl(lock) > first, timeout=30), "the lock was not renewed"
        delayed = queue.enqueue_in(datetime.timedelta(seconds=0.5), fixtures.add, 2, 3)
        assert wait_for(lambda: delayed.get_status() == "finished", timeout=30)
        assert Job.fetch(delayed.id, connection=redis_client).worker_name == "helper"
        assert long_job.get_status() == "started"
    finally:
        _stop_long_job_and_workers(redis_client, long_job, busy, helper)


@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_a_busy_cron_worker_fires_every_tick(redis_server, redis_client, tmp_path, kind):
    """A worker with a cron of one tick a second, busy with a long job, fires each tick meanwhile."""
    long_job, marker = _start_long_job(redis_client, tmp_path)
    worker = start_worker(
        redis_server.url, ["long"], name="cron-busy", cron="tests.cron_config", **WORKER_KINDS[kind]
    )
    fired = Queue(connection=redis_client)
    try:
        assert wait_for(lambda: read_pid(marker) is not None, timeout=30), "the long job never started"
        # Every tick while the job runs (none fired in the second the job started is lost either).
        count = len(fired)
        assert wait_for(lambda: len(fired) >= count + 3, timeout=30)
        assert long_job.get_status() == "started"
    finally:
        _stop_long_job_and_workers(redis_client, long_job, worker)
    seconds = sorted(
        datetime.datetime.fromisoformat(job.meta["cron_tick"]).timestamp() for job in fired.get_jobs()
    )
    assert seconds == [seconds[0] + offset for offset in range(len(seconds))]


def test_cron_runners_fire_each_tick_once_while_one_lives(redis_server, redis_client):
    """Three cron runner processes, one SIGKILLed meanwhile: ten consecutive ticks (one a second)
    fire exactly once each."""
    runners = [start_scheduler("cron", url=redis_server.url, config="tests.cron_config") for _ in range(3)]
    queue = Queue(connection=redis_client)

    def fired() -> Counter[float]:
        """How many jobs were enqueued for each tick (nobody runs them: they stay queued)."""
        jobs = queue.get_jobs()
        return Counter(datetime.datetime.fromisoformat(job.meta["cron_tick"]).timestamp() for job in jobs)

    def ten_ticks_fired() -> bool:
        ticks = fired()
        return bool(ticks) and all(min(ticks) + offset in ticks for offset in range(10))

    try:
        assert wait_for(lambda: len(queue) >= 3, timeout=30)
        runners[0].kill()
        assert wait_for(ten_ticks_fired, timeout=30)
    finally:
        for process in runners:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            stop(process)
    ticks = fired()
    first = min(ticks)
    # The ten ticks from the first fire: ten fires, one each, no more.
    assert {tick: count for tick, count in ticks.items() if tick < first + 10} == {
        first + offset: 1 for offset in range(10)
    }
    # Nor was any later tick fired twice or skipped before the runners stopped.
    assert set(ticks.values()) == {1}
    assert sorted(ticks) == [first + offset for offset in range(len(ticks))]


def test_a_dependent_enqueued_while_its_parent_finishes_runs_once_after_it(redis_server, redis_client):
    """200 times: a child enqueued while its parent runs or has just finished runs once, after it.

    A worker process runs each parent for a random 0-3 ms; the child is enqueued a random 0-3 ms
    after the parent is seen started, so its enqueue races the parent's finish. Some children find the
    parent running (stored deferred, then released by the finish), others find it finished
    (queued directly). Both must happen, or the test proved nothing about the race.
    """
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    queue = Queue(connection=redis_client)
    worker = start_worker(redis_server.url, name="racer", simple=True, work={"logging_level": "WARNING"})
    pairs = []
    stored: Counter[str] = Counter()
    try:
        for _ in range(200):
            parent = queue.enqueue(fixtures.record_run, "race", rng.uniform(0.0, 0.003))
            seen_started = wait_for(
                lambda: parent.get_status() in ("started", "finished"), timeout=30, interval=0.0002
            )
            assert seen_started, f"the worker never took {parent.id} (seed {seed})"
            # Not a wait for anything: a random offset that spreads the child's enqueue over the
            # parent's run and its finish, where the race is.
            time.sleep(rng.uniform(0.0, 0.003))
            child = queue.enqueue(fixtures.record_run, "race", depends_on=parent)
            stored[child.get_status(refresh=False).value] += 1
            pairs.append((parent, child))
        assert wait_for(lambda: queue.finished_job_registry.count == 400, timeout=60), f"seed {seed}"
    finally:
        worker.send_signal(signal.SIGTERM)
        code, stderr = stop(worker)
    assert code == 0, stderr
    assert stored["deferred"] > 0 and stored["queued"] > 0, f"the race was not hit: {stored} (seed {seed})"
    assert set(stored) == {"deferred", "queued"}, stored
    runs = Counter(value.decode() for value in redis_client.lrange("race", 0, -1))
    assert set(runs.values()) == {1} and len(runs) == 400
    for parent, child in pairs:
        parent_record = Job.fetch(parent.id, connection=redis_client)
        child_record = Job.fetch(child.id, connection=redis_client)
        assert child_record.started_at >= parent_record.ended_at
