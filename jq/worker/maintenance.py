"""Periodic chores of a worker: abandoned jobs, expired registry entries and the ids of jobs
that are gone from job groups, between jobs; due scheduled jobs (with ``with_scheduler``, through
a :class:`jq.scheduler.Scheduler`) and cron ticks (with ``cron``) all the time, in a background
thread (:mod:`jq.worker.scheduling`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jq.broker import Broker, Place, PlaceKind
from jq.broker.clock import due_time
from jq.core import giving_back
from jq.core.group import Group
from jq.core.rate_limit import clean_rate_limits
from jq.exceptions import StoreDataError
from jq.scheduling.scheduler import Scheduler, scheduler_lock_name
from jq.worker.scheduling import WorkerScheduling
from jq.worker.store_watch import StoreWatch

if TYPE_CHECKING:
    from jq.queueing.queue import Queue
    from jq.scheduling.cron import CronScheduler

__all__ = ["Maintenance"]

logger = logging.getLogger("jq.worker")

#: Seconds a scheduled job may be overdue before a worker without scheduler warns about it.
OVERDUE_WARNING_SECONDS = 60.0


class Maintenance:
    """Cleans the registries of ``queues`` every ``interval`` seconds when the loop calls
    :meth:`tick` (between jobs), and schedules in the background from :meth:`start` to
    :meth:`stop`.

    What it needs of its worker: ``name``, the ``broker``, ``run_tasks`` (the worker's
    ``run_maintenance_tasks``, bound: a worker class may override it), its ``fork_guard``, and
    ``reporter``, the worker the ``jq_job_failed`` hook is told ended an abandoned job (see
    :meth:`jq.registry.StartedJobRegistry.cleanup`). With ``store_watch``, abandoned jobs are
    ended only once the store has answered the worker's heartbeats steadily for ``lease_grace``
    seconds (see :mod:`jq.worker.store_watch`): after an outage, live owners renew first.
    """

    def __init__(
        self,
        name: str,
        broker: Broker,
        queues: Sequence[Queue],
        interval: float,
        *,
        run_tasks: Callable[[], None] | None = None,
        fork_guard: Any = None,
        reporter: Any = None,
        with_scheduler: bool = False,
        cron: CronScheduler | None = None,
        store_watch: StoreWatch | None = None,
        lease_grace: float = 0.0,
    ) -> None:
        self.name, self.broker, self.queues, self.interval = name, broker, list(queues), interval
        self.store_watch, self.lease_grace = store_watch, lease_grace
        self._waiting_out_outage = False
        self.run_tasks = self.clean_registries if run_tasks is None else run_tasks
        self.reporter = reporter
        scheduler = Scheduler(self.queues, broker, name=name) if with_scheduler else None
        #: Due scheduled jobs and cron ticks, in a background thread while the worker works.
        self.scheduling = WorkerScheduling(
            name, broker, threading.Lock() if fork_guard is None else fork_guard, scheduler, cron
        )
        self._next_cleanup = 0.0
        self._warned_overdue: set[str] = set()
        # (chore, error type) of the chores failing now: each is logged once, not every interval.
        self._failing: set[tuple[str, str]] = set()

    @property
    def scheduler(self) -> Scheduler | None:
        """The worker's scheduler (``with_scheduler``), or None."""
        return self.scheduling.scheduler

    @property
    def cron(self) -> CronScheduler | None:
        """The worker's cron scheduler (``cron=``), or None."""
        return self.scheduling.cron

    @property
    def with_scheduler(self) -> bool:
        """Whether this worker schedules its queues' due jobs."""
        return self.scheduler is not None

    def start(self) -> None:
        """Start scheduling (due jobs and cron ticks are looked at once now, then in the
        background); nothing without a scheduler or a cron."""
        self.scheduling.start()

    def tick(self) -> float:
        """Run the worker's maintenance tasks if it is time (its ``run_maintenance_tasks()``,
        which cleans the registries); seconds until it is time again."""
        now = time.monotonic()
        if now >= self._next_cleanup:
            self.run_tasks()
            self._next_cleanup = now + self.interval
        return max(self._next_cleanup - time.monotonic(), 0.0)

    def stop(self) -> None:
        """Stop scheduling and give up the scheduler locks, so another worker's scheduler takes
        over at once."""
        self.scheduling.stop()

    def clean_registries(self) -> None:
        """End abandoned jobs, drop expired entries of every registry of the worker's queues, and
        settle jobs that wait for jobs that no longer exist.

        Each chore of each queue runs on its own: one that raises (bad data the store holds) is
        logged and the others run all the same; the store's transient errors are raised, for the
        worker to wait the outage out."""
        reap = self._may_end_abandoned_jobs()
        for queue in self.queues:
            name = queue.name
            if reap:
                self._isolated(f"queue {name}: ending abandoned jobs", self._end_abandoned, queue)
                self._isolated(
                    f"queue {name}: returning abandoned reservations", self._return_reservations, queue
                )
            for kind, registry in (
                ("finished", queue.finished_job_registry),
                ("failed", queue.failed_job_registry),
                ("canceled", queue.canceled_job_registry),
            ):
                self._isolated(f"queue {name}: cleaning the {kind} registry", registry.cleanup)
            self._isolated(f"queue {name}: settling orphaned dependents", self._settle_orphans, queue)
            if self.scheduler is None:
                self._isolated(
                    f"queue {name}: looking for overdue jobs", self._warn_if_nobody_schedules, name
                )
        self._isolated("cleaning job groups", self.clean_groups)
        self._isolated("cleaning rate limits", self.clean_rate_limits)

    def _isolated(self, what: str, chore: Callable[..., object], *args: Any) -> None:
        """Run one chore, ``chore(*args)``; an error other than the store's transient ones is
        logged (once per chore and kind of error while it repeats) instead of stopping the worker."""
        try:
            chore(*args)
        except self.broker.transient_errors:
            raise
        except Exception as error:
            failure = (what, type(error).__name__)
            if failure in self._failing:
                logger.debug("worker %s: %s failed again: %s", self.name, what, error)
            else:
                self._failing.add(failure)
                if isinstance(error, StoreDataError):
                    # Bad data in the store, which the message names: a traceback would say a bug.
                    logger.error("worker %s: %s failed; the other chores go on: %s", self.name, what, error)
                else:
                    logger.exception("worker %s: %s failed; the other chores go on", self.name, what)
        else:
            self._failing = {failure for failure in self._failing if failure[0] != what}

    def _end_abandoned(self, queue: Queue) -> None:
        abandoned = queue.started_job_registry.cleanup(worker=self.reporter)
        if abandoned:
            logger.warning(
                "queue %s: ended %d abandoned job(s): %s", queue.name, len(abandoned), ", ".join(abandoned)
            )

    def _return_reservations(self, queue: Queue) -> None:
        if not self.broker.supports_reservations:
            return
        returned = giving_back.return_abandoned_reservations(self.broker, queue.name)
        if returned:
            logger.warning(
                "queue %s: %d job(s) whose reservation ran out (the worker that reserved them stopped "
                "without giving them back) went back to the front of the queue: %s",
                queue.name, len(returned), ", ".join(returned),
            )  # fmt: skip

    def _settle_orphans(self, queue: Queue) -> None:
        orphans = queue.deferred_job_registry.cleanup()
        if orphans:
            logger.warning(
                "queue %s: %d job(s) waited for jobs that no longer exist (expired or deleted) and "
                "were canceled, or released if they allow failure: %s",
                queue.name,
                len(orphans),
                ", ".join(orphans),
            )

    def _may_end_abandoned_jobs(self) -> bool:
        """Whether expired leases can be trusted now (see :mod:`jq.worker.store_watch`)."""
        wait = 0.0 if self.store_watch is None else self.store_watch.quiet_for(self.lease_grace)
        if wait > 0 and not self._waiting_out_outage:
            logger.warning(
                "worker %s: the store did not answer for a while: jobs whose lease ran out meanwhile are "
                "ended as abandoned only after it has answered steadily for %ss, so that the workers "
                "running them can renew their leases first",
                self.name, self.lease_grace,
            )  # fmt: skip
        self._waiting_out_outage = wait > 0
        return wait <= 0

    def clean_rate_limits(self) -> None:
        """Free the rate-limit slots no job holds any more (a job whose record expired while it
        was queued, a worker that died), queueing the jobs waiting for them: one worker of the
        store at a time, at most once per interval."""
        admitted = clean_rate_limits(self.broker, max(int(self.interval), 1))
        if admitted:
            logger.warning(
                "rate limits: slots held by no job were freed; %d waiting job(s) queued: %s",
                len(admitted), ", ".join(admitted),
            )  # fmt: skip

    def clean_groups(self) -> None:
        """Drop from every job group the ids of jobs that are gone (a group left without jobs no
        longer exists): one worker of the store at a time, at most once per interval."""
        broker = self.broker
        if broker.supports_groups and Group.acquire_maintenance_lock(broker, max(int(self.interval), 1)):
            Group.clean_registries(broker)

    def _warn_if_nobody_schedules(self, queue: str) -> None:
        """Overdue scheduled jobs and no active scheduler: say how to start one (once per queue)."""
        if queue in self._warned_overdue:
            return
        broker = self.broker
        overdue = broker.registry_expired(
            Place(PlaceKind.SCHEDULED, queue), due_time(broker) - OVERDUE_WARNING_SECONDS
        )
        if overdue and broker.lock_owner(scheduler_lock_name(queue)) is None:
            logger.warning(
                "queue %s: %d scheduled job(s) are overdue and no scheduler runs: start a worker with "
                "--with-scheduler (work(with_scheduler=True)) or a jq.scheduler.Scheduler",
                queue,
                len(overdue),
            )
            self._warned_overdue.add(queue)
