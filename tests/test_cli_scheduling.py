"""``jqueue scheduler``, ``jqueue cron`` and the worker's --cron, --fork-per-job, --reuse-horse and
--dequeue-strategy, for real."""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jq import Queue
from jq.job import Job
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.test_cli import cli_env, finish, jqueue, one_error_line, start_jqueue


def test_scheduler_queues_due_jobs_and_stops_on_sigterm(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    due = queue.enqueue_at(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc), fixtures.add, 1, 2)
    later = queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 2)
    process = start_jqueue("scheduler", "-u", redis_server.url, "default", "--interval", "0.1")
    try:
        assert wait_for(lambda: due.get_status() == "queued", timeout=30)
        assert later.get_status() == "scheduled"
    finally:
        process.send_signal(signal.SIGTERM)
        done = finish(process)
    assert done.returncode == 0, done.stderr
    assert redis_client.get("jq:lock:scheduler:default") is None  # released on the way out


def test_cron_fires_ticks_and_stops_on_sigterm(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    process = start_jqueue("cron", "-u", redis_server.url, "tests.cron_config")
    try:
        assert wait_for(lambda: len(queue) >= 2, timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        done = finish(process)
    assert done.returncode == 0, done.stderr
    ticks = {job.meta["cron_tick"] for job in queue.jobs}
    assert len(ticks) == len(queue)


def test_worker_runs_cron_jobs(redis_server, redis_client):
    done = jqueue("worker", "-u", redis_server.url, "--cron", "tests.cron_config", "--max-jobs", "2")
    assert done.returncode == 0, done.stderr
    assert redis_client.llen("cron-runs") == 2


def test_worker_fork_per_job(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    jobs = [queue.enqueue(fixtures.pid_of_runner) for _ in range(2)]
    done = jqueue("worker", "-u", redis_server.url, "--burst", "--fork-per-job")
    assert done.returncode == 0, done.stderr
    pids = {Job.fetch(job.id, connection=redis_client).result for job in jobs}
    assert len(pids) == 2  # a fresh horse for each job


def test_worker_reuse_horse_and_the_default(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    reused = [queue.enqueue(fixtures.pid_of_runner) for _ in range(2)]
    done = jqueue("worker", "-u", redis_server.url, "--burst", "--reuse-horse")
    assert done.returncode == 0, done.stderr
    assert len({Job.fetch(job.id, connection=redis_client).result for job in reused}) == 1  # one horse
    forked = [queue.enqueue(fixtures.pid_of_runner) for _ in range(2)]
    done = jqueue("worker", "-u", redis_server.url, "--burst")
    assert done.returncode == 0, done.stderr
    assert len({Job.fetch(job.id, connection=redis_client).result for job in forked}) == 2  # RQ's default


def test_worker_dequeue_strategies(redis_server, redis_client):
    def run(*flags: str) -> list[str]:
        redis_client.delete("order")
        jobs = {}
        for name in ("first", "second"):
            queue = Queue(name, connection=redis_client)
            for n in range(2):
                jobs[queue.enqueue(fixtures.record_run, "order").id] = f"{name}-{n}"
        done = jqueue(
            "worker", "-u", redis_server.url, "--burst", "-w", "jq.SimpleWorker", *flags, "first", "second"
        )
        assert done.returncode == 0, done.stderr
        return [jobs[value.decode()] for value in redis_client.lrange("order", 0, -1)]

    assert run() == ["first-0", "first-1", "second-0", "second-1"]
    assert run("--dequeue-strategy", "round_robin") == ["first-0", "second-0", "first-1", "second-1"]
    assert sorted(run("-ds", "random")) == ["first-0", "first-1", "second-0", "second-1"]


def test_mistakes():
    done = jqueue("cron", "-u", "memory://", "no.such.cron_module")
    assert done.returncode == 2
    assert "cannot be loaded" in one_error_line(done)
    done = jqueue("worker", "-u", "memory://", "-w", "jq.SimpleWorker", "--fork-per-job", "--burst")
    assert done.returncode == 2
    assert "--fork-per-job applies to jq.Worker" in one_error_line(done)
    done = jqueue("worker", "-u", "memory://", "-w", "jq.SimpleWorker", "--cron", "nowhere.cron", "--burst")
    assert done.returncode == 2
    assert "cannot be loaded" in one_error_line(done)


def console_script() -> Path:
    """The installed ``jqueue`` script: unlike ``python -m jq``, it does not put the current
    directory on the import path by itself."""
    script = Path(sys.executable).with_name("jqueue")
    if not script.exists():
        pytest.skip("the jqueue console script is not installed next to this Python")
    return script


def test_user_modules_are_imported_from_path_directories(redis_server, redis_client, tmp_path):
    # Run from the directory that holds the modules, as `-P .` says.
    (tmp_path / "app_cron.py").write_text(
        "from jq.cron import Cron\n"
        "cron = Cron()\n"
        "cron.register('tests.fixtures.add', interval=1, args=(1, 2), queue='app-cron', name='app')\n"
    )
    (tmp_path / "app_settings.py").write_text(f"REDIS_URL = {redis_server.url!r}\nQUEUES = ['app-cron']\n")
    script = str(console_script())

    def run(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [script, *args],
            cwd=tmp_path,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    fired = Queue("app-cron", connection=redis_client)
    cron = run("cron", "-u", redis_server.url, "-P", ".", "app_cron")
    try:
        assert wait_for(lambda: len(fired) >= 1 or cron.poll() is not None, timeout=30)
    finally:
        cron.send_signal(signal.SIGTERM)
        done = finish(cron)
    assert done.returncode == 0, done.stderr
    assert len(fired) >= 1

    # The worker's config module and its cron config, both from the directory given.
    worker = finish(run("worker", "-P", ".", "-c", "app_settings", "--cron", "app_cron", "--max-jobs", "2"))
    assert worker.returncode == 0, worker.stderr
    assert "worker" in worker.stderr and "stopped after 2 job(s)" in worker.stderr
