"""Fault tests: Redis stalls (stopped with SIGSTOP, or its replies held back) under live workers.

A stall is not an outage: the server keeps every command it was sent and runs them when it goes
on, so a call that timed out on the client may have run, and one re-sent runs again unless it
carries its identity (jq_backends.redis.requests). A stall longer than worker_ttl lets every
lease run out though no owner died (jq.worker.store_watch). Each test counts the runs of every
job through a file the job appends to, and checks each job ran, and finished, exactly once.
The stall lasts a fixed time on purpose: it is the scenario, not a stand-in for synchronization.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from jq import Queue, Retry, Worker
from jq.job import JobStatus
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.delaying_proxy import DelayingProxy
from tests.processes import start_worker, stop
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.redis_only, pytest.mark.slow, pytest.mark.fault]

#: Longer than redis-py's 5 s socket timeout, which the workers' clients keep.
STALL_SECONDS = 12.0


@pytest.fixture
def server() -> Iterator[RedisServer]:
    instance = RedisServer().start()
    try:
        yield instance
    finally:
        if instance.process is not None:
            instance.process.send_signal(signal.SIGCONT)  # a failed test must not leave it stopped
        instance.cleanup()


def runs(path: Path) -> Counter[str]:
    """How many times each job ran (each run appends its id)."""
    return Counter(path.read_text().split()) if path.exists() else Counter()


def stopped_workers(workers: list[subprocess.Popen[str]]) -> str:
    """Stop the workers; their stderr, for the message of a failed assertion."""
    text = []
    for process in workers:
        process.send_signal(signal.SIGTERM)
        code, stderr = stop(process)
        text.append(f"worker exited {code}:\n{stderr}")
    return "\n".join(text)


def stream_through_a_stall(url: str, client_url: str, tmp_path: Path, stall: object) -> None:
    """Two workers stream quick jobs on ``url``; ``stall()`` happens while they do. Every job
    must end finished, each run exactly once, none left started."""
    log = tmp_path / "runs"
    queue = Queue(connection=client_url)
    jobs = [queue.enqueue(fixtures.note_run_and_sleep, str(log), f"j{n}", 0.02) for n in range(250)]
    workers = [start_worker(url, simple=True, worker_ttl=30) for _ in range(2)]
    try:
        assert wait_for(lambda: sum(runs(log).values()) >= 20, timeout=20), "the workers are streaming"
        stall()  # type: ignore[operator]
        assert wait_for(
            lambda: all(job.get_status(refresh=True) == JobStatus.FINISHED for job in jobs), timeout=30
        ), f"statuses: {Counter(job.get_status(refresh=True) for job in jobs)}"
    finally:
        stderr = stopped_workers(workers)
    counted = runs(log)
    assert {job.id: counted[f"j{n}"] for n, job in enumerate(jobs) if counted[f"j{n}"] != 1} == {}, stderr
    assert queue.started_job_registry.count == 0 and queue.failed_job_registry.count == 0, stderr


@pytest.mark.timeout(90)
def test_a_stall_longer_than_the_socket_timeout_loses_no_job(server, tmp_path):
    assert server.process is not None

    def stall() -> None:
        server.process.send_signal(signal.SIGSTOP)
        time.sleep(STALL_SECONDS)
        server.process.send_signal(signal.SIGCONT)

    stream_through_a_stall(server.url, server.url, tmp_path, stall)


@pytest.mark.timeout(90)
def test_replies_held_back_longer_than_the_socket_timeout_lose_no_job(server, tmp_path):
    proxy = DelayingProxy(server.port).start()
    try:

        def stall() -> None:
            with proxy.delay_replies(7.0, for_seconds=1.0):
                time.sleep(8.0)  # the replies of that second come 7 s late, after the timeouts

        stream_through_a_stall(proxy.url, server.url, tmp_path, stall)
    finally:
        proxy.close()


@pytest.mark.timeout(90)
def test_a_pause_longer_than_worker_ttl_runs_no_job_twice(server, tmp_path):
    """Redis stopped 20 s, worker_ttl 6: the leases of two running 25 s jobs run out meanwhile, and
    an idle worker looks for abandoned jobs every second. Each job runs once and finishes.

    In a real outage (a partition, a frozen host) the owners' renewals are lost, not queued up in
    the server to run the moment it goes on, and owners reconnect at their own pace. So the owner
    processes (with their lease pulses) are stopped for the pause too and go on 2 s after Redis:
    a worker that ends expired leases as soon as the store answers ends both jobs (and runs them
    again under their Retry); one that waits until the store has answered steadily for worker_ttl
    gives the owners time to renew.
    """
    assert server.process is not None
    log = tmp_path / "runs"
    queue = Queue(connection=server.url)
    jobs = [
        queue.enqueue(fixtures.note_run_and_sleep, str(log), f"j{n}", 25.0, retry=Retry(max=1))
        for n in range(2)
    ]
    config = {"simple": True, "worker_ttl": 6, "maintenance_interval": 1}
    owners = [start_worker(server.url, own_group=True, **config) for _ in range(2)]
    workers = list(owners)
    try:
        assert wait_for(lambda: sum(runs(log).values()) == 2, timeout=20), "both jobs run"
        workers.append(start_worker(server.url, **config))  # idle: it will look for abandoned jobs
        assert wait_for(lambda: len(Worker.all(queue=queue)) == 3, timeout=20), "the idle worker is up"
        time.sleep(2.0)  # it has made a few maintenance passes with the store answering
        for owner in owners:
            os.killpg(owner.pid, signal.SIGSTOP)
        server.process.send_signal(signal.SIGSTOP)
        try:
            time.sleep(20.0)
            server.process.send_signal(signal.SIGCONT)
            time.sleep(2.0)
        finally:
            for owner in owners:
                os.killpg(owner.pid, signal.SIGCONT)
        assert wait_for(
            lambda: all(job.get_status(refresh=True) == JobStatus.FINISHED for job in jobs), timeout=30
        ), f"statuses: {[job.get_status(refresh=True) for job in jobs]}; runs: {runs(log)}"
    finally:
        stderr = stopped_workers(workers)
    assert runs(log) == Counter({"j0": 1, "j1": 1}), stderr
    assert queue.failed_job_registry.count == 0, stderr
