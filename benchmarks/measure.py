"""One measurement of one system, in a fresh process: ``python -m benchmarks.measure SYSTEM MEASURE
COUNT URL`` prints ``{"value": ..., "unit": ...}`` on its last line.

The store is emptied before each measurement by the caller (``benchmarks/run.py``).
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.systems import RQLike, rss_mb

LATENCY_RATE = 150.0  # jobs per second, as the performance targets state


def enqueue(system: RQLike, count: int) -> tuple[float, str]:
    """Jobs enqueued per second, one by one."""
    return count / system.enqueue(count), "jobs/s"


def enqueue_many(system: RQLike, count: int) -> tuple[float, str]:
    """Jobs enqueued per second with enqueue_many (batches of 1,000)."""
    return count / system.enqueue_many(count), "jobs/s"


def drain_simple(system: RQLike, count: int) -> tuple[float, str]:
    """Jobs per second one in-process SimpleWorker runs from a full queue."""
    system.fill(count)
    return count / system.drain("SimpleWorker"), "jobs/s"


def drain_threads32(system: RQLike, count: int) -> tuple[float, str]:
    """Jobs per second one in-process ``SimpleWorker(concurrency=32, pool="threads")`` runs from a
    full queue; RQ has no concurrency, so its figure is its SimpleWorker's (as ``drain_simple``)."""
    system.fill(count)
    options = {"concurrency": 32, "pool": "threads"} if system.name == "jq" else {}
    return count / system.drain("SimpleWorker", **options), "jobs/s"


def drain_isolated(system: RQLike, count: int) -> tuple[float, str]:
    """Jobs per second one Worker runs from a full queue, each job isolated from the worker in
    the fastest way each offers: jq's reused work horse (``reuse_horse=True``), RQ's horse per
    job (RQ has no other)."""
    system.fill(count)
    options = {"reuse_horse": True} if system.name == "jq" else {}
    return count / system.drain("Worker", **options), "jobs/s"


def drain_fork_per_job(system: RQLike, count: int) -> tuple[float, str]:
    """Jobs per second one Worker that forks a fresh horse per job runs: both defaults."""
    system.fill(count)
    return count / system.drain("Worker"), "jobs/s"


def _wait(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not complete in time")
        time.sleep(0.01)


def _latency(system: RQLike, count: int) -> list[float]:
    worker = system.start_worker_process()
    try:
        _wait(lambda: system.workers_alive() >= 1, 120)
        interval = 1 / LATENCY_RATE
        jobs = []
        next_at = time.perf_counter()
        for _ in range(count):
            next_at += interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # the producer's pace is the measured scenario
            jobs.append(system.queue.enqueue(system.job))
        _wait(lambda: len(system.queue) == 0 and jobs[-1].get_status() == "finished", 300)
        return system.latencies(jobs)
    finally:
        stop_worker_process(worker)


def stop_worker_process(worker: subprocess.Popen[bytes]) -> None:
    """End a latency worker once its jobs are measured: SIGTERM, then SIGKILL after 10 s.

    How the worker exits is not part of the measure. RQ's warm shutdown can miss a SIGTERM that
    lands while the worker marks itself busy, and then it sleeps in a long BLPOP (its default
    dequeue timeout is minutes), so waiting for it to exit on its own can fail a run.
    """
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=30)


def latency_p50(system: RQLike, count: int) -> tuple[float, str]:
    """Median ms from enqueue to start, one idle SimpleWorker process, jobs at 150/s."""
    values = _latency(system, count)
    return statistics.median(values) * 1000, "ms"


def latency_p99(system: RQLike, count: int) -> tuple[float, str]:
    """99th percentile ms from enqueue to start, as for latency_p50."""
    values = sorted(_latency(system, count))
    return values[min(len(values) - 1, int(len(values) * 0.99))] * 1000, "ms"


def rss_growth(system: RQLike, count: int) -> tuple[float, str]:
    """MB a SimpleWorker's resident memory grows over ``count`` jobs (after 1,000 warm-up jobs)."""
    system.fill(1000)
    system.drain("SimpleWorker")
    before = rss_mb()
    system.fill(count)
    system.drain("SimpleWorker")
    return rss_mb() - before, "MB"


def pool_speedup(system: RQLike, count: int) -> tuple[float, str]:
    """How many times faster a pool of 2 SimpleWorker processes drains than one process."""
    system.fill(count)
    one = system.pool_drain(1)
    system.fill(count)
    two = system.pool_drain(2)
    return one / two, "x"


MEASURES: dict[str, Callable[[RQLike, int], tuple[float, str]]] = {
    "enqueue": enqueue,
    "enqueue_many": enqueue_many,
    "drain_simple": drain_simple,
    "drain_threads32": drain_threads32,
    "drain_isolated": drain_isolated,
    "drain_fork_per_job": drain_fork_per_job,
    "latency_p50": latency_p50,
    "latency_p99": latency_p99,
    "rss_growth": rss_growth,
    "pool_speedup": pool_speedup,
}


def main(argv: list[str]) -> None:
    """Run one measure and print its JSON result."""
    logging.disable(logging.WARNING)
    system_name, measure, count, url = argv[0], argv[1], int(argv[2]), argv[3]
    value, unit = MEASURES[measure](RQLike(system_name, url), count)
    result: dict[str, Any] = {"value": value, "unit": unit}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
