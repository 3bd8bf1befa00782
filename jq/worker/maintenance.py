"""Periodic chores of a worker: abandoned jobs, expired registry entries, due scheduled jobs
(with ``with_scheduler``, through a :class:`jq.scheduler.Scheduler`), cron ticks (with ``cron``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from jq.broker import Place, PlaceKind
from jq.scheduler import DEFAULT_SCHEDULER_INTERVAL, Scheduler, scheduler_lock_name

if TYPE_CHECKING:
    from jq.cron import CronScheduler
    from jq.worker.base import BaseWorker

__all__ = ["Maintenance"]

logger = logging.getLogger("jq.worker")

#: Seconds a scheduled job may be overdue before a worker without scheduler warns about it.
OVERDUE_WARNING_SECONDS = 60.0


class Maintenance:
    """Runs each chore when it is due; :meth:`tick` returns the seconds until the next one."""

    def __init__(
        self,
        worker: BaseWorker,
        interval: float,
        with_scheduler: bool = False,
        cron: CronScheduler | None = None,
    ) -> None:
        self.worker = worker
        self.interval = interval
        self.scheduler = Scheduler(worker.queues, worker.broker, name=worker.name) if with_scheduler else None
        self.cron = cron
        self._next_cleanup = 0.0
        self._next_schedule = 0.0
        self._warned_overdue: set[str] = set()

    @property
    def with_scheduler(self) -> bool:
        """Whether this worker schedules its queues' due jobs."""
        return self.scheduler is not None

    def tick(self) -> float:
        """Run what is due; seconds until something is due again."""
        now = time.monotonic()
        if (self.scheduler is not None or self.cron is not None) and now >= self._next_schedule:
            if self.scheduler is not None:
                self.scheduler.tick()
            if self.cron is not None:
                self.cron.tick()
            self._next_schedule = now + DEFAULT_SCHEDULER_INTERVAL
        if now >= self._next_cleanup:
            self.clean_registries()
            self._next_cleanup = now + self.interval
        due = [self._next_cleanup]
        if self.scheduler is not None or self.cron is not None:
            due.append(self._next_schedule)
        return max(min(due) - time.monotonic(), 0.0)

    def stop(self) -> None:
        """Give up the scheduler locks, so another worker's scheduler takes over at once."""
        if self.scheduler is not None:
            self.scheduler.release()

    def clean_registries(self) -> None:
        """End abandoned jobs and drop expired entries of every registry of the worker's queues."""
        for queue in self.worker.queues:
            abandoned = queue.started_job_registry.cleanup(worker=self.worker)
            if abandoned:
                logger.warning(
                    "queue %s: ended %d abandoned job(s): %s",
                    queue.name,
                    len(abandoned),
                    ", ".join(abandoned),
                )
            for registry in (
                queue.finished_job_registry,
                queue.failed_job_registry,
                queue.canceled_job_registry,
            ):
                registry.cleanup()
            if self.scheduler is None:
                self._warn_if_nobody_schedules(queue.name)

    def _warn_if_nobody_schedules(self, queue: str) -> None:
        """Overdue scheduled jobs and no active scheduler: say how to start one (once per queue)."""
        if queue in self._warned_overdue:
            return
        broker = self.worker.broker
        overdue = broker.registry_expired(
            Place(PlaceKind.SCHEDULED, queue), time.time() - OVERDUE_WARNING_SECONDS
        )
        if overdue and broker.lock_owner(scheduler_lock_name(queue)) is None:
            logger.warning(
                "queue %s: %d scheduled job(s) are overdue and no scheduler runs: start a worker with "
                "--with-scheduler (work(with_scheduler=True)) or a jq.scheduler.Scheduler",
                queue,
                len(overdue),
            )
            self._warned_overdue.add(queue)
