"""Periodic chores of a worker: abandoned jobs, expired registry entries, due scheduled jobs."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from jq import lifecycle

if TYPE_CHECKING:
    from jq.worker.base import BaseWorker

__all__ = ["Maintenance"]

logger = logging.getLogger("jq.worker")

#: Seconds between two looks for due scheduled jobs, for a worker with a scheduler.
SCHEDULER_INTERVAL = 1.0


class Maintenance:
    """Runs each chore when it is due; :meth:`tick` returns the seconds until the next one."""

    def __init__(self, worker: BaseWorker, interval: float, with_scheduler: bool = False) -> None:
        self.worker = worker
        self.interval = interval
        self.with_scheduler = with_scheduler
        self._next_cleanup = 0.0
        self._next_promotion = 0.0

    def tick(self) -> float:
        """Run what is due; seconds until something is due again."""
        now = time.monotonic()
        if self.with_scheduler and now >= self._next_promotion:
            self.promote_scheduled()
            self._next_promotion = now + SCHEDULER_INTERVAL
        if now >= self._next_cleanup:
            self.clean_registries()
            self._next_cleanup = now + self.interval
        due = [self._next_cleanup] + ([self._next_promotion] if self.with_scheduler else [])
        return max(min(due) - time.monotonic(), 0.0)

    def promote_scheduled(self) -> int:
        """Queue every due scheduled job of the worker's queues; how many."""
        count = 0
        for queue in self.worker.queues:
            now = time.time()
            count += len(self.worker.broker.promote_scheduled(queue.name, now, lifecycle.released_fields()))
        return count

    def clean_registries(self) -> None:
        """End abandoned jobs and drop expired entries of every registry of the worker's queues."""
        for queue in self.worker.queues:
            abandoned = queue.started_job_registry.cleanup()
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
