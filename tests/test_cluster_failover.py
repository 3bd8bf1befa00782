"""Redis Cluster: a producer and a worker keep going while the master of jq's slot is killed,
and while that slot migrates to another master.

A cluster of its own (3 masters, 3 replicas on loopback ports, ``tests/redis_cluster.py``); a
worker process and a producer thread connect with a ``redis+cluster://`` URL; mid-run the master
that serves the slot of jq's keys (the ``{jq}`` hash tag) is killed with SIGKILL and its replica
takes over, or the slot is moved, key by key, to another master (``ASK``, ``TRYAGAIN``, then
``MOVED``). The run counts the jobs lost, run twice, or whose outcome was lost, and how long work
stopped (``tests/failover_run.py``), prints the figures and records them as test properties.
docs/brokers.md states the guarantees this checks.
"""

from __future__ import annotations

import signal
import time

import pytest

from jq import Queue, Worker
from jq.testing.helpers import wait_for
from tests.failover_run import FailoverReport, run_through
from tests.processes import start_worker, stop
from tests.redis_cluster import RedisCluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.fault]

#: A key in the slot of every key of the broker (its prefix's hash tag).
JQ_SLOT_KEY = "{jq}:queues"
#: Writes acknowledged by the master just before it died that its replica had not received yet
#: (asynchronous replication: milliseconds on loopback; a generous bound).
REPLICATION_LAG = 0.5


def _record(report: FailoverReport, record_property: object) -> None:
    print(f"\n{report.summary()}")
    for name in ("acknowledged", "ran", "producer_retries"):
        record_property(name, getattr(report, name))  # type: ignore[operator]
    for name in ("lost", "ran_twice", "outcome_lost"):
        record_property(name, len(getattr(report, name)))  # type: ignore[operator]
    for name in ("promoted_seconds", "resume_seconds", "longest_pause"):
        record_property(name, round(getattr(report, name), 2))  # type: ignore[operator]


def test_work_goes_on_when_the_master_of_jqs_slot_is_killed(tmp_path, record_property):
    cluster = RedisCluster().start()
    process = None
    try:
        url = cluster.url
        process = start_worker(url, name="through", worker_ttl=5)
        queue = Queue(connection=url)
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 1, timeout=30)

        def kill_the_master() -> float:
            old = cluster.kill_master_of(JQ_SLOT_KEY)
            cluster.wait_for_new_master(JQ_SLOT_KEY, old)
            return time.time()

        report = run_through(queue, tmp_path / "runs", kill_the_master)
        _record(report, record_property)
        process.send_signal(signal.SIGTERM)
        code, stderr = stop(process)
        process = None
        assert code == 0, stderr
        assert report.resume_seconds < 30, report.summary()
        # A killed master takes nothing after its death: what is lost, or runs again because its
        # claim or outcome was lost, was written just before it, never after.
        window = (report.disrupted_at - REPLICATION_LAG, report.disrupted_at)
        assert report.beyond(*window) == [], report.summary()
    finally:
        if process is not None:
            process.kill()
            stop(process)
        cluster.cleanup()


def test_work_goes_on_while_jqs_slot_migrates(tmp_path, record_property):
    cluster = RedisCluster().start()
    process = None
    try:
        url = cluster.url
        process = start_worker(url, name="through", worker_ttl=5)
        queue = Queue(connection=url)
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 1, timeout=30)

        def migrate() -> float:
            before, after = cluster.migrate_slot(JQ_SLOT_KEY)
            assert cluster.master_of(JQ_SLOT_KEY).port == after != before
            return time.time()

        report = run_through(queue, tmp_path / "runs", migrate)
        _record(report, record_property)
        process.send_signal(signal.SIGTERM)
        code, stderr = stop(process)
        process = None
        assert code == 0, stderr
        # Nothing is lost in a migration: every key moves whole, and no master dies.
        assert (report.lost, report.ran_twice, report.outcome_lost) == ([], [], []), report.summary()
        assert report.resume_seconds < 30, report.summary()
    finally:
        if process is not None:
            process.kill()
            stop(process)
        cluster.cleanup()
