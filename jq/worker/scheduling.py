"""A worker's scheduling, in a background thread: due scheduled jobs and cron ticks.

A worker given ``with_scheduler`` queues the due scheduled jobs of its queues (and renews its
scheduler locks every second); one given ``cron=`` fires its cron ticks. Both must go on while the
worker runs a job, however long that job takes: a lock not renewed passes to another scheduler
while this one still believes it holds it, and a tick not looked at is fired late or not at all.
So they run in a thread of their own, not between jobs.

Each look holds the worker's :attr:`~jq.worker.base.BaseWorker.fork_guard`, like the heartbeat,
so a work horse is never forked while this thread is in the middle of a call to the store. A
look that fails (the store is unreachable, or anything else) is logged and tried again at the
next one; the thread only stops when the worker does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from jq.base.threads import start_background_thread
from jq.broker import Broker
from jq.core.outage import describe_outage
from jq.scheduling.scheduler import DEFAULT_SCHEDULER_INTERVAL

if TYPE_CHECKING:
    from jq.scheduling.cron import CronScheduler
    from jq.scheduling.scheduler import Scheduler

__all__ = ["WorkerScheduling"]

logger = logging.getLogger("jq.worker")

# The shortest wait between two looks (a cron tick due "now" is not looked for in a busy loop).
_MIN_WAIT = 0.01


class WorkerScheduling:
    """Runs a worker's :class:`~jq.scheduler.Scheduler` every ``interval`` seconds and fires its
    :class:`~jq.cron.CronScheduler`'s ticks as they come, in a background thread.

    :meth:`start` looks once in the caller's thread first, so a burst worker finds the jobs that
    are due already; :meth:`stop` ends the thread and gives the scheduler locks back. ``name``
    (the worker's) names the thread and the log lines; each look holds ``fork_guard``, the
    worker's, and an error of ``broker`` that says the store is unreachable is logged once.
    """

    def __init__(
        self,
        name: str,
        broker: Broker,
        fork_guard: AbstractContextManager[Any],
        scheduler: Scheduler | None,
        cron: CronScheduler | None,
        interval: float = DEFAULT_SCHEDULER_INTERVAL,
    ) -> None:
        self.name, self.broker, self.fork_guard = name, broker, fork_guard
        self.scheduler = scheduler
        self.cron = cron
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_schedule = 0.0
        # What is failing now, so an outage is reported once and its end once.
        self._failing: set[str] = set()

    @property
    def active(self) -> bool:
        """Whether there is anything to schedule (a scheduler, a cron, or both)."""
        return self.scheduler is not None or self.cron is not None

    def start(self) -> None:
        """Look once now, then keep looking in a background thread until :meth:`stop`."""
        if not self.active:
            return
        self._stop.clear()
        delay = self.look()
        self._thread = start_background_thread(lambda: self._run(delay), f"jq-scheduling-{self.name}")

    def stop(self) -> None:
        """Stop looking, wait for the thread, and give up the scheduler locks held."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()
        self._thread = None
        if self.scheduler is not None:
            # Another worker's scheduler takes over at once (an unreachable store: the lock
            # expires by itself).
            self.scheduler.release()

    def look(self) -> float:
        """Queue due jobs and renew the locks (when ``interval`` passed since the last time) and
        fire due cron ticks; the seconds until the next look is due."""
        now = time.monotonic()
        delay = self.interval
        if self.scheduler is not None:
            if now >= self._next_schedule:
                self._guarded("scheduler", self.scheduler.tick)
                self._next_schedule = now + self.interval
            delay = self._next_schedule - time.monotonic()
        # A failed cron look waits the whole interval: an outage is not retried in a busy loop.
        if self.cron is not None and self._guarded("cron", self.cron.tick):
            delay = min(delay, self.cron.seconds_to_next_tick())
        return max(delay, _MIN_WAIT)

    def _run(self, delay: float) -> None:
        while not self._stop.wait(delay):
            delay = self.look()

    def _guarded(self, what: str, call: Callable[[], object]) -> bool:
        """Run ``call`` holding the fork guard; log its failure instead of raising. Whether it
        succeeded."""
        try:
            with self.fork_guard:
                call()
        except self.broker.transient_errors as error:
            if what not in self._failing:
                logger.warning(
                    "worker %s: %s: %s; trying again every %ss",
                    self.name,
                    what,
                    describe_outage(self.broker, error),
                    self.interval,
                )
                self._failing.add(what)
            return False
        except Exception:
            logger.exception("worker %s: %s failed; trying again at the next look", self.name, what)
            return False
        if what in self._failing:
            logger.warning("worker %s: %s: the store answers again", self.name, what)
            self._failing.discard(what)
        return True
