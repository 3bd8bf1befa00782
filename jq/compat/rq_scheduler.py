"""RQ's scheduler class, ``rq.scheduler.RQScheduler``, over jq's :class:`jq.scheduler.Scheduler`.

Import these names from :mod:`jq.scheduler`. RQ's scheduler takes one lock per queue, moves due
jobs to their queues, and keeps a record of itself in Redis for dashboards. jq's does the first
two the same way (its lock is ``jq:lock:scheduler:<queue>``, see :meth:`RQScheduler.get_locking_key`)
and keeps no record: :meth:`RQScheduler.fetch` finds none, :attr:`RQScheduler.key` is None.
:meth:`RQScheduler.start` runs it in a thread of this process (RQ forks a process for it).
"""

from __future__ import annotations

import datetime
import enum
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from jq.base.logutils import setup_loghandlers
from jq.base.utils import ForkProcess, now, public_module
from jq.broker.clock import due_time_or_none
from jq.compat.helpers import parse_names
from jq.compat.rq_keys import rq_key_constant
from jq.core import lifecycle
from jq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from jq.exceptions import SchedulerNotFound
from jq.io.connections import resolve_broker
from jq.io.serializers import resolve_serializer
from jq.queueing.queue import Queue
from jq.queueing.registry import ScheduledJobRegistry
from jq.scheduling.scheduler import DEFAULT_LOCK_TTL, Scheduler

__all__ = [
    "SCHEDULER_KEY_TEMPLATE",
    "SCHEDULER_LOCKING_KEY_TEMPLATE",
    "ForkProcess",
    "RQScheduler",
    "SchedulerStatus",
    "run",
]

#: RQ's key of a scheduler's record, ``%`` its name: None, jq keeps no such record.
SCHEDULER_KEY_TEMPLATE: str | None = None
# SCHEDULER_LOCKING_KEY_TEMPLATE: the key of a queue's scheduler lock, ``%`` the queue name, in
# jq's Redis layout (RQ's is ``rq:scheduler-lock:%s``); built on first use by __getattr__ below.


_BATCH = 1000
# RQ retakes its locks when it has held them this long.
_REACQUIRE_AFTER = datetime.timedelta(minutes=10)


class SchedulerStatus(str, enum.Enum):
    """What an :class:`RQScheduler` is doing."""

    STARTED = "started"
    WORKING = "working"
    STOPPED = "stopped"


class RQScheduler:
    """Moves the due scheduled jobs of ``queues`` to their queues, as their one active scheduler
    (one lock per queue), every ``interval`` seconds. ``name`` names it in its lock tokens."""

    Status = SchedulerStatus

    def __init__(
        self,
        queues: Iterable[Queue | str],
        connection: Any,
        interval: float = 1,
        logging_level: str | int = logging.INFO,
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        serializer: Any = None,
        name: str | None = None,
    ) -> None:
        names = parse_names(queues)
        self.broker = resolve_broker(connection)
        self.interval = interval
        self.name: str = name or uuid.uuid4().hex
        self.hostname = socket.gethostname()
        self.created_at: datetime.datetime = now()
        self.pid = 0
        self.last_heartbeat: datetime.datetime | None = None
        self.lock_acquisition_time: datetime.datetime | None = None
        self.serializer = resolve_serializer(serializer)
        self.log = logging.getLogger("jq.scheduler")
        setup_loghandlers(
            level=logging_level, name="jq.scheduler", log_format=log_format, date_format=date_format
        )
        # A lock outlives two looks, so that a live scheduler never loses it between them.
        lock_ttl = max(DEFAULT_LOCK_TTL, 2 * interval + 1)
        self._scheduler = Scheduler(names, self.broker, interval=interval, lock_ttl=lock_ttl, name=self.name)
        self._scheduled_job_registries: list[ScheduledJobRegistry] = []
        self._status = SchedulerStatus.STOPPED
        self._thread: threading.Thread | None = None

    @property
    def connection(self) -> Any:
        """The client of the scheduler's store."""
        return self.broker.connection

    @property
    def acquired_locks(self) -> set[str]:
        """The queues this scheduler holds the lock of."""
        return set(self._scheduler.held_queues)

    @property
    def status(self) -> SchedulerStatus:
        """Stopped, started (between looks) or working (moving jobs)."""
        return self._status

    @property
    def key(self) -> str | None:
        """None: jq keeps no record of a scheduler."""
        return None

    @property
    def should_reacquire_locks(self) -> bool:
        """Whether the locks were taken more than ten minutes ago (or never)."""
        taken = self.lock_acquisition_time
        return taken is None or now() - taken > _REACQUIRE_AFTER

    @staticmethod
    def get_locking_key(name: str) -> str:
        """The key of queue ``name``'s scheduler lock (its value is the holder's token)."""
        return rq_key_constant(__name__, "SCHEDULER_LOCKING_KEY_TEMPLATE") % name

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        """Take (or keep) the lock of each queue nobody else holds; the queues whose lock it
        took. With ``auto_start``, :meth:`start` when it holds any and is not running."""
        held = {queue for queue in self._scheduler.queue_names if self._scheduler.hold(queue)}
        self.lock_acquisition_time = now()
        self.prepare_registries(sorted(held))
        if auto_start and held and self._thread is None:
            self.start()
        return held

    def prepare_registries(self, queue_names: list[str] | None = None) -> None:
        """The scheduled registries of ``queue_names`` (of the queues held when None)."""
        names = sorted(self.acquired_locks) if queue_names is None else queue_names
        self._scheduled_job_registries = [
            ScheduledJobRegistry(name, connection=self.broker) for name in names
        ]

    def enqueue_scheduled_jobs(self) -> None:
        """Move the due jobs of the queues held to their queues."""
        self._status = SchedulerStatus.WORKING
        try:
            for queue in sorted(self.acquired_locks):
                self.broker.promote_scheduled(queue, due_time_or_none(), lifecycle.released_fields(), _BATCH)
        finally:
            self._status = SchedulerStatus.STARTED

    def heartbeat(self) -> None:
        """Renew the locks held (a lock it lost is dropped)."""
        for queue in sorted(self.acquired_locks):
            self._scheduler.hold(queue)
        self.last_heartbeat = now()

    def release_locks(self) -> None:
        """Give up every lock held, so another scheduler takes over at once."""
        self._scheduler.release()

    def register_birth(self) -> None:
        """Note this process as the scheduler's (jq keeps no record of it)."""
        self.pid = os.getpid()
        self.last_heartbeat = now()

    def register_death(self) -> None:
        """Nothing to remove: jq keeps no record of a scheduler."""

    def to_dict(self) -> dict[str, Any]:
        """The scheduler's description (what RQ stores of it)."""
        return {
            "name": self.name,
            "hostname": self.hostname,
            "pid": self.pid,
            "queues": ",".join(self._scheduler.queue_names),
            "created_at": self.created_at.isoformat(),
            "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else "",
        }

    def save(self, pipeline: Any = None) -> None:
        """Nothing to store: jq keeps no record of a scheduler."""

    def restore(self, raw_data: dict[Any, Any]) -> None:
        """Set the description from :meth:`to_dict`'s data (text or bytes keys and values)."""

        def text(value: Any) -> str:
            return value.decode() if isinstance(value, bytes) else str(value)

        data = {text(key): text(value) for key, value in raw_data.items()}
        self.hostname = data.get("hostname", self.hostname)
        self.pid = int(data.get("pid") or 0)
        if data.get("created_at"):
            self.created_at = datetime.datetime.fromisoformat(data["created_at"])
        if data.get("last_heartbeat"):
            self.last_heartbeat = datetime.datetime.fromisoformat(data["last_heartbeat"])

    @classmethod
    def fetch(cls, name: str, connection: Any) -> RQScheduler:
        """Refused with :class:`SchedulerNotFound`: jq keeps no record of schedulers by name."""
        raise SchedulerNotFound(f"no scheduler named {name!r}: jq keeps no record of running schedulers")

    def request_stop(self, signum: Any = None, frame: Any = None) -> None:
        """Stop :meth:`work` after the current look."""
        self._scheduler.request_stop()

    def work(self) -> None:
        """Look for due jobs every ``interval`` until stopped, then release the locks."""
        self.register_birth()
        self._status = SchedulerStatus.STARTED
        try:
            self._scheduler.work()
        finally:
            self._status = SchedulerStatus.STOPPED
            self.register_death()

    def start(self) -> threading.Thread:
        """Run :meth:`work` in a daemon thread of this process; the thread."""
        self._thread = threading.Thread(target=self.work, name=f"jq-scheduler-{self.name}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Stop, release the locks and wait for :meth:`start`'s thread to end."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.release_locks()
        self._status = SchedulerStatus.STOPPED


def run(scheduler: RQScheduler) -> None:
    """Run ``scheduler`` until it is stopped (what RQ runs in the scheduler's process)."""
    scheduler.log.info(
        "scheduler for %s started with pid %s", ",".join(scheduler.acquired_locks), os.getpid()
    )
    scheduler.work()


SCHEDULER_LOCKING_KEY_TEMPLATE: str  # built on first use by __getattr__


def __getattr__(name: str) -> str:
    """RQ's key-name constants, built on first use (see :mod:`jq.compat.rq_keys`)."""
    return rq_key_constant(__name__, name)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.scheduler", SchedulerStatus, RQScheduler)
