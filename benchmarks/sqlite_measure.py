"""One measurement of jq or huey on a SQLite file, in a fresh process: ``python -m
benchmarks.sqlite_measure SYSTEM MEASURE COUNT PATH`` prints ``{"value": ...}`` on its last line.

SYSTEM is ``jq`` (``sqlite:////PATH``, its defaults), ``jq-normal``
(``sqlite:////PATH?synchronous=normal``), ``huey`` (``SqliteHuey`` with its defaults) or
``huey-nosync`` (``SqliteHuey(fsync=False)``). PATH is a file in a fresh directory the caller
(``benchmarks/sqlite.py``) made for this measurement alone.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

BATCH = 1000  # jq's enqueue_many batch when filling a queue (not timed)


class JQ:
    """jq's ``Queue`` and ``SimpleWorker`` on ``sqlite:////PATH``."""

    def __init__(self, path: str, synchronous: str | None = None) -> None:
        import jq
        from benchmarks import jobs

        self.jq = jq
        self.url = f"sqlite:///{path}"  # path is absolute: four slashes in all
        if synchronous is not None:
            self.url += f"?synchronous={synchronous}"
        self.queue = jq.Queue("bench", connection=self.url)
        self.job = jobs.noop

    def send_noop(self) -> None:
        """Enqueue one job."""
        self.queue.enqueue(self.job)

    def fill(self, count: int) -> None:
        """Put ``count`` jobs on the queue (not timed): ``enqueue_many``, 1,000 per call."""
        prepare = self.jq.Queue.prepare_data
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            self.queue.enqueue_many([prepare(self.job) for _ in range(size)])

    def drain(self) -> None:
        """Run every queued job in this process: ``SimpleWorker.work(burst=True)``."""
        worker = self.jq.SimpleWorker([self.queue], connection=self.url)
        worker.work(burst=True, logging_level="WARNING")

    def pending(self) -> int:
        """Jobs still queued."""
        return len(self.queue)


class Huey:
    """huey's ``SqliteHuey`` on PATH, its jobs run by huey's own dequeue-and-execute loop."""

    def __init__(self, path: str, fsync: bool) -> None:
        from benchmarks.peer_tasks import HUEY_FSYNC_VARIABLE, SQLITE_FILE_VARIABLE

        os.environ[SQLITE_FILE_VARIABLE] = path
        if not fsync:
            os.environ[HUEY_FSYNC_VARIABLE] = "off"
        # Imported once the environment names the file: the module makes its SqliteHuey on import.
        self.tasks: Any = importlib.import_module("benchmarks.peer_tasks.huey_sqlite_tasks")
        self.huey = self.tasks.huey

    def send_noop(self) -> None:
        """Enqueue one job (calling a task enqueues it)."""
        self.tasks.noop()

    def fill(self, count: int) -> None:
        """Put ``count`` jobs on the queue (not timed): huey has no batched enqueue."""
        for _ in range(count):
            self.tasks.noop()

    def drain(self) -> None:
        """Run every queued job in this process, as one consumer worker thread does.

        huey's consumer ``Worker.loop`` is ``task = huey.dequeue()`` then ``huey.execute(task)``
        (plus signal and sleep handling); this is that loop until the queue is empty.
        """
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)

    def pending(self) -> int:
        """Jobs still queued."""
        return int(self.huey.pending_count())


def make(system: str, path: str) -> Any:
    """The adapter for ``system``."""
    if system in ("jq", "jq-normal"):
        return JQ(path, synchronous="normal" if system == "jq-normal" else None)
    if system in ("huey", "huey-nosync"):
        return Huey(path, fsync=system == "huey")
    raise ValueError(f"unknown system {system!r}")


def enqueue(system: Any, count: int) -> float:
    """Jobs enqueued per second, one by one."""
    started = time.perf_counter()
    for _ in range(count):
        system.send_noop()
    return count / (time.perf_counter() - started)


def drain(system: Any, count: int) -> float:
    """Jobs per second one in-process worker runs from a queue holding ``count`` jobs."""
    system.fill(count)
    started = time.perf_counter()
    system.drain()
    elapsed = time.perf_counter() - started
    if system.pending():
        raise RuntimeError(f"{system.pending()} jobs left after the drain")
    return count / elapsed


MEASURES: dict[str, Callable[[Any, int], float]] = {"enqueue": enqueue, "drain": drain}


def main(argv: list[str]) -> None:
    """Run one measure and print its JSON result."""
    logging.disable(logging.WARNING)
    system, measure, count, path = argv[0], argv[1], int(argv[2]), argv[3]
    print(json.dumps({"value": MEASURES[measure](make(system, path), count)}))


if __name__ == "__main__":
    main(sys.argv[1:])
