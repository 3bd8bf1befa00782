"""Worker (jobs in a work horse: one reused, or one per job) on a real redis-server: S-08, S-13,
S-34.

Processes and signals are real here, so these tests use the session's private redis-server only.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from jq import Callback, Queue, Retry, Worker
from jq.command import send_stop_job_command
from jq.exceptions import ConfigurationError, UnsupportedByBrokerError
from jq.job import Job
from jq.results import Result
from jq.testing.helpers import wait_for
from jq.worker import freshness
from tests import fixtures
from tests.processes import read_pid, read_stderr_until, stop
from tests.redis_server import env_without_jq_url

ROOT = Path(__file__).resolve().parent.parent


#: A test of this mark runs with a reused horse and with a horse per job.
each_horse = pytest.mark.parametrize("fork_per_job", [False, True], ids=["reused-horse", "fork-per-job"])


@pytest.fixture
def queue(redis_client):
    """The default queue on the private redis-server."""
    return Queue(connection=redis_client)


@each_horse
def test_jobs_run_in_a_separate_process(queue, fork_per_job):
    job = queue.enqueue(fixtures.pid_of_runner)
    assert Worker([queue], fork_per_job=fork_per_job).work(burst=True)
    assert job.result != os.getpid()
    assert job.get_status() == "finished"


def runners(queue: Queue, count: int, **worker_options: object) -> list[int]:
    """The pids of the processes that ran ``count`` jobs, in order, with one worker."""
    jobs = [queue.enqueue(fixtures.pid_of_runner) for _ in range(count)]
    Worker([queue], **worker_options).work(burst=True, logging_level="WARNING")
    return [job.result for job in jobs]


def test_a_horse_per_job_by_default_as_rq(queue):
    """B26: a Worker forks a fresh horse for every job, as RQ's does (jq reused one before)."""
    pids = runners(queue, 4)
    assert len(set(pids)) == 4
    assert os.getpid() not in pids


def test_one_horse_runs_every_job_with_reuse_horse(queue):
    pids = runners(queue, 4, reuse_horse=True)
    assert len(set(pids)) == 1
    assert pids[0] != os.getpid()


def test_fork_per_job_false_is_reuse_horse(queue):
    """The older spelling keeps its meaning."""
    pids = runners(queue, 3, fork_per_job=False)
    assert len(set(pids)) == 1


def test_reuse_horse_and_fork_per_job_must_agree(queue):
    with pytest.raises(ConfigurationError, match="contradicts"):
        Worker([queue], reuse_horse=True, fork_per_job=True)
    with pytest.raises(ConfigurationError, match="applies to a reused horse"):
        Worker([queue], reuse_horse=False, max_jobs_per_horse=2)


def test_a_horse_per_job_with_fork_per_job(queue):
    pids = runners(queue, 4, fork_per_job=True)
    assert len(set(pids)) == 4
    assert os.getpid() not in pids


def test_max_jobs_per_horse_replaces_the_horse_after_that_many_jobs(queue):
    pids = runners(queue, 5, max_jobs_per_horse=2)
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert len(set(pids)) == 3
    assert os.getpid() not in pids


def test_a_failed_job_does_not_replace_the_horse_but_a_dead_one_does(queue):
    before = queue.enqueue(fixtures.pid_of_runner)
    queue.enqueue(fixtures.div_by_zero, 1)
    same = queue.enqueue(fixtures.pid_of_runner)
    queue.enqueue(fixtures.kill_own_horse)
    fresh = queue.enqueue(fixtures.pid_of_runner)
    Worker([queue], reuse_horse=True).work(burst=True, logging_level="WARNING")
    assert before.result == same.result != fresh.result


def test_bad_max_jobs_per_horse(queue):
    with pytest.raises(ConfigurationError, match="max_jobs_per_horse must be at least 1"):
        Worker([queue], max_jobs_per_horse=0)


@each_horse
def test_failure_in_the_horse_is_recorded(queue, fork_per_job):
    job = queue.enqueue(fixtures.div_by_zero, 1)
    worker = Worker([queue], fork_per_job=fork_per_job)
    worker.work(burst=True)
    assert job.is_failed
    assert "ZeroDivisionError" in job.exc_info
    assert worker.failed_job_count == 1


@each_horse
def test_a_killed_horse_fails_its_job_and_the_worker_goes_on(queue, fork_per_job):
    """S-34."""
    killed = queue.enqueue(fixtures.kill_own_horse)
    after = queue.enqueue(fixtures.add, 2, 3)
    worker = Worker([queue], fork_per_job=fork_per_job)
    worker.work(burst=True)
    assert killed.is_failed
    assert "killed by signal 9 (SIGKILL)" in killed.exc_info
    assert "WorkHorseDiedError" in killed.exc_info
    assert after.result == 5
    assert queue.started_job_registry.count == 0
    assert worker.failed_job_count == 1 and worker.successful_job_count == 1


@each_horse
def test_a_horse_that_exits_without_recording_fails_its_job(queue, fork_per_job):
    job = queue.enqueue(fixtures.exit_process, 0)
    Worker([queue], fork_per_job=fork_per_job).work(burst=True)
    assert job.is_failed
    assert "exited with code 0 before recording an outcome" in job.exc_info


@each_horse
def test_timeout_in_the_horse(queue, fork_per_job):
    """S-08 with Worker: the signal death penalty stops the job."""
    job = queue.enqueue(fixtures.sleep_for, 30, job_timeout=1)
    Worker([queue], fork_per_job=fork_per_job).work(burst=True)
    assert job.is_failed
    assert "JobTimeoutException" in job.exc_info


@each_horse
def test_a_job_ignoring_its_death_penalty_is_killed_after_the_grace(queue, fork_per_job):
    job = queue.enqueue(fixtures.ignore_alarm_and_sleep, 60, job_timeout=1)
    Worker([queue], death_penalty_grace=0.5, fork_per_job=fork_per_job).work(burst=True)
    assert job.is_failed
    assert "ignored its death penalty" in job.exc_info


def test_a_raising_or_overlong_on_failure_in_the_horse_leaves_the_job_failed(queue, redis_client):
    broken = queue.enqueue(fixtures.div_by_zero, 1, on_failure=fixtures.on_failure_raise)
    slow = queue.enqueue(
        fixtures.div_by_zero, 1, on_failure=Callback(fixtures.sleep_in_failure_callback, timeout=1)
    )
    after = queue.enqueue(fixtures.add, 2, 3)
    started = time.monotonic()
    Worker([queue]).work(burst=True)
    # The slow callback was stopped by its timeout (1 s), not allowed its 30 s.
    assert time.monotonic() - started < 10
    assert broken.get_status() == "failed" and slow.get_status() == "failed"
    assert "ZeroDivisionError" in broken.exc_info and "ZeroDivisionError" in slow.exc_info
    calls = [entry.decode() for entry in redis_client.lrange("failure-callback", 0, -1)]
    assert calls == [f"raising {broken.id}", f"started {slow.id}"]
    assert after.result == 5


@pytest.mark.parametrize("fork_per_job", [False, True])
def test_a_stopped_job_runs_on_stopped_only_and_is_not_retried(queue, redis_client, tmp_path, fork_per_job):
    marker = tmp_path / "started"
    job = queue.enqueue(
        fixtures.mark_started_and_sleep,
        str(marker),
        60,
        retry=Retry(max=2),
        on_stopped=fixtures.on_stopped_push,
        on_failure=fixtures.on_failure_push,
    )
    after = queue.enqueue(fixtures.add, 1, 1)
    worker = Worker([queue], name="stopping", fork_per_job=fork_per_job)

    def stop_when_started() -> None:
        if wait_for(lambda: read_pid(marker) is not None, timeout=30):
            send_stop_job_command(redis_client, job.id)

    stopper = threading.Thread(target=stop_when_started)
    stopper.start()
    try:
        worker.work(burst=True)
    finally:
        stopper.join(25)
    assert job.get_status() == "stopped"
    job.refresh()
    assert job.retries_left == 2
    assert [result.type for result in job.results()] == [Result.Type.STOPPED]
    assert redis_client.lrange("stopped-callbacks", 0, -1) == [job.id.encode()]
    assert redis_client.lrange("failure-callbacks", 0, -1) == []
    assert after.result == 2


def test_worker_needs_a_store_shared_across_processes(fakeredis_client):
    with pytest.raises(UnsupportedByBrokerError, match="SimpleWorker"):
        Worker([Queue(connection=fakeredis_client)])


def test_many_worker_processes_share_one_queue(redis_server, redis_client, queue):
    """S-13: three worker processes drain one queue; every job runs exactly once."""
    # Each job takes a little while, so all three processes are up before the queue drains.
    jobs = [queue.enqueue(fixtures.record_run, "runs", 0.05) for _ in range(60)]
    command = [sys.executable, "-m", "jq", "worker", "--burst", "--url", redis_server.url, "default"]
    env = env_without_jq_url()
    env["PYTHONPATH"] = str(ROOT)
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()
    runs = [value.decode() for value in redis_client.lrange("runs", 0, -1)]
    assert sorted(runs) == sorted(job.id for job in jobs)
    assert all(Job.fetch(job.id, connection=redis_client).is_finished for job in jobs)
    workers = {Job.fetch(job.id, connection=redis_client).worker_name for job in jobs}
    assert len(workers) >= 2


# -- fresh code in a reused horse -------------------------------------------------------------

# A job module as a user edits it. Each version returns its name and the pid of its horse; the
# second keeps the first one's size, the third adds a function.
MODULE_V1 = (
    'import os\n\n\ndef version():\n    return "one", os.getpid()\n\n\n'
    "def on_failure(job, connection, *exc_info):\n    pass\n"
)
MODULE_V2 = MODULE_V1.replace('"one"', '"two"')
MODULE_V3 = MODULE_V1.replace('"one"', '"three"') + '\n\ndef added():\n    return "added", os.getpid()\n'
# The first version's mtime (ns); the second is written within the same second, so that only
# mtime_ns tells them apart (Python's bytecode cache cannot: it keeps whole seconds and the size).
T0 = 1_700_000_000_000_000_100


@pytest.fixture
def job_module(tmp_path, monkeypatch):
    """(name, path) of a job module in tmp_path: work horses forked from this process can import
    it; this process does not."""
    assert len(MODULE_V2) == len(MODULE_V1)
    name = f"edited_jobs_{uuid.uuid4().hex[:12]}"
    path = tmp_path / f"{name}.py"
    fixtures.write_file(str(path), MODULE_V1, T0)
    monkeypatch.syspath_prepend(str(tmp_path))
    # Horses write bytecode, as they do outside this test run: it must not hide an edit.
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    yield name, path
    sys.modules.pop(name, None)


def result_of(job: Job, timeout: float = 30) -> Any:
    """The job's result once it has finished (the test fails if it fails or does not end)."""
    assert wait_for(lambda: job.get_status() in ("finished", "failed"), timeout=timeout), job.get_status()
    assert job.get_status() == "finished", job.exc_info
    return job.return_value()


def test_a_reused_horse_runs_the_job_module_as_it_is_on_disk_now(queue, job_module):
    name, path = job_module
    first = queue.enqueue(f"{name}.version")
    # Edited between two jobs (by a job, so that nothing waits): same size, same second.
    queue.enqueue(fixtures.write_file, str(path), MODULE_V2, T0 + 500)
    second = queue.enqueue(f"{name}.version")
    queue.enqueue(fixtures.write_file, str(path), MODULE_V3)
    added = queue.enqueue(f"{name}.added")
    after = queue.enqueue(fixtures.pid_of_runner)
    Worker([queue], reuse_horse=True).work(burst=True, logging_level="WARNING")
    (one, first_horse), (two, second_horse), (new, third_horse) = map(result_of, (first, second, added))
    assert (one, two, new) == ("one", "two", "added")
    assert first_horse != second_horse != third_horse
    # The horse that imported the last version runs the next job: nothing changed since.
    assert result_of(after) == third_horse
    # The worker itself never imported the job's module: its horses do, each afresh.
    assert name not in sys.modules


def test_an_unchanged_job_module_keeps_its_horse(queue, job_module):
    name, _ = job_module
    jobs = [queue.enqueue(f"{name}.version") for _ in range(3)]
    after = queue.enqueue(fixtures.pid_of_runner)
    Worker([queue], reuse_horse=True).work(burst=True, logging_level="WARNING")
    results = [result_of(job) for job in jobs]
    assert {version for version, _ in results} == {"one"}
    assert {pid for _, pid in results} == {result_of(after)}


def test_a_job_module_the_worker_preloaded_is_not_reloaded(queue, job_module):
    """S-35: a module the worker's process imported before it started is every horse's; a change
    to it needs a restart of the worker, as with RQ."""
    name, path = job_module
    importlib.import_module(name)
    first = queue.enqueue(f"{name}.version")
    queue.enqueue(fixtures.write_file, str(path), MODULE_V3)
    second = queue.enqueue(f"{name}.version")
    Worker([queue], reuse_horse=True).work(burst=True, logging_level="WARNING")
    assert result_of(first) == result_of(second) == ("one", result_of(first)[1])


def test_a_horse_whose_list_of_imports_is_unreadable_is_replaced(queue, monkeypatch, caplog):
    """What the horse loaded is then unknown, and the rest of its reply must not be taken for
    the next one."""
    worker_pid, report = os.getpid(), freshness.ImportWatch.report
    # In the horses only: the worker watches its own imports with the same class.
    monkeypatch.setattr(
        freshness.ImportWatch, "report", lambda self: report(self) if os.getpid() == worker_pid else b"cut"
    )
    first, second = queue.enqueue(fixtures.pid_of_runner), queue.enqueue(fixtures.pid_of_runner)
    with caplog.at_level(logging.INFO, logger="jq.worker"):
        Worker([queue], reuse_horse=True).work(burst=True, logging_level="INFO")
    assert result_of(first) != result_of(second)
    assert "the work horse's list of the modules it imported came cut short" in caplog.text


def test_a_job_module_the_worker_imported_itself_is_not_reloaded_and_it_says_so(queue, job_module, caplog):
    """The on_failure callback of a job whose horse died runs in the worker, which imports its
    module: every later horse starts with the worker's copy. A change to it asks for a restart."""
    name, path = job_module
    queue.enqueue(fixtures.kill_own_horse, on_failure=f"{name}.on_failure")
    queue.enqueue(fixtures.write_file, str(path), MODULE_V3)
    after = queue.enqueue(f"{name}.version")
    with caplog.at_level(logging.INFO, logger="jq.worker"):
        Worker([queue], reuse_horse=True).work(burst=True, logging_level="INFO")
    assert result_of(after)[0] == "one"
    assert f"{path} changed since the worker process itself imported it" in caplog.text
    assert "restart the worker" in caplog.text


def test_a_running_worker_process_runs_an_edited_job_module(redis_server, redis_client, tmp_path):
    """What a user saw: a running worker with a reused horse ran the old version of an edited
    function, and an added function failed with AttributeError."""
    name = f"edited_jobs_{uuid.uuid4().hex[:12]}"
    path = tmp_path / f"{name}.py"
    fixtures.write_file(str(path), MODULE_V1, T0)
    env = env_without_jq_url()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode is written, as it usually is
    # A reused horse (B26: jq's opt-in mode) is the one that must notice the edit.
    config = {"url": redis_server.url, "queues": ["default"], "reuse_horse": True}
    command = [sys.executable, str(ROOT / "tests" / "worker_main.py"), json.dumps(config)]
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    queue = Queue(connection=redis_client)
    try:
        assert result_of(queue.enqueue(f"{name}.version"))[0] == "one"
        # The bytecode the horse wrote would pass for the next version: same second, same size.
        assert Path(importlib.util.cache_from_source(str(path))).exists()
        fixtures.write_file(str(path), MODULE_V2, T0 + 500)
        assert result_of(queue.enqueue(f"{name}.version"))[0] == "two"
        read_stderr_until(worker, f"{path} changed since the work horse imported it")
        fixtures.write_file(str(path), MODULE_V3)
        assert result_of(queue.enqueue(f"{name}.added"))[0] == "added"
    finally:
        worker.send_signal(signal.SIGTERM)
        code, stderr = stop(worker)
    assert code == 0, stderr
