"""Signals: the first SIGINT/SIGTERM asks for a warm shutdown, the second for a cold one."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jq.worker.base import BaseWorker

__all__ = ["ShutdownSignals"]

logger = logging.getLogger("jq.worker")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownSignals:
    """Installs the worker's SIGINT/SIGTERM handlers (main thread only) and restores the old ones.

    First signal: warm shutdown: the current job finishes, no new job is taken. Any later signal:
    cold shutdown: the running job is killed now (and still recorded, as failed).
    """

    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Take over SIGINT and SIGTERM, when running in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Give SIGINT and SIGTERM back to whoever had them."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.worker.stop_requested:
            logger.warning(
                "worker %s: got %s: warm shut down requested (the current job finishes)",
                self.worker.name,
                name,
            )
            self.worker.request_stop()
            return
        logger.warning(
            "worker %s: got %s again: cold shut down (the current job is killed)", self.worker.name, name
        )
        self.worker.request_force_stop()
