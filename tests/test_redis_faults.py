"""Redis going away under a live worker: restarts, dropped connections, a result written late.

Each test has its own redis-server with an append-only file (fsync on every write), so a
restart keeps the data, as a production server with persistence would. Redis stays down for a
couple of seconds on purpose: that outage is the scenario, not a stand-in for synchronization.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from jq import Queue, Worker
from jq.command import send_shutdown_command
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import read_pid, start_worker, stop
from tests.redis_server import RedisServer

OUTAGE_SECONDS = 2.0


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private redis-server that keeps its data across restarts."""
    instance = RedisServer(extra_args=("--appendonly", "yes", "--appendfsync", "always")).start()
    try:
        yield instance
    finally:
        instance.cleanup()


def outage(server: RedisServer) -> float:
    """Stop Redis, keep it down for OUTAGE_SECONDS, start it again; when it answered again."""
    server.stop()
    time.sleep(OUTAGE_SECONDS)
    server.start()
    return time.monotonic()


class Stopped:
    """A worker process stopped once (SIGTERM), with what it wrote on stderr; the message of a
    failed assertion about it (it may have failed because of something the worker saw)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.code: int | None = None
        self.stderr = ""

    def __call__(self) -> str:
        """Stop the worker (once) and return its stderr."""
        if self.code is None:
            self.process.send_signal(signal.SIGTERM)
            self.code, self.stderr = stop(self.process)
        return f"worker stderr:\n{self.stderr}"


@pytest.mark.parametrize("simple", [False, True], ids=["Worker", "SimpleWorker"])
def test_work_resumes_after_a_restart(server, simple, record_property):
    process = start_worker(server.url, name="survivor", simple=simple, worker_ttl=5)
    stopped = Stopped(process)
    client = server.client()
    try:
        assert wait_for(lambda: Worker.count(connection=client) == 1, timeout=30), stopped()
        back = outage(server)
        client = server.client()
        job = Queue(connection=client).enqueue(fixtures.add, 20, 22)
        assert wait_for(lambda: job.get_status() == "finished", timeout=30), stopped()
        resumed = time.monotonic() - back
        record_property("resume_seconds", round(resumed, 2))
        print(f"\nwork resumed {resumed:.2f} s after Redis came back")
        assert job.result == 42
        # It registered itself again (its record may have expired meanwhile).
        assert wait_for(lambda: Worker.count(connection=client) == 1, timeout=30), stopped()
        assert process.poll() is None, stopped()
    finally:
        stopped()
    assert stopped.code == 0, stopped.stderr
    assert "the store is unreachable" in stopped.stderr


def test_a_reused_horse_from_before_a_restart_runs_the_next_job(server):
    """The horse keeps its own connection, which the restart broke: it connects again, runs the
    next job and records its outcome (and it is the same horse: nothing replaced it)."""
    process = start_worker(server.url, name="keeper", worker_ttl=5, reuse_horse=True)
    stopped = Stopped(process)
    client = server.client()
    try:
        before = Queue(connection=client).enqueue(fixtures.pid_of_runner)
        assert wait_for(lambda: before.get_status() == "finished", timeout=30), stopped()
        outage(server)
        client = server.client()
        after = Queue(connection=client).enqueue(fixtures.pid_of_runner)
        assert wait_for(lambda: after.get_status() == "finished", timeout=30), stopped()
        assert after.result == before.result != process.pid
    finally:
        stopped()
    assert stopped.code == 0, stopped.stderr


def test_a_result_written_during_an_outage_is_retried(server, tmp_path):
    marker = tmp_path / "started"
    client = server.client()
    queue = Queue(connection=client)
    job = queue.enqueue(fixtures.mark_started_and_sleep, str(marker), 1.0)
    process = start_worker(server.url, name="patient", worker_ttl=30)
    try:
        assert wait_for(lambda: read_pid(marker) is not None, timeout=30)
        # The job ends while Redis is down: its outcome must be written once Redis is back.
        outage(server)
        client = server.client()
        queue = Queue(connection=client)
        assert wait_for(lambda: job.get_status() == "finished", timeout=30)
        assert job.result == "slept"
        assert queue.started_job_registry.count == 0
    finally:
        process.send_signal(signal.SIGTERM)
        stop(process)


def test_commands_reach_a_worker_after_a_restart(server):
    process = start_worker(server.url, name="listener", worker_ttl=5)
    client = server.client()
    assert wait_for(lambda: Worker.count(connection=client) == 1, timeout=30)
    outage(server)
    client = server.client()
    # Fire and forget: repeat until the worker's listener is subscribed again and gets it.
    assert wait_for(lambda: send_shutdown_command(client, "listener") == 1, timeout=30, interval=0.1)
    code, stderr = stop(process)
    assert code == 0, stderr


def test_a_dropped_connection_is_not_noticed(server):
    process = start_worker(server.url, name="steady", simple=True, worker_ttl=5)
    client = server.client()
    try:
        assert wait_for(lambda: Worker.count(connection=client) == 1, timeout=30)
        # Cut every connection but this one, as a proxy or a server-side timeout would.
        killed = client.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        job = Queue(connection=client).enqueue(fixtures.add, 1, 1)
        assert wait_for(lambda: job.get_status() == "finished", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        stop(process)


def test_the_driver_names_its_transient_errors(server):
    from jq_backends.redis import RedisBroker

    broker = RedisBroker(server.client(socket_timeout=1))
    server.stop()
    with pytest.raises(broker.transient_errors):
        broker.queue_length("default")
    assert issubclass(redis.ConnectionError, broker.transient_errors)
