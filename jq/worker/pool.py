"""A pool of worker processes on the same queues: one restarted when it dies, all stopped together.

>>> WorkerPool(["high", "default"], connection="redis://localhost:6379/0", num_workers=4).start()

The pool forks its workers; each is an ordinary worker with its own name, record and signals.
SIGTERM or SIGINT to the pool is passed on to every worker (a warm shutdown; a second signal,
a cold one), and the pool returns once all have stopped. Workers run in their own process
groups, so a Ctrl+C in a terminal, which signals the whole foreground group, reaches them once,
through the pool, and not twice (which would be a cold shutdown); a worker whose pool dies gets
SIGTERM (Linux). The members are RQ 3.0's (``start_workers()``, ``worker_dict``,
``request_stop()``...).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterable
from types import FrameType
from typing import Any, NamedTuple

import redis

from jq.base.logutils import setup_logging
from jq.base.utils import ForkProcess, public_module, validate_queue_name
from jq.exceptions import ConfigurationError, UnsupportedByBrokerError
from jq.io.connections import resolve_broker
from jq.queueing.queue import Queue
from jq.worker import BaseWorker, Worker
from jq.worker.horse_process import die_with_parent
from jq.worker.strategies import describe_exit

__all__ = ["ForkProcess", "WorkerData", "WorkerPool", "WorkerProcess", "run_worker"]

logger = logging.getLogger("jq.worker_pool")

# A worker that dies sooner than this after starting, this many times in a row, means something
# is wrong with every worker (a bad configuration): the pool stops instead of spinning. The time
# counts from the fork and includes importing the worker's modules, which takes seconds on a
# loaded machine: 5 s, so that a worker that dies on its first job still counts as dying at start.
_EARLY_DEATH_SECONDS = 5.0
_EARLY_DEATHS_ALLOWED = 5


class WorkerProcess:
    """One worker process of a pool, forked by :meth:`start` (what RQ's pool keeps a
    ``multiprocessing`` process for)."""

    def __init__(
        self, pool: WorkerPool, name: str, burst: bool, logging_level: str, sleep: float = 0
    ) -> None:
        self.pool, self.name, self.burst, self.logging_level, self.sleep = (
            pool,
            name,
            burst,
            logging_level,
            sleep,
        )
        self.pid: int | None = None
        self.started_at = 0.0
        #: The ``waitpid`` status once the process exited, else None.
        self.status: int | None = None

    def start(self) -> None:
        """Fork the worker (in its own process group)."""
        pool = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker process
            self.pool._run_worker(pool, self.name, self.burst, self.logging_level, self.sleep)
        # Its own group, set from both sides: a signal to the pool's group may come before the
        # child gets to it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self.pid, self.started_at = pid, time.monotonic()

    @property
    def exitcode(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        return None if self.status is None else os.waitstatus_to_exitcode(self.status)

    def is_alive(self) -> bool:
        """Whether the process still runs (it is reaped if it exited)."""
        if self.pid is None or self.status is not None:
            return False
        with contextlib.suppress(ChildProcessError):
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return True
            self.status = status
            return False
        return False

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds (None: for good) for the process to exit."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.01)


class WorkerData(NamedTuple):
    """A pool's worker: its name, pid and process."""

    name: str
    pid: int
    process: WorkerProcess


class WorkerPool:
    """``num_workers`` worker processes listening to ``queues``.

    :param queues: queue names (or Queue objects), in listening order.
    :param connection: a URL or client every worker uses (a store shared across processes).
    :param num_workers: how many workers (at least 1).
    :param worker_class: the worker class, :class:`jq.Worker` unless given.
    :param serializer: the workers' serializer; ``job_class``, ``queue_class``,
        ``exception_handlers`` the same for theirs.
    :param name: the start of each worker's name (unique by default).
    :param worker_kwargs: more arguments for each worker (``worker_ttl=``...).
    """

    class Status(enum.Enum):
        """Where the pool is: not started, running its workers, stopping them."""

        IDLE = 1
        STARTED = 2
        STOPPED = 3

    def __init__(
        self,
        queues: Iterable[Queue | str] | str,
        connection: Any = None,
        num_workers: int = 1,
        worker_class: type[BaseWorker] = Worker,
        serializer: Any = None,
        job_class: Any = None,
        queue_class: Any = None,
        exception_handlers: Any = None,
        *,
        name: str | None = None,
        **worker_kwargs: Any,
    ) -> None:
        if not isinstance(num_workers, int) or num_workers < 1:
            raise ConfigurationError(f"a worker pool needs at least 1 worker, not {num_workers!r}")
        self._queues_given: list[Queue | str] = [queues] if isinstance(queues, str) else list(queues)
        if not self._queues_given:
            raise ConfigurationError("a worker pool needs at least one queue to listen to")
        for queue in self._queues_given:
            if not isinstance(queue, Queue):
                # Here, not in each worker: a bad name would kill every worker as it starts.
                validate_queue_name(queue)
        broker = resolve_broker(
            connection if connection is not None else _queue_connection(self._queues_given)
        )
        if not broker.shares_across_processes:
            raise UnsupportedByBrokerError(
                f"a worker pool runs workers in separate processes, but the {broker.url} store lives "
                "inside one process: use a redis:// connection"
            )
        self.connection = connection if connection is not None else broker
        self.num_workers = num_workers
        self.worker_class = worker_class
        self.serializer, self.job_class, self.queue_class = serializer, job_class, queue_class
        self.exception_handlers = exception_handlers
        self.name = name or uuid.uuid4().hex[:8]
        self.log = logger
        self.status = self.Status.IDLE
        #: The live workers, by name.
        self.worker_dict: dict[str, WorkerData] = {}
        self.worker_kwargs = worker_kwargs
        for key, value in (("serializer", serializer), ("job_class", job_class), ("queue_class", queue_class),
                           ("exception_handlers", exception_handlers)):  # fmt: skip
            if value is not None:
                self.worker_kwargs[key] = value
        self._broker = broker
        self._burst = False
        self._work_kwargs: dict[str, Any] = {}
        self._signals_received = 0
        self._early_deaths = 0
        #: How many workers died (ended otherwise than as asked) while the pool ran.
        self.deaths = 0
        #: Whether the pool stopped because its workers kept dying at start.
        self.gave_up = False

    @property
    def queues(self) -> list[Queue]:
        """The pool's queues."""
        queue_class = self.queue_class or Queue
        return [item if isinstance(item, Queue) else queue_class(item, connection=self._broker)
                for item in self._queues_given]  # fmt: skip

    @property
    def number_of_active_workers(self) -> int:
        """How many workers run now."""
        return len(self.worker_dict)

    @property
    def stopping(self) -> bool:
        """Whether the pool was told to stop."""
        return self.status is self.Status.STOPPED

    def start(self, burst: bool = False, logging_level: str = "INFO", **work_kwargs: Any) -> None:
        """Run the pool until told to stop.

        With ``burst``, ``max_jobs`` or ``max_idle_time``, a worker that ends by itself (exit
        status 0) is not replaced, and the pool returns once every worker has ended; a worker that
        dies is still replaced. Workers that keep dying at start stop the pool (:attr:`gave_up`);
        :attr:`deaths` counts the workers that died.
        """
        setup_logging(logger, logging_level)
        self._burst, self._work_kwargs = burst, work_kwargs
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.status = self.Status.STARTED
            self.start_workers(burst=burst, logging_level=logging_level)
            logger.info("pool %s: %d workers on %s", self.name, self.num_workers, self._queue_names())
            self._supervise(logging_level)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("pool %s: stopped", self.name)

    def _supervise(self, logging_level: str) -> None:
        while self.worker_dict:
            # Until a child exits, without reaping it: reap_workers() reaps (and names) it.
            exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
            dead = self.reap_workers()
            if not dead and exited is not None:
                # Not one of the pool's workers (nothing else is forked here): reap it all the same.
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(exited.si_pid, 0)
            for data in dead:
                self._after_death(data, logging_level)

    def _after_death(self, data: WorkerData, logging_level: str) -> None:
        """Replace a worker that ended, unless the pool stops or it did what it was asked."""
        process = data.process
        lived = time.monotonic() - process.started_at
        # A worker told to end by itself (burst, max_jobs, max_idle_time) did what it was
        # asked: replacing it would run a fresh one, idle or not, forever.
        finite = (
            self._burst
            or self._work_kwargs.get("max_jobs") is not None
            or self._work_kwargs.get("max_idle_time") is not None
        )
        if self.stopping or (finite and process.exitcode == 0):
            return
        status = process.status if process.status is not None else 0
        logger.warning("pool %s: worker %s %s; starting another", self.name, data.name, describe_exit(status))
        self.deaths += 1
        self._early_deaths = self._early_deaths + 1 if lived < _EARLY_DEATH_SECONDS else 0
        if self._early_deaths >= _EARLY_DEATHS_ALLOWED:
            logger.error("pool %s: workers keep dying at start; stopping the pool", self.name)
            self.gave_up = True
            self.status = self.Status.STOPPED
            self._forward(signal.SIGTERM)
            return
        self.start_worker(burst=self._burst, logging_level=logging_level)

    # -- RQ's members -----------------------------------------------------------------------------

    def get_worker_process(
        self, name: str, burst: bool, _sleep: float = 0, logging_level: str = "INFO"
    ) -> WorkerProcess:
        """The process of a new worker named ``name`` (not started)."""
        return WorkerProcess(self, name, burst, logging_level, _sleep)

    def start_worker(
        self, count: int | None = None, burst: bool = True, _sleep: float = 0, logging_level: str = "INFO"
    ) -> None:
        """Start one more worker."""
        name = (
            f"{self.name}-{count if count is not None else len(self.worker_dict) + 1}-{uuid.uuid4().hex[:6]}"
        )
        process = self.get_worker_process(name, burst=burst, _sleep=_sleep, logging_level=logging_level)
        process.start()
        assert process.pid is not None
        self.worker_dict[name] = WorkerData(name, process.pid, process)

    def start_workers(self, burst: bool = True, _sleep: float = 0, logging_level: str = "INFO") -> None:
        """Start ``num_workers`` workers."""
        for count in range(self.num_workers):
            self.start_worker(count + 1, burst=burst, _sleep=_sleep, logging_level=logging_level)

    def reap_workers(self) -> list[WorkerData]:
        """Forget the workers that have exited (see :meth:`handle_dead_worker`); them."""
        dead = [data for data in list(self.worker_dict.values()) if not data.process.is_alive()]
        for data in dead:
            self.handle_dead_worker(data)
        return dead

    def handle_dead_worker(self, worker_data: WorkerData) -> None:
        """Forget a worker that has exited."""
        logger.debug("pool %s: worker %s (pid %d) ended", self.name, worker_data.name, worker_data.pid)
        self.worker_dict.pop(worker_data.name, None)

    def all_workers_have_stopped(self) -> bool:
        """Whether every worker has exited."""
        self.reap_workers()
        return self.number_of_active_workers == 0

    def check_workers(self, respawn: bool = True) -> None:
        """Forget exited workers and, with ``respawn`` (and unless stopping), start as many."""
        self.reap_workers()
        if respawn and not self.stopping:
            for _ in range(self.num_workers - len(self.worker_dict)):
                self.start_worker(burst=self._burst)

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop every worker: the first call is a warm shutdown for each, the next a cold one
        (the pool's SIGINT and SIGTERM handler)."""
        self._signals_received += 1
        self.status = self.Status.STOPPED
        kind = "warm" if self._signals_received == 1 else "cold"
        received = signal.Signals(signum).name if signum is not None else "a stop request"
        logger.warning("pool %s: got %s: %s shutdown of every worker", self.name, received, kind)
        # Each worker decides for itself: the first signal is a warm shutdown, the next a cold one.
        self.stop_workers()

    def stop_worker(self, worker_data: WorkerData, sig: int = signal.SIGINT) -> None:
        """Send ``sig`` to one worker (nothing when it is gone already)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker_data.pid, sig)

    def stop_workers(self) -> None:
        """Send every worker SIGTERM (a warm shutdown; a second one, a cold shutdown)."""
        for data in list(self.worker_dict.values()):
            self.stop_worker(data, signal.SIGTERM)

    # -- the worker process -----------------------------------------------------------------------

    def _run_worker(
        self, pool: int, name: str, burst: bool, logging_level: str, sleep: float
    ) -> None:  # pragma: no cover
        code = 0
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            # Signals for the pool's group (a terminal's Ctrl+C) are the pool's to pass on.
            os.setpgid(0, 0)
            # Out of the pool's group, a worker would outlive a pool killed with SIGKILL: a warm
            # shutdown then.
            die_with_parent(signal.SIGTERM)
            if os.getppid() != pool:
                return
            time.sleep(sleep)
            worker = self.worker_class(self._queues_given, name=name, connection=self.connection,
                                       **self.worker_kwargs)  # fmt: skip
            worker.work(burst=burst, logging_level=logging_level, **self._work_kwargs)
        except BaseException:
            # Through the pool's log, so that these lines too start with a timestamp.
            logger.exception("pool %s: worker %s stopped on an error", self.name, name)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _forward(self, signum: int) -> None:
        for data in list(self.worker_dict.values()):
            self.stop_worker(data, signum)

    def _queue_names(self) -> str:
        return ", ".join(queue if isinstance(queue, str) else queue.name for queue in self._queues_given)


def _queue_connection(queues: list[Queue | str]) -> Any:
    for queue in queues:
        if isinstance(queue, Queue):
            return queue.broker
    return None


def run_worker(
    worker_name: str,
    queue_names: Iterable[str],
    connection_class: Any,
    connection_pool_class: Any,
    connection_pool_kwargs: dict[str, Any],
    worker_class: type[BaseWorker] = Worker,
    serializer: Any = None,
    job_class: Any = None,
    queue_class: Any = None,
    exception_handlers: Any = None,
    burst: bool = True,
    logging_level: str = "INFO",
    _sleep: float = 0,
) -> None:
    """Run one worker in this process, connecting as RQ's pool describes a connection: a client
    class, the connection class of its pool, and the pool's settings."""
    pool = redis.ConnectionPool(connection_class=connection_pool_class, **connection_pool_kwargs)
    client = connection_class(connection_pool=pool)
    time.sleep(_sleep)
    worker = worker_class(
        list(queue_names),
        name=worker_name,
        connection=client,
        serializer=serializer,
        job_class=job_class,
        queue_class=queue_class,
        exception_handlers=exception_handlers,
    )
    worker.work(burst=burst, with_scheduler=True, logging_level=logging_level)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.worker_pool", WorkerProcess, WorkerData, WorkerPool)
