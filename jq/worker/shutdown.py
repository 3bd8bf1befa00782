"""Signals: the first SIGINT/SIGTERM asks for a warm shutdown, the second for a cold one."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

#: A worker's ``request_stop`` or ``request_force_stop``, bound (a worker class may override them).
StopRequest = Callable[[int, FrameType | None], None]

__all__ = ["ShutdownSignals"]

logger = logging.getLogger("jq.worker")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownSignals:
    """Installs worker ``name``'s SIGINT/SIGTERM handlers (main thread only) and restores the old
    ones.

    First signal: warm shutdown (``request_stop``, the worker's): the current job finishes, no new
    job is taken. Any later signal: cold shutdown (``request_force_stop``): the running job is
    killed now (and still recorded, as failed).

    Python runs a handler once for signals that arrive before it gets to run, so two quick presses
    of Ctrl+C would look like one. The C-level wakeup fd receives one byte per delivered signal:
    the handler counts those bytes instead of its own calls.
    """

    def __init__(self, name: str, request_stop: StopRequest, request_force_stop: StopRequest) -> None:
        self.name, self.request_stop, self.request_force_stop = name, request_stop, request_force_stop
        self._previous: dict[int, Any] = {}
        self._wakeup: tuple[int, int] | None = None
        self._previous_wakeup_fd = -1
        # Numbers the signals counted, 1 first (see _handle).
        self._ordinals = itertools.count(1)

    def install(self) -> None:
        """Take over SIGINT and SIGTERM, when running in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        os.set_blocking(write_end, False)
        self._wakeup = (read_end, write_end)
        self._previous_wakeup_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Give SIGINT and SIGTERM (and the wakeup fd) back to whoever had them."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None

    def _count_delivered(self) -> int:
        """How many SIGINT/SIGTERM arrived since the last look (at least the one being handled)."""
        delivered = 0
        if self._wakeup is not None:
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(self._wakeup[0], 64):
                    delivered += sum(1 for signum in chunk if signum in _SIGNALS)
        return max(delivered, 1)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        # Each signal counted draws the next number, in one step (next() on a count): a handler
        # may run inside another, between any two of its bytecodes, and with `received +=
        # delivered` a count read before the inner handler and written back after it lost the
        # inner one's signal: both were then the first, two warm shutdowns and no cold one.
        last = 0
        for _ in range(self._count_delivered()):
            last = next(self._ordinals)
        if last == 1:
            logger.warning(
                "worker %s: got %s: warm shut down requested (the current job finishes)",
                self.name,
                name,
            )
            self.request_stop(signum, frame)
            return
        logger.warning("worker %s: got %s again: cold shut down (the current job is killed)", self.name, name)
        self.request_force_stop(signum, frame)
