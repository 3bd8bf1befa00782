"""Concurrent workers as processes on the private redis-server: signals (warm and cold shutdown, a
signal while waiting for a job), a SIGKILL with several running jobs (each recovered by
maintenance like any lease), and ``jqueue worker --concurrency`` end to end.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jq import Queue, Retry, Worker
from jq.job import Job
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import ROOT, read_stderr_until, start_worker, stop
from tests.redis_server import env_without_jq_url

# Worker processes started, signalled and killed: a few seconds each.
pytestmark = pytest.mark.slow

#: (pool, job function taking (path, seconds) that writes its id to path, then sleeps).
MODES = {
    "asyncio": fixtures.async_mark_started_and_sleep,
    "threads": fixtures.append_id_and_sleep,
}


@pytest.fixture
def queue(redis_client):
    """The default queue on the private redis-server."""
    return Queue(connection=redis_client)


def started_ids(path: Path) -> list[str]:
    """The ids the jobs wrote to ``path`` as they started."""
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("pool", list(MODES))
def test_warm_shutdown_lets_every_running_job_finish(redis_server, queue, tmp_path, pool):
    marker = tmp_path / "started"
    jobs = [queue.enqueue(MODES[pool], str(marker), 1.0) for _ in range(3)]
    waiting = queue.enqueue(fixtures.add, 1, 2)
    process = start_worker(redis_server.url, name="warm", simple=True, concurrency=3, pool=pool)
    assert wait_for(lambda: len(started_ids(marker)) == 3, timeout=30)
    process.send_signal(signal.SIGTERM)
    code, stderr = stop(process)
    assert code == 0, stderr
    assert [job.get_status() for job in jobs] == ["finished"] * 3, stderr
    assert waiting.get_status() == "queued" and queue.job_ids == [waiting.id]
    assert Worker.count(connection=queue.broker) == 0
    assert "warm shut down requested" in stderr


@pytest.mark.parametrize("pool", list(MODES))
def test_cold_shutdown_ends_every_running_job(redis_server, queue, tmp_path, pool):
    marker = tmp_path / "started"
    failing = queue.enqueue(MODES[pool], str(marker), 60)
    retried = queue.enqueue(MODES[pool], str(marker), 60, retry=Retry(max=1))
    process = start_worker(redis_server.url, name="cold", simple=True, concurrency=2, pool=pool)
    assert wait_for(lambda: len(started_ids(marker)) == 2, timeout=30)
    process.send_signal(signal.SIGINT)
    time.sleep(0.1)  # a second signal, not merged into the first by the kernel
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    code, stderr = stop(process)
    assert code == 0, stderr
    # Threads asleep in one C call are not waited for: the shutdown records them and exits.
    assert time.monotonic() - started < 15
    assert failing.get_status() == "failed" and "cold shutdown" in failing.exc_info
    assert retried.get_status() == "queued" and queue.job_ids == [retried.id]
    assert queue.started_job_registry.count == 0
    assert Worker.count(connection=queue.broker) == 0


def test_a_signal_while_waiting_for_a_job_takes_no_new_job(redis_server, queue):
    """The claim waiting for a job is given back untouched when the job comes after the signal."""
    process = start_worker(
        redis_server.url, name="idle", simple=True, concurrency=4, pool="threads", idle_wait_slice=30
    )
    seen = ""
    try:
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 1, timeout=30)
        assert wait_for(lambda: Worker.all(connection=queue.broker)[0].state == "idle", timeout=30)
        process.send_signal(signal.SIGTERM)
        seen += read_stderr_until(process, "warm shut down requested")
        job = queue.enqueue(fixtures.sleep_for, 30)
    finally:
        code, stderr = stop(process, timeout=60)
    assert code == 0, seen + stderr
    assert job.get_status() == "queued" and queue.job_ids == [job.id]
    assert queue.started_job_registry.count == 0
    assert Job.fetch(job.id, connection=queue.broker).started_at is None


@pytest.mark.parametrize("pool", list(MODES))
def test_a_killed_worker_s_running_jobs_are_each_recovered(redis_server, queue, tmp_path, pool):
    """SIGKILL with several jobs running: maintenance ends each one (failed as abandoned, or
    retried under its Retry) within twice the worker_ttl, like any lease."""
    ttl = 2
    marker = tmp_path / "started"
    failed = [queue.enqueue(MODES[pool], str(marker), 60, job_timeout=300) for _ in range(2)]
    retried = queue.enqueue(MODES[pool], str(marker), 60, job_timeout=300, retry=Retry(max=1))
    victim = start_worker(
        redis_server.url,
        name="victim",
        simple=True,
        concurrency=3,
        pool=pool,
        worker_ttl=ttl,
        job_monitoring_interval=0.5,
    )
    rescuer = None
    try:
        assert wait_for(lambda: len(started_ids(marker)) == 3, timeout=30)
        victim.kill()
        victim.wait(timeout=10)
        killed_at = time.monotonic()
        rescuer = start_worker(
            redis_server.url,
            name="rescuer",
            simple=True,
            worker_ttl=ttl,
            maintenance_interval=0.25,
            job_monitoring_interval=0.5,
            work={"burst": False},
        )
        assert wait_for(lambda: all(job.get_status() == "failed" for job in failed), timeout=4 * ttl + 10)
        print(
            f"\n{pool}: 3 running jobs of a SIGKILLed worker ended {time.monotonic() - killed_at:.2f} s after"
        )
        assert all("AbandonedJobError" in job.exc_info and "victim" in job.exc_info for job in failed)
        # Requeued and run again by the rescuer (it sleeps there: the job is started again).
        assert wait_for(
            lambda: Job.fetch(retried.id, connection=queue.broker).worker_name == "rescuer", timeout=30
        )
    finally:
        if rescuer is not None:
            rescuer.send_signal(signal.SIGTERM)
            time.sleep(0.1)  # a second signal, not merged into the first by the kernel
            rescuer.send_signal(signal.SIGTERM)
            stop(rescuer)
        stop(victim)


def run_cli(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m jq ARGS`` against ``url`` with the tests on the import path."""
    environ = env_without_jq_url()
    environ["PYTHONPATH"] = str(ROOT)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jq", *args, "--url", url],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestCommandLine:
    @pytest.mark.parametrize("pool", ["asyncio", "threads"])
    def test_jobs_overlap_in_jqueue_worker(self, redis_server, queue, pool):
        parties = 4
        jobs = [queue.enqueue(fixtures.redis_barrier, f"barrier-{pool}", parties) for _ in range(parties)]
        coroutines = [
            queue.enqueue(fixtures.async_redis_barrier, f"async-barrier-{pool}", parties)
            for _ in range(parties)
        ]
        done = run_cli(
            redis_server.url, "worker", "--burst", "--concurrency", str(parties), "--pool", pool, "-v"
        )
        assert done.returncode == 0, done.stderr
        assert f"running {parties} jobs at once ({pool} pool)" in done.stderr
        assert "concurrency 4 (from --concurrency)" in done.stderr
        assert [job.get_status() for job in [*jobs, *coroutines]] == ["finished"] * 2 * parties, done.stderr

    def test_the_variables_set_it_too(self, redis_server, queue):
        jobs = [queue.enqueue(fixtures.redis_barrier, "barrier-env", 3) for _ in range(3)]
        done = run_cli(
            redis_server.url, "worker", "--burst", env={"JQ_CONCURRENCY": "3", "JQ_POOL": "threads"}
        )
        assert done.returncode == 0, done.stderr
        assert "running 3 jobs at once (threads pool)" in done.stderr
        assert [job.get_status() for job in jobs] == ["finished"] * 3

    def test_a_config_module_sets_it_too(self, redis_server, queue, tmp_path):
        (tmp_path / "concurrent_settings.py").write_text('CONCURRENCY = 2\nPOOL = "asyncio"\n')
        queue.enqueue(fixtures.add, 1, 1)
        done = run_cli(
            redis_server.url, "worker", "--burst", "-c", "concurrent_settings", "-P", str(tmp_path)
        )
        assert done.returncode == 0, done.stderr
        assert "running 2 jobs at once (asyncio pool)" in done.stderr

    @pytest.mark.parametrize(
        ("args", "env", "message"),
        [
            (["-w", "jq.Worker", "--concurrency", "4"], {}, "runs each job in a work horse process"),
            (["--reuse-horse", "--concurrency", "2"], {}, "--reuse-horse applies to work horses"),
            (["--concurrency", "0"], {}, "0 is not in the range"),
            (["--pool", "fibers"], {}, "'fibers' is not one of"),
            ([], {"JQ_CONCURRENCY": "many"}, "JQ_CONCURRENCY must be a whole number"),
            ([], {"JQ_POOL": "fibers"}, "JQ_POOL must be one of asyncio, threads"),
        ],
    )
    def test_mistakes_are_one_line_and_status_2(self, redis_server, args, env, message):
        done = run_cli(redis_server.url, "worker", "--burst", *args, env=env)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr
