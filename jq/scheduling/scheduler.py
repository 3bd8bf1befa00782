"""The scheduler: queues jobs from the scheduled registry once they are due.

Jobs wait in their queue's scheduled registry when they were enqueued with ``enqueue_at`` /
``enqueue_in`` or when a retry waits for its interval. A scheduler moves each due job to its queue
in one atomic step, so two schedulers can never queue a job twice. Still, one scheduler per queue
is active at a time: it holds the queue's scheduler lock and renews it every ``interval`` (a
compare-and-extend: a scheduler that lost its lock stops at once); if it dies, another takes the
lock over within ``lock_ttl`` seconds.

Run it inside workers (``worker.work(with_scheduler=True)``, ``jqueue worker --with-scheduler``) or
on its own (``Scheduler(["default"], connection=redis).work()``). Due times are stored in
UTC; a naive ``datetime`` given to ``enqueue_at`` is local time, as in RQ.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from jq.base.utils import public_module, validate_queue_name
from jq.broker import Broker
from jq.broker.clock import due_time_or_none
from jq.core import lifecycle
from jq.exceptions import ConfigurationError
from jq.io.connections import resolve_broker
from jq.queueing.queue import Queue
from jq.queueing.queue_internals import scheduler_lock_name
from jq.scheduling.periodic import run_until_stopped

__all__ = ["DEFAULT_LOCK_TTL", "DEFAULT_SCHEDULER_INTERVAL", "Scheduler", "scheduler_lock_name"]

logger = logging.getLogger("jq.scheduler")

#: Seconds between two looks for due jobs.
DEFAULT_SCHEDULER_INTERVAL = 1.0
#: Seconds a scheduler's lock lasts without renewal: a dead scheduler is replaced within this.
DEFAULT_LOCK_TTL = 10.0
# How many due jobs one promotion moves at most; the rest go on the next look, moments later.
_BATCH = 1000


class Scheduler:
    """Queues due scheduled jobs of ``queues``, as their one active scheduler.

    :param queues: queue names or :class:`Queue` objects.
    :param connection: as for a Queue (taken from the first Queue object when not given).
    :param interval: seconds between looks for due jobs.
    :param lock_ttl: seconds a lock lasts without renewal (more than ``interval``).
    :param name: names the scheduler in its lock tokens (a worker passes its own name).
    """

    def __init__(
        self,
        queues: Iterable[Queue | str] | str,
        connection: Any = None,
        interval: float = DEFAULT_SCHEDULER_INTERVAL,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        name: str | None = None,
    ) -> None:
        items = [queues] if isinstance(queues, str | Queue) else list(queues)
        if not items:
            raise ConfigurationError("a scheduler needs at least one queue")
        if lock_ttl <= interval:
            raise ConfigurationError(f"lock_ttl ({lock_ttl}) must be longer than interval ({interval})")
        if connection is None:
            connection = next((item.broker for item in items if isinstance(item, Queue)), None)
        self.broker: Broker = resolve_broker(connection)
        self.queue_names = [
            item.name if isinstance(item, Queue) else validate_queue_name(item) for item in items
        ]
        self.interval = interval
        self.lock_ttl = lock_ttl
        # Who holds a lock, readable by operators: name, host, pid, and a unique part.
        self.token = f"{name or 'scheduler'}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: set[str] = set()
        self._stop = threading.Event()

    @property
    def held_queues(self) -> list[str]:
        """The queues this scheduler is the active scheduler of now."""
        return sorted(self._held)

    def tick(self, now: float | None = None) -> int:
        """Renew or take each queue's lock, and queue the due jobs of the queues held; how many.

        Due by ``now`` when given, else by the store's clock (read by the store itself, so that
        a scheduler whose machine's clock is ahead does not queue jobs early), or by the clock a
        test installed (:mod:`jq.clock`)."""
        moment = due_time_or_none() if now is None else now
        promoted = 0
        for queue in self.queue_names:
            if self._hold(queue):
                promoted += len(
                    self.broker.promote_scheduled(queue, moment, lifecycle.released_fields(), _BATCH)
                )
        return promoted

    def hold(self, queue: str) -> bool:
        """Take the lock of ``queue``, or renew it if this scheduler holds it; whether it does."""
        return self._hold(queue)

    def _hold(self, queue: str) -> bool:
        lock = scheduler_lock_name(queue)
        if queue in self._held:
            if self.broker.extend_lock(lock, self.token, self.lock_ttl):
                return True
            self._held.discard(queue)
            logger.warning(
                "scheduler %s: lost the lock of queue %s; another scheduler has it", self.token, queue
            )
        if self.broker.acquire_lock(lock, self.token, self.lock_ttl):
            self._held.add(queue)
            logger.info("scheduler %s: now the active scheduler of queue %s", self.token, queue)
            return True
        return False

    def release(self) -> None:
        """Give up every lock held, so another scheduler takes over at once."""
        for queue in list(self._held):
            # Unreachable store: the lock expires by itself.
            with contextlib.suppress(*self.broker.transient_errors):
                self.broker.release_lock(scheduler_lock_name(queue), self.token)
            self._held.discard(queue)

    def request_stop(self) -> None:
        """Stop :meth:`work` after the current look."""
        self._stop.set()

    def work(self) -> None:
        """Look for due jobs every ``interval`` until stopped (SIGINT/SIGTERM in the main thread)."""
        logger.info("scheduler %s: scheduling %s", self.token, ", ".join(self.queue_names))

        def step() -> float:
            self.tick()
            return self.interval

        try:
            run_until_stopped(step, self._stop, self.broker, f"scheduler {self.token}")
        finally:
            self.release()
            logger.info("scheduler %s: stopped", self.token)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.scheduler", Scheduler)
