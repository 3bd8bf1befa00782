"""RQ 3.0's worker classes on a real redis-server: SpawnWorker (a new Python process per job),
HerokuWorker (an imminent shutdown raised in the job), and what each refuses."""

from __future__ import annotations

import os
import signal

import pytest

from jq import Queue
from jq.exceptions import ConfigurationError, UnsupportedByBrokerError
from jq.testing.helpers import wait_for
from jq.worker import HerokuWorker, SpawnWorker, Worker
from tests import fixtures
from tests.processes import start_worker, stop


@pytest.fixture
def queue(redis_client):
    """The default queue on the private redis-server."""
    return Queue(connection=redis_client)


class TestSpawnWorker:
    def test_each_job_runs_in_a_new_process_that_is_not_a_fork(self, queue, redis_client):
        jobs = [queue.enqueue(fixtures.pid_of_runner) for _ in range(3)]
        failing = queue.enqueue(fixtures.div_by_zero, 1)
        worker = SpawnWorker([queue])
        assert worker.work(burst=True, logging_level="WARNING")
        pids = [job.result for job in jobs]
        assert len(set(pids)) == 3 and os.getpid() not in pids
        assert failing.get_status() == "failed" and "ZeroDivisionError" in failing.exc_info
        assert (worker.successful_job_count, worker.failed_job_count) == (3, 1)
        assert queue.started_job_registry.count == 0

    def test_a_spawned_horse_does_not_inherit_the_workers_memory(self, queue):
        """A fork copies module state the worker changed; a spawned process starts afresh."""
        fixtures.SEEN.append("set in the worker")
        try:
            job = queue.enqueue(fixtures.seen_length)
            SpawnWorker([queue]).work(burst=True, logging_level="WARNING")
            assert job.result == 0
        finally:
            fixtures.SEEN.clear()

    def test_timeout_and_a_dead_horse(self, queue):
        slow = queue.enqueue(fixtures.sleep_for, 30, job_timeout=1)
        killed = queue.enqueue(fixtures.kill_own_horse)
        SpawnWorker([queue]).work(burst=True, logging_level="WARNING")
        assert slow.get_status() == "failed" and "JobTimeoutException" in slow.exc_info
        assert killed.get_status() == "failed" and "killed by signal 9" in killed.exc_info

    def test_a_url_connection_and_the_workers_settings_reach_the_horse(self, redis_server, redis_client):
        queue = Queue(connection=redis_client)
        job = queue.enqueue(fixtures.add, 1, 2, result_ttl=None)
        failing = queue.enqueue(fixtures.div_by_zero, 1)
        SpawnWorker(
            ["default"],
            connection=redis_server.url,
            default_result_ttl=1234,
            exception_handlers=[fixtures.stop_handler],
            disable_default_exception_handler=True,
        ).work(burst=True, logging_level="WARNING")
        assert job.result == 3
        assert 1200 < redis_client.ttl(queue.broker.job_key(job.id)) <= 1234
        assert failing.get_status() == "failed"
        assert failing.id not in queue.failed_job_registry

    def test_a_class_from_main_is_refused(self, queue):
        class Local(SpawnWorker):
            pass

        Local.__module__ = "__main__"
        with pytest.raises(ConfigurationError, match="defined in __main__"):
            Local([queue]).work(burst=True)
        assert Worker.count(connection=queue.broker) == 0

    def test_it_cannot_reuse_a_horse(self, queue):
        with pytest.raises(ConfigurationError, match="cannot reuse"):
            SpawnWorker([queue], reuse_horse=True)

    def test_an_in_process_store_is_refused(self, fakeredis_client):
        with pytest.raises(UnsupportedByBrokerError):
            SpawnWorker([Queue(connection=fakeredis_client)])

    def test_as_a_process(self, redis_server, redis_client):
        queue = Queue(connection=redis_client)
        job = queue.enqueue(fixtures.add, 2, 2)
        process = start_worker(
            redis_server.url, **{"class": "jq.worker.SpawnWorker", "work": {"burst": True}}
        )
        code, stderr = stop(process)
        assert code == 0, stderr
        assert job.result == 4


class QuickHerokuWorker(HerokuWorker):
    """A HerokuWorker whose job is told to stop 1 s after the worker's SIGTERM (6 s in RQ)."""

    imminent_shutdown_delay = 1


@pytest.mark.parametrize("delay", [1, 0], ids=["after-a-delay", "at-once"])
def test_heroku_worker_raises_shutdown_imminent_in_the_job(redis_server, redis_client, delay):
    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.sleep_until_shutdown, "heroku", 60)
    worker_class = (
        "tests.test_worker_classes.QuickHerokuWorker" if delay else "tests.test_worker_classes.AtOnce"
    )
    process = start_worker(redis_server.url, **{"class": worker_class})
    try:
        assert wait_for(lambda: redis_client.lrange("heroku", 0, -1) == [b"started"])
        # Heroku sends SIGTERM to every process: the horse ignores it, the worker does not.
        os.kill(int(redis_client.get("heroku:pid")), signal.SIGTERM)
        process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: job.get_status() == "failed")
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    assert "ShutDownImminentException: shut down imminent (signal: SIG" in job.exc_info
    assert redis_client.lrange("heroku", 0, -1)[1] == b"f_code,f_lasti,f_lineno,f_locals,f_trace"


class AtOnce(HerokuWorker):
    """A HerokuWorker that stops its job as soon as the worker gets SIGTERM."""

    imminent_shutdown_delay = 0
