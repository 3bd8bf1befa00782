"""Keeping a working worker's record, and its running job's lease, alive."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from jq.base.threads import start_background_thread
from jq.broker import Broker
from jq.core.outage import describe_outage
from jq.worker.store_watch import StoreWatch

__all__ = ["WorkerHeartbeat"]

logger = logging.getLogger("jq.worker")


class WorkerHeartbeat:
    """A background thread that calls ``renew`` every ``interval`` seconds: the worker's
    :meth:`~jq.worker.base.BaseWorker.renew`, which renews the lease of the job the worker runs
    (if any) and the worker's record.

    One thread for the worker's whole life, so running a job costs no thread start; the job itself
    (in process or in a work horse) never has to cooperate. A beat holds ``fork_guard`` (the
    worker's :attr:`~jq.worker.base.BaseWorker.fork_guard`), so a work horse is never forked while this
    thread is in the middle of a call to the store. ``watch``, when given, is told how each beat
    went (see :mod:`jq.worker.store_watch`).

    ``broker``'s transient errors (an outage, a full store) are logged once, without a traceback,
    until a beat goes through again; any other error is logged with its traceback at each beat.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        renew: Callable[[], None],
        fork_guard: AbstractContextManager[Any],
        watch: StoreWatch | None = None,
        *,
        broker: Broker | None = None,
    ) -> None:
        self.name, self.interval, self.renew, self.fork_guard = name, interval, renew, fork_guard
        self.watch = watch
        self.broker = broker
        # Whether the last beat failed on one of the broker's transient errors (said once).
        self._failing = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start beating."""
        self._thread = start_background_thread(self._beat, f"jq-heartbeat-{self.name}")

    def stop(self) -> None:
        """Stop beating and wait for the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()

    def beat_now(self) -> None:
        """Beat at once rather than at the next interval (safe from a signal handler: it only
        sets an event)."""
        self._wake.set()

    def _beat(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            watch = self.watch
            transient = self.broker.transient_errors if self.broker is not None else ()
            try:
                with self.fork_guard:
                    if watch is not None:
                        watch.calling()
                    self.renew()
            except transient as error:
                if watch is not None:
                    watch.failed()
                # The store is away or full: the next beat tries again. Said once, not each beat.
                assert self.broker is not None
                if not self._failing:
                    logger.warning(
                        "worker %s: heartbeat failed: %s", self.name, describe_outage(self.broker, error)
                    )
                    self._failing = True
            except Exception:
                if watch is not None:
                    watch.failed()
                logger.warning("worker %s: heartbeat failed", self.name, exc_info=True)
            else:
                if watch is not None:
                    watch.answered()
                if self._failing:
                    logger.warning("worker %s: heartbeats go through again", self.name)
                    self._failing = False
