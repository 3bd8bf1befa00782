"""Redis Sentinel: a producer and a worker keep going while the master fails over.

One master, one replica and three sentinels on loopback ports (``tests/redis_sentinel.py``). A
worker process and a producer thread connect with a ``redis+sentinel://`` URL; mid-run the master
is failed over (``SENTINEL FAILOVER``) or killed, and the run counts the jobs lost, run twice, or
whose outcome was lost, and how long work stopped (``tests/failover_run.py``). Each run prints its
figures and records them as test properties (``--junitxml``). docs/brokers.md states the
guarantees these check.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from jq import Queue, Worker
from jq.testing.helpers import wait_for
from jq_backends.redis.failover import WATCH_INTERVAL
from tests.failover_run import FailoverReport, run_through
from tests.processes import start_worker, stop
from tests.redis_sentinel import SentinelSet

pytestmark = [pytest.mark.sentinel, pytest.mark.slow, pytest.mark.fault]

#: Writes acknowledged by the master just before it failed that its replica had not received yet
#: (asynchronous replication: milliseconds on loopback; a generous bound).
REPLICATION_LAG = 0.5
#: How long after the sentinels name the new master a client may still write to the old one
#: (``SENTINEL FAILOVER`` leaves it a master for some seconds): the driver asks the sentinels once
#: every WATCH_INTERVAL, and a call may be in flight.
SWITCH_SLACK = WATCH_INTERVAL + 1.0


def _disruption(sentinels: SentinelSet, how: str) -> float:
    """Fail the master over (``how``: "failover" or "kill"); when the new master took writes."""
    old = sentinels.failover() if how == "failover" else sentinels.kill_master()
    sentinels.wait_for_new_master(old)
    return time.time()


def _run(
    sentinels: SentinelSet, runs: Path, how: str, options: str, record_property: object
) -> FailoverReport:
    """A worker and a producer through a failover of ``sentinels`` (started here, stopped after)."""
    sentinels.start()
    process = None
    try:
        url = sentinels.url + options
        process = start_worker(url, name="through", worker_ttl=5)
        queue = Queue(connection=url)
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 1, timeout=30)
        report = run_through(queue, runs, lambda: _disruption(sentinels, how))
        _record(report, record_property)
        process.send_signal(signal.SIGTERM)
        code, stderr = stop(process)
        process = None
        assert code == 0, stderr
        return report
    finally:
        if process is not None:
            process.kill()
            stop(process)
        sentinels.cleanup()


def _record(report: FailoverReport, record_property: object) -> None:
    print(f"\n{report.summary()}")
    for name in ("acknowledged", "ran", "producer_retries"):
        record_property(name, getattr(report, name))  # type: ignore[operator]
    for name in ("lost", "ran_twice", "outcome_lost"):
        record_property(name, len(getattr(report, name)))  # type: ignore[operator]
    for name in ("promoted_seconds", "resume_seconds", "longest_pause"):
        record_property(name, round(getattr(report, name), 2))  # type: ignore[operator]


@pytest.mark.parametrize("how", ["failover", "kill"])
def test_work_goes_on_through_a_failover(tmp_path, how, record_property):
    report = _run(SentinelSet(), tmp_path / "runs", how, "", record_property)
    assert report.resume_seconds < 30, report.summary()
    # Asynchronous replication: what is lost, or runs again because its claim or outcome was lost,
    # was written in the window the failover leaves, never before nor after it. A killed master
    # takes nothing after its death; a failed-over one keeps taking writes until the clients
    # learn of the new master.
    start = report.disrupted_at - REPLICATION_LAG
    end = report.disrupted_at if how == "kill" else report.promoted_at + SWITCH_SLACK
    assert report.beyond(start, end) == [], report.summary()


def test_waiting_for_the_replica_loses_nothing(tmp_path, record_property):
    """With wait_replicas=1 (the one replica) every state change is on the replica before it is
    acknowledged, so nothing is lost and nothing runs twice. The price: after the failover the new
    master has no replica until the sentinels make the old master its replica, and writes wait
    for that (docs/brokers.md)."""
    report = _run(
        SentinelSet(), tmp_path / "runs", "failover", "?wait_replicas=1&wait_timeout=0.5", record_property
    )
    assert (report.lost, report.ran_twice, report.outcome_lost) == ([], [], []), report.summary()
    assert report.resume_seconds < 45, report.summary()
