"""A bounded pool of daemon threads for a concurrent worker's jobs.

Not :class:`concurrent.futures.ThreadPoolExecutor`: its threads are joined when the interpreter
exits, so a job thread stuck in a call that never returns (past its timeout, after a cold
shutdown) would keep the worker's process from ever exiting. These threads are daemons, and
block SIGINT and SIGTERM (the worker's main thread handles those).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from jq.base.threads import start_background_thread

__all__ = ["ThreadPool"]

logger = logging.getLogger("jq.worker")


class ThreadPool:
    """Runs the functions given to :meth:`submit` on up to ``size`` threads named ``name-N``,
    started as they are needed and kept for the next ones. Functions beyond ``size`` wait."""

    def __init__(self, size: int, name: str) -> None:
        self.size, self.name = size, name
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        # Threads waiting for work and not yet promised any.
        self._idle = 0
        self._closed = False

    def submit(self, function: Callable[[], None]) -> None:
        """Run ``function()`` on a thread of the pool (it must not raise: what it raises is
        logged)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"thread pool {self.name} is closed")
            if self._idle:
                self._idle -= 1
            elif self._threads < self.size:
                self._threads += 1
                start_background_thread(self._serve, f"{self.name}-{self._threads}")
            self._work.put(function)

    def close(self) -> None:
        """Let each thread end once it is free (a thread still running a job is not waited for)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in range(self._threads):
                self._work.put(None)

    def _serve(self) -> None:
        while (function := self._work.get()) is not None:
            try:
                function()
            except BaseException:
                logger.exception("thread %s: unexpected error", threading.current_thread().name)
            with self._lock:
                self._idle += 1
