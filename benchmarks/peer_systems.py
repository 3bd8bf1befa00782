"""huey, dramatiq and Celery behind one small interface, for ``benchmarks/peers.py``.

Each adapter sends the jobs of ``benchmarks/peer_tasks`` the library's ordinary way, starts the
library's own worker command in a separate process, and says when a drain has finished using the
library's own bookkeeping where it has one (so the drained jobs stay no-ops). The task modules are
imported only when an adapter is made, after the harness has put the Redis URL in the environment.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, Any, ClassVar

import redis

from benchmarks.peer_tasks import STAMPS, URL_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
#: Jobs per call of a library's many-at-once API, as jq's enqueue_many measure uses.
BATCH = 1000


class Peer(ABC):
    """One library under test: how to send jobs, run its worker and see a drain finish."""

    #: Short name used on the command line and in the table.
    name: ClassVar[str]
    #: Column title in the table.
    title: ClassVar[str]
    #: Distribution whose version the report states.
    package: ClassVar[str]
    #: The module under ``benchmarks.peer_tasks`` that defines the library's jobs.
    tasks_module: ClassVar[str]
    #: The library's API for sending many jobs in one call, or None when it has none.
    bulk_api: ClassVar[str | None] = None

    def __init__(self, url: str) -> None:
        os.environ[URL_VARIABLE] = url
        self.url = url
        self.client = redis.Redis.from_url(url)
        self.tasks: Any = importlib.import_module(f"benchmarks.peer_tasks.{self.tasks_module}")
        self._log: IO[bytes] | None = None

    # -- producers --------------------------------------------------------------------------------

    @abstractmethod
    def send_noop(self) -> None:
        """Enqueue one ``noop`` job."""

    @abstractmethod
    def send_stamp(self, field: str) -> None:
        """Enqueue one ``stamp(field)`` job."""

    def send_many_noops(self, count: int) -> None:
        """Enqueue ``count`` ``noop`` jobs with the library's many-at-once API."""
        raise NotImplementedError(f"{self.name} has no bulk enqueue")

    # -- the worker process -----------------------------------------------------------------------

    @abstractmethod
    def worker_command(self) -> list[str]:
        """The command line of the library's worker, run from the repository root."""

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Start the library's worker in its own process (and session, to stop its children)."""
        env = dict(os.environ, PYTHONPATH=str(ROOT), **{URL_VARIABLE: self.url})
        # A file, not a pipe: a worker that logs a lot must never block on a full pipe. It stays
        # open while the worker runs and stop_worker closes it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        return subprocess.Popen(
            self.worker_command(),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def worker_output(self) -> str:
        """The end of what the worker printed (for error messages)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def stop_worker(self, process: subprocess.Popen[bytes]) -> None:
        """Stop the worker with SIGTERM; kill its whole session if it does not exit in 30 s."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- completion -------------------------------------------------------------------------------

    @abstractmethod
    def finished_at(self, count: int) -> float | None:
        """When all ``count`` drained jobs had finished (``time.time()``), or None if not yet.

        The drain enqueues ``stamp("first")``, ``count - 2`` noops and ``stamp("last")``.
        """

    def stamps(self) -> dict[str, float]:
        """Every start time the ``stamp`` jobs recorded, by field."""
        raw: dict[bytes, bytes] = self.client.hgetall(STAMPS)  # type: ignore[assignment]
        return {key.decode(): float(value) for key, value in raw.items()}


class Huey(Peer):
    """huey: ``RedisHuey`` and its consumer with default settings (1 worker, thread worker type)."""

    name = "huey"
    title = "huey"
    package = "huey"
    tasks_module = "huey_tasks"
    bulk_api = "task.map() (a loop of single enqueues)"

    def send_noop(self) -> None:
        """Enqueue one ``noop`` job (calling a task enqueues it)."""
        self.tasks.noop()

    def send_stamp(self, field: str) -> None:
        """Enqueue one ``stamp(field)`` job."""
        self.tasks.stamp(field)

    def send_many_noops(self, count: int) -> None:
        """``noop.map(...)``, ``BATCH`` jobs per call: huey's many-at-once API."""
        for offset in range(0, count, BATCH):
            self.tasks.noop.map([() for _ in range(min(BATCH, count - offset))])

    def worker_command(self) -> list[str]:
        """``huey_consumer`` with default workers and worker type; ``-q`` logs warnings only."""
        return [
            sys.executable,
            "-m",
            "huey.bin.huey_consumer",
            f"benchmarks.peer_tasks.{self.tasks_module}.huey",
            "-q",
        ]

    def finished_at(self, count: int) -> float | None:
        """The last job's own start stamp.

        One worker thread runs jobs one at a time in queue order (LPUSH, BRPOP), so when the last
        job has started every earlier one has finished; its stamp is the end of the drain.
        """
        value = self.client.hget(STAMPS, "last")
        return float(value) if value is not None else None


class Dramatiq(Peer):
    """dramatiq: ``RedisBroker`` and its worker, one process with its default 8 threads."""

    name = "dramatiq"
    title = "dramatiq"
    package = "dramatiq"
    tasks_module = "dramatiq_tasks"
    bulk_api = "group(...).run() (a loop of single enqueues)"

    def send_noop(self) -> None:
        """Enqueue one ``noop`` message."""
        self.tasks.noop.send()

    def send_stamp(self, field: str) -> None:
        """Enqueue one ``stamp(field)`` message."""
        self.tasks.stamp.send(field)

    def send_many_noops(self, count: int) -> None:
        """``group([...]).run()``, ``BATCH`` messages per group: dramatiq's many-at-once API."""
        import dramatiq

        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            dramatiq.group([self.tasks.noop.message() for _ in range(size)]).run()

    def worker_command(self) -> list[str]:
        """``dramatiq MODULE --processes 1``: one worker process, its default thread count (8)."""
        return [
            sys.executable,
            "-m",
            "dramatiq",
            f"benchmarks.peer_tasks.{self.tasks_module}",
            "--processes",
            "1",
        ]

    def finished_at(self, count: int) -> float | None:
        """Now, once the broker holds no message: none queued and none fetched but unacked.

        dramatiq keeps each message in ``dramatiq:default.msgs`` until a worker thread acks it
        after running it, so an empty hash means every job has finished.
        """
        with self.client.pipeline(transaction=False) as pipe:
            pipe.llen("dramatiq:default")
            pipe.hlen("dramatiq:default.msgs")
            queued, unacked = pipe.execute()
        return time.time() if queued == 0 and unacked == 0 else None


class Celery(Peer):
    """Celery: Redis broker, Redis result backend, ``celery worker`` with its default prefork pool."""

    name = "celery"
    title = "Celery"
    package = "celery"
    tasks_module = "celery_tasks"
    bulk_api = "group(...).apply_async() (a loop of single publishes on one producer)"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.results = redis.Redis.from_url(self.tasks.RESULTS_URL)

    def send_noop(self) -> None:
        """Enqueue one ``noop`` task (``delay()``)."""
        self.tasks.noop.delay()

    def send_stamp(self, field: str) -> None:
        """Enqueue one ``stamp(field)`` task."""
        self.tasks.stamp.delay(field)

    def send_many_noops(self, count: int) -> None:
        """``group(...).apply_async()``, ``BATCH`` tasks per group: Celery's many-at-once API."""
        from celery import group

        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            group(self.tasks.noop.s() for _ in range(size)).apply_async()

    def worker_command(self) -> list[str]:
        """``celery worker`` with the default prefork pool and concurrency; warnings only."""
        module = f"benchmarks.peer_tasks.{self.tasks_module}"
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            module,
            "worker",
            "--pool=prefork",
            "--loglevel=WARNING",
        ]

    def finished_at(self, count: int) -> float | None:
        """Now, once the result backend holds a result for every job.

        Each finished task stores exactly one ``celery-task-meta-<id>`` key, and results have a
        database of their own, so its key count is the number of finished jobs.
        """
        return time.time() if int(self.results.dbsize()) >= count else None


#: Every library, in table order.
PEERS: dict[str, type[Peer]] = {peer.name: peer for peer in (Huey, Dramatiq, Celery)}
