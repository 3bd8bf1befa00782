"""Worker pools: N workers, one restarted when it dies, all stopped on SIGTERM (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from jq import Queue, Worker
from jq import worker as jq_worker
from jq.exceptions import ConfigurationError, UnsupportedByBrokerError
from jq.testing.helpers import wait_for
from jq.worker_pool import WorkerData, WorkerPool, run_worker
from tests import fixtures
from tests.processes import ROOT, is_alive, read_pid, stop
from tests.redis_server import env_without_jq_url


def start_pool(url: str, *args: str, own_group: bool = False) -> subprocess.Popen[str]:
    """``jqueue worker-pool ARGS`` in a subprocess (leading its own process group with
    ``own_group``, as a command run from a terminal does: its own session, which Python 3.10 can
    start, unlike ``process_group=``)."""
    env = env_without_jq_url()
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "jq", "worker-pool", "--url", url, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
    )


def live_pids(client) -> set[int]:
    """Pids of the live workers registered in Redis."""
    return {worker.pid for worker in Worker.all(connection=client)}


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(redis_server, redis_client):
    pool = start_pool(redis_server.url, "-n", "3", "--name", "pool", "default")
    try:
        assert wait_for(lambda: len(live_pids(redis_client)) == 3, timeout=30)
        before = live_pids(redis_client)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        # Its record lingers until it expires; a new worker with a new pid joins meanwhile.
        assert wait_for(lambda: len(live_pids(redis_client) - before) == 1, timeout=30)
        names = {member.decode() for member in redis_client.smembers("jq:workers")}
        assert all(name.startswith("pool-") for name in names)
        pool.send_signal(signal.SIGTERM)
        code, stderr = stop(pool)
        assert code == 0, stderr
        assert "starting another" in stderr
        survivors = live_pids(redis_client) - {victim}
        assert survivors == set()
        assert all(not is_alive(pid) for pid in before - {victim})
    finally:
        if pool.poll() is None:
            pool.kill()
            stop(pool)


def test_ctrl_c_in_a_terminal_is_a_warm_shutdown(redis_server, redis_client, tmp_path):
    """A terminal sends SIGINT to its whole foreground process group: the pool's workers must get
    it once, through the pool, not once directly and once more from the pool (a cold shutdown
    that would kill the running job)."""
    queue = Queue(connection=redis_client)
    marker = tmp_path / "started"
    job = queue.enqueue(fixtures.mark_started_and_sleep, str(marker), 1.0)
    pool = start_pool(redis_server.url, "-n", "2", "default", own_group=True)
    try:
        assert wait_for(lambda: read_pid(marker) is not None, timeout=30)
        assert wait_for(lambda: len(live_pids(redis_client)) == 2, timeout=30)
        workers = live_pids(redis_client)
        os.killpg(pool.pid, signal.SIGINT)
        code, stderr = stop(pool)
    finally:
        if pool.poll() is None:
            pool.kill()
            stop(pool)
    assert code == 0, stderr
    assert job.get_status() == "finished", job.exc_info
    assert job.result == "slept"
    assert "cold" not in stderr
    assert live_pids(redis_client) == set()
    assert all(not is_alive(pid) for pid in workers)


def test_a_burst_pool_drains_the_queue_and_exits(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    jobs = [queue.enqueue(fixtures.add, i, i) for i in range(40)]
    pool = start_pool(redis_server.url, "-n", "2", "--burst", "-w", "jq.SimpleWorker")
    code, stderr = stop(pool, timeout=60)
    assert code == 0, stderr
    assert [job.result for job in jobs] == [2 * i for i in range(40)]


def test_python_api_burst(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.add, 2, 3)
    WorkerPool(["default"], connection=redis_server.url, num_workers=2).start(
        burst=True, logging_level="WARNING"
    )
    assert job.result == 5


def test_bad_pools_are_refused(redis_server):
    with pytest.raises(ConfigurationError, match="at least 1 worker"):
        WorkerPool(["default"], connection=redis_server.url, num_workers=0)
    with pytest.raises(UnsupportedByBrokerError, match="separate processes"):
        WorkerPool(["default"], connection="memory://", num_workers=2)
    with pytest.raises(ConfigurationError, match="at least one queue"):
        WorkerPool([], connection=redis_server.url)
    with pytest.raises(ConfigurationError, match="queue name 'bad queue' is not valid"):
        WorkerPool(["default", "bad queue"], connection=redis_server.url)


def test_jqueue_worker_pool_refuses_a_bad_queue_name_before_starting_workers(redis_server):
    from tests.test_cli import jqueue, one_error_line

    done = jqueue("worker-pool", "--burst", "-n", "1", "-u", redis_server.url, "bad queue")
    assert done.returncode == 2, done.stderr
    assert "queue name 'bad queue' is not valid" in one_error_line(done)


class TestRQMembers:
    """RQ 3.0's WorkerPool members, on the pool's own process (the workers are forked)."""

    def test_defaults_and_classes_reach_the_workers(self, redis_server, redis_client):
        from jq.serializers import JSONSerializer

        pool = WorkerPool(["default"], connection=redis_server.url, serializer=JSONSerializer,
                          worker_class=jq_worker.SimpleWorker)  # fmt: skip
        assert pool.num_workers == 1
        assert pool.status is WorkerPool.Status.IDLE
        assert [queue.name for queue in pool.queues] == ["default"]
        job = Queue(connection=redis_client, serializer=JSONSerializer).enqueue(fixtures.add, 1, 2)
        pool.start(burst=True, logging_level="WARNING")
        assert job.result == 3
        assert pool.status is WorkerPool.Status.STARTED and pool.number_of_active_workers == 0

    def test_start_check_and_stop_workers(self, redis_server, redis_client):
        broker = Queue(connection=redis_client).broker
        pool = WorkerPool(["default"], connection=redis_server.url, num_workers=2, name="members")
        pool.start_workers(burst=False, logging_level="WARNING")
        try:
            assert pool.number_of_active_workers == 2
            assert wait_for(lambda: Worker.count(connection=broker) == 2)
            data = next(iter(pool.worker_dict.values()))
            assert (
                isinstance(data, WorkerData) and data.name.startswith("members-") and data.process.is_alive()
            )
            pool.stop_worker(data, signal.SIGKILL)
            assert wait_for(lambda: not data.process.is_alive())
            pool.check_workers(respawn=True)
            assert pool.number_of_active_workers == 2 and data.name not in pool.worker_dict
        finally:
            pool.request_stop()
            assert pool.status is WorkerPool.Status.STOPPED
            assert wait_for(pool.all_workers_have_stopped)
        # The killed worker's record lingers until it expires; the others removed theirs.
        assert wait_for(lambda: {worker.name for worker in Worker.all(connection=broker)} <= {data.name})

    def test_run_worker(self, redis_server, redis_client):
        import redis

        queue = Queue(connection=redis_client)
        job = queue.enqueue(fixtures.add, 2, 2)
        kwargs = {"host": "127.0.0.1", "port": redis_server.port, "db": 0}
        run_worker("runner", ["default"], redis.Redis, redis.Connection, kwargs,
                   worker_class=jq_worker.SimpleWorker, burst=True, logging_level="WARNING")  # fmt: skip
        assert job.result == 4
