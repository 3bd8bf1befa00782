"""The queues under test, each behind the same small interface.

Every measure runs in its own fresh process (see ``benchmarks/measure.py``), so one system's
imports and caches never help or hurt another.
"""

from __future__ import annotations

import datetime
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JOB = "benchmarks.jobs.noop"


def rss_mb() -> float:
    """This process's resident memory in MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class RQLike:
    """jq and RQ share RQ's API: one adapter serves both, by module name."""

    def __init__(self, module: str, url: str) -> None:
        import redis

        self.name = module
        self.module = importlib.import_module(module)
        self.url = url
        self.client = redis.Redis.from_url(url)
        self.queue = self.module.Queue("bench", connection=self.client)
        from benchmarks import jobs

        self.job = jobs.noop

    # -- producers --------------------------------------------------------------------------------

    def enqueue(self, count: int) -> float:
        """Seconds to enqueue ``count`` jobs one by one."""
        started = time.perf_counter()
        for _ in range(count):
            self.queue.enqueue(self.job)
        return time.perf_counter() - started

    def enqueue_many(self, count: int, batch: int = 1000) -> float:
        """Seconds to enqueue ``count`` jobs with enqueue_many, ``batch`` at a time."""
        prepare = self.module.Queue.prepare_data
        started = time.perf_counter()
        for offset in range(0, count, batch):
            size = min(batch, count - offset)
            self.queue.enqueue_many([prepare(self.job) for _ in range(size)])
        return time.perf_counter() - started

    def fill(self, count: int) -> None:
        """Put ``count`` jobs on the queue as fast as possible (not measured)."""
        self.enqueue_many(count)

    # -- consumers --------------------------------------------------------------------------------

    def worker(self, kind: str, **options: Any) -> Any:
        """A worker of ``kind`` ("SimpleWorker" or "Worker") on the bench queue."""
        return getattr(self.module, kind)([self.queue], connection=self.client, **options)

    def drain(self, kind: str, **options: Any) -> float:
        """Seconds for one in-process worker of ``kind`` to run every queued job (burst)."""
        worker = self.worker(kind, **options)
        started = time.perf_counter()
        worker.work(burst=True, logging_level="WARNING")
        return time.perf_counter() - started

    def pool_drain(self, processes: int) -> float:
        """Seconds for a pool of ``processes`` SimpleWorkers to run every queued job (burst)."""
        if self.name == "jq":
            from jq.worker_pool import WorkerPool

            pool = WorkerPool(["bench"], connection=self.url, num_workers=processes,
                              worker_class=self.module.SimpleWorker)  # fmt: skip
        else:
            from rq.worker_pool import WorkerPool as RQPool

            pool = RQPool(["bench"], connection=self.client, num_workers=processes,
                          worker_class=self.module.SimpleWorker)  # fmt: skip
        started = time.perf_counter()
        pool.start(burst=True, logging_level="WARNING")
        return time.perf_counter() - started

    def start_worker_process(self) -> subprocess.Popen[bytes]:
        """An idle SimpleWorker in its own process, listening to the bench queue."""
        code = (
            f"import logging, {self.name}, redis\n"
            f"c = redis.Redis.from_url({self.url!r})\n"
            f"q = {self.name}.Queue('bench', connection=c)\n"
            f"{self.name}.SimpleWorker([q], connection=c).work(logging_level='WARNING')\n"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)

    def workers_alive(self) -> int:
        """How many workers are registered."""
        return int(self.module.Worker.count(connection=self.client))

    def latencies(self, jobs: list[Any]) -> list[float]:
        """Seconds from enqueue to start of each job (from the jobs' own timestamps)."""
        found = []
        for job in jobs:
            job.refresh()
            started: datetime.datetime = job.started_at
            found.append((started - job.enqueued_at).total_seconds())
        return found
