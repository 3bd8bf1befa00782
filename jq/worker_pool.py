"""A pool of worker processes on the same queues: one restarted when it dies, all stopped together.

>>> WorkerPool(["high", "default"], connection="redis://localhost:6379/0", num_workers=4).start()

The pool forks its workers; each is an ordinary worker with its own name, record and signals.
SIGTERM or SIGINT to the pool is passed on to every worker (a warm shutdown; a second signal,
a cold one), and the pool returns once all have stopped. Workers run in their own process
groups, so a Ctrl+C in a terminal, which signals the whole foreground group, reaches them once,
through the pool, and not twice (which would be a cold shutdown); a worker whose pool dies gets
SIGTERM (Linux).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterable
from types import FrameType
from typing import Any

from jq.connections import resolve_broker
from jq.exceptions import ConfigurationError, UnsupportedByBrokerError
from jq.logutils import setup_logging
from jq.queue import Queue
from jq.worker import BaseWorker, Worker
from jq.worker.horse import die_with_parent
from jq.worker.strategies import describe_exit

__all__ = ["WorkerPool"]

logger = logging.getLogger("jq.worker_pool")

# A worker that dies sooner than this after starting, this many times in a row, means something
# is wrong with every worker (a bad configuration): the pool stops instead of spinning.
_EARLY_DEATH_SECONDS = 2.0
_EARLY_DEATHS_ALLOWED = 5


class WorkerPool:
    """``num_workers`` worker processes listening to ``queues``.

    :param queues: queue names (or Queue objects), in listening order.
    :param connection: a URL or client every worker uses (a store shared across processes).
    :param num_workers: how many workers (at least 1).
    :param worker_class: the worker class, :class:`jq.Worker` unless given.
    :param name: the start of each worker's name (unique by default).
    :param worker_kwargs: more arguments for each worker (``worker_ttl=``, ``job_class=``...).
    """

    def __init__(
        self,
        queues: Iterable[Queue | str] | str,
        connection: Any = None,
        num_workers: int = 2,
        worker_class: type[BaseWorker] = Worker,
        name: str | None = None,
        **worker_kwargs: Any,
    ) -> None:
        if not isinstance(num_workers, int) or num_workers < 1:
            raise ConfigurationError(f"a worker pool needs at least 1 worker, not {num_workers!r}")
        self.queues: list[Queue | str] = [queues] if isinstance(queues, str) else list(queues)
        if not self.queues:
            raise ConfigurationError("a worker pool needs at least one queue to listen to")
        broker = resolve_broker(connection if connection is not None else _queue_connection(self.queues))
        if not broker.shares_across_processes:
            raise UnsupportedByBrokerError(
                f"a worker pool runs workers in separate processes, but the {broker.url} store lives "
                "inside one process: use a redis:// connection"
            )
        self.connection = connection if connection is not None else broker
        self.num_workers = num_workers
        self.worker_class = worker_class
        self.name = name or uuid.uuid4().hex[:8]
        self.worker_kwargs = worker_kwargs
        self._children: dict[int, int] = {}  # pid -> slot
        self._started_at: dict[int, float] = {}
        self._signals_received = 0
        self._early_deaths = 0

    @property
    def stopping(self) -> bool:
        """Whether the pool was told to stop."""
        return self._signals_received > 0

    def start(self, burst: bool = False, logging_level: str = "INFO", **work_kwargs: Any) -> None:
        """Run the pool until told to stop.

        With ``burst``, ``max_jobs`` or ``max_idle_time``, a worker that ends by itself (exit
        status 0) is not replaced, and the pool returns once every worker has ended; a worker that
        dies is still replaced.
        """
        setup_logging(logger, logging_level)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in range(self.num_workers):
                self._spawn(slot, burst, logging_level, work_kwargs)
            logger.info("pool %s: %d workers on %s", self.name, self.num_workers, self._queue_names())
            self._supervise(burst, logging_level, work_kwargs)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("pool %s: stopped", self.name)

    def _supervise(self, burst: bool, logging_level: str, work_kwargs: dict[str, Any]) -> None:
        while self._children:
            pid, status = os.waitpid(-1, 0)
            slot = self._children.pop(pid, None)
            if slot is None:
                continue
            lived = time.monotonic() - self._started_at.pop(pid)
            # A worker told to end by itself (burst, max_jobs, max_idle_time) did what it was
            # asked: replacing it would run a fresh one, idle or not, forever.
            finite = (
                burst
                or work_kwargs.get("max_jobs") is not None
                or work_kwargs.get("max_idle_time") is not None
            )
            if self.stopping or (finite and os.waitstatus_to_exitcode(status) == 0):
                continue
            logger.warning("pool %s: worker %d %s; starting another", self.name, slot, describe_exit(status))
            self._early_deaths = self._early_deaths + 1 if lived < _EARLY_DEATH_SECONDS else 0
            if self._early_deaths >= _EARLY_DEATHS_ALLOWED:
                logger.error("pool %s: workers keep dying at start; stopping the pool", self.name)
                self._forward(signal.SIGTERM)
                self._signals_received = 1
                continue
            self._spawn(slot, burst, logging_level, work_kwargs)

    def _spawn(self, slot: int, burst: bool, logging_level: str, work_kwargs: dict[str, Any]) -> None:
        pool = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker process
            self._run_worker(pool, slot, burst, logging_level, work_kwargs)
        # Its own group, set from both sides: a signal to the pool's group may come before the
        # child gets to it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self._children[pid] = slot
        self._started_at[pid] = time.monotonic()

    def _run_worker(
        self, pool: int, slot: int, burst: bool, logging_level: str, work_kwargs: dict[str, Any]
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
            worker = self.worker_class(
                self.queues,
                name=f"{self.name}-{slot}-{uuid.uuid4().hex[:6]}",
                connection=self.connection,
                **self.worker_kwargs,
            )
            worker.work(burst=burst, logging_level=logging_level, **work_kwargs)
        except BaseException:
            # Through the pool's log, so that these lines too start with a timestamp.
            logger.exception("pool %s: worker %d stopped on an error", self.name, slot)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals_received += 1
        kind = "warm" if self._signals_received == 1 else "cold"
        logger.warning(
            "pool %s: got %s: %s shutdown of every worker", self.name, signal.Signals(signum).name, kind
        )
        # Each worker decides for itself: the first signal is a warm shutdown, the next a cold one.
        self._forward(signal.SIGTERM)

    def _forward(self, signum: int) -> None:
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _queue_names(self) -> str:
        return ", ".join(queue if isinstance(queue, str) else queue.name for queue in self.queues)


def _queue_connection(queues: list[Queue | str]) -> Any:
    for queue in queues:
        if isinstance(queue, Queue):
            return queue.broker
    return None
