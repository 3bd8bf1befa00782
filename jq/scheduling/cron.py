"""Periodic jobs: cron strings and plain intervals, fired exactly once per tick.

Describe the jobs in jq's way, on a :class:`Cron`::

    # cron_config.py
    from jq.scheduling.cron import Cron
    cron = Cron()
    cron.register("reports.nightly", cron="0 3 * * *", timezone="Europe/Riga", queue="low")
    cron.register("health.ping", interval=30)

or in RQ's, with :func:`register` (RQ's ``rq.cron.register``; timing as RQ documents it: cron
strings in local time, an interval job firing when the scheduler starts, then every interval)::

    from jq.scheduling import cron
    cron.register(health.ping, queue_name="default", interval=30)

and run a :class:`CronScheduler` for it anywhere — in as many processes as you like
(``jqueue cron cron_config``, workers given ``cron=``, or ``CronScheduler(connection)`` with
:meth:`~CronScheduler.load_config_from_file` and :meth:`~CronScheduler.start`, RQ's way). Each
tick is enqueued exactly once, whoever fires it: the enqueue and the advance of the tick's marker
are one atomic step. There is no leader to lose: while at least one scheduler runs, no tick is
missed. Ticks that passed while no scheduler looked are fired late, oldest first, each once, as
long as they are at most ``misfire_grace`` seconds late; older ones are skipped (an interval job of
RQ's timing then fires at once and counts its interval from there). A job that never fired before
fires its latest tick only (with RQ's timing: an interval job at once, a cron string from its first
tick after the scheduler started).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jq.base.logutils import setup_logging
from jq.base.utils import now as utc_now
from jq.base.utils import public_module
from jq.broker import Broker
from jq.core.job import Job
from jq.defaults import DEFAULT_RESULT_TTL
from jq.exceptions import NoConnectionError
from jq.io.connections import resolve_broker
from jq.io.serializers import resolve_serializer
from jq.queueing.queue import Queue
from jq.scheduling.cron_entries import (
    DEFAULT_MISFIRE_GRACE,
    TIMINGS,
    Cron,
    CronJob,
    enqueue_options,
    local_timezone,
    no_cron_history,
)
from jq.scheduling.cron_loading import config_errors, load_cron, load_cron_parts, register, take_registered
from jq.scheduling.cron_scheduler_registry import UnregisteredScheduler
from jq.scheduling.periodic import run_until_stopped

__all__ = [
    "DEFAULT_MISFIRE_GRACE",
    "TIMINGS",
    "Cron",
    "CronJob",
    "CronScheduler",
    "create_cron",
    "get_cron_job_history_key",
    "get_cron_job_ids",
    "load_cron",
    "local_timezone",
    "register",
]

logger = logging.getLogger("jq.cron")

_UTC = datetime.timezone.utc
# How long a scheduler may hold the lock under which an interval job of RQ's timing starts (or
# starts again): longer than one enqueue, short enough that a crash holding it delays little.
_START_LOCK_TTL = 30.0
# RQ's longest sleep between two looks.
_MAX_SLEEP = 60.0


def get_cron_job_history_key(name: str) -> str:
    """Refused: jq keeps no history of the jobs a cron job enqueued (see
    :meth:`CronJob.get_job_ids`)."""
    raise no_cron_history()


def get_cron_job_ids(name: str, connection: Any = None, start: int = 0, end: int = -1) -> list[str]:
    """Refused: jq keeps no history of the jobs a cron job enqueued (see
    :meth:`CronJob.get_job_ids`)."""
    raise no_cron_history()


class CronScheduler(UnregisteredScheduler):
    """Fires the due ticks of a :class:`Cron`; run as many as you like, each tick fires once.

    RQ's form, ``CronScheduler(connection, logging_level="INFO", name="")``, starts with no jobs:
    add them with :meth:`register` or :meth:`load_config_from_file`, then :meth:`start`. jq's form
    gives the jobs at once: ``CronScheduler(connection, cron=cron)`` (or ``CronScheduler(cron,
    connection)``), then :meth:`work` (the same as :meth:`start`).
    """

    def __init__(
        self,
        connection: Any = None,
        logging_level: Any = logging.INFO,
        name: str = "",
        *,
        cron: Cron | None = None,
    ) -> None:
        rq_form = not isinstance(connection, Cron)
        if not rq_form:
            # jq's older form CronScheduler(cron, connection): the connection came second.
            cron, connection = connection, None
            if not isinstance(logging_level, str | int):
                connection, logging_level = logging_level, logging.INFO
        self.cron: Cron = cron if cron is not None else Cron()
        self._queues: dict[str, Queue] = {}
        self._broker: Broker | None = None
        self._broker_of: Any = None
        #: What the scheduler connects with (RQ's ``connection``). Like RQ's, a scheduler may be
        #: made before it is known (django-rq's sets it at its first register): the store is
        #: found when the scheduler first needs it.
        self.connection: Any = connection
        if connection is None:
            with contextlib.suppress(NoConnectionError):
                self.connection = self.broker  # a Connection context, or JQ_URL
        self.hostname: str = socket.gethostname()
        self.pid: int = os.getpid()
        self.name: str = name or f"{self.hostname}:{self.pid}:{uuid.uuid4().hex[:6]}"
        #: The config the jobs were loaded from (:meth:`load_config_from_file`), else ``""``.
        self.config_file: str = ""
        self.created_at: datetime.datetime = utc_now()
        self.serializer = resolve_serializer(None)
        self.log = logger
        if rq_form and cron is None and not logger.hasHandlers():
            # As RQ's scheduler does: its lines are seen even where nothing set logging up.
            setup_logging(logger, logging_level)
        # Per marker: the latest tick this scheduler saw fired or skipped (a timestamp).
        self._seen: dict[str, float] = {}
        self._stop = threading.Event()

    @property
    def broker(self) -> Broker:
        """The store of :attr:`connection`, where the ticks are fired."""
        if self._broker is None or self._broker_of is not self.connection:
            self._broker, self._broker_of = resolve_broker(self.connection), self.connection
            self._queues.clear()
        return self._broker

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronScheduler) and self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"CronScheduler({self.name!r}, jobs={len(self.cron)})"

    # -- the jobs --------------------------------------------------------------------------------

    def register(
        self,
        func: Callable[..., Any],
        queue_name: str,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        interval: float | None = None,
        cron: str | None = None,
        job_timeout: int | str | None = None,
        result_ttl: int | str | None = DEFAULT_RESULT_TTL,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        meta: dict[str, Any] | None = None,
        webhooks: Sequence[Any] | None = None,
        name: str = "",
    ) -> CronJob:
        """Add a periodic job, as RQ's ``CronScheduler.register`` does (see :func:`register`)."""
        entry = self.cron.register_rq(
            func, queue_name, args=args, kwargs=kwargs, interval=interval, cron=cron,
            job_timeout=job_timeout, result_ttl=result_ttl, ttl=ttl, failure_ttl=failure_ttl,
            meta=meta, webhooks=webhooks, name=name,
        )  # fmt: skip
        logger.info("Registered %s", entry.describe())
        return entry

    def load_config_from_file(self, config_path: str) -> None:
        """Add every job of the cron config ``config_path`` (a module path or a file; see
        :func:`load_cron`)."""
        self.config_file = config_path
        logger.info("Loading cron configuration from %s", config_path)
        before = len(self.cron)
        module_cron, registered = load_cron_parts(config_path)
        self.cron.extend(module_cron)
        for entry in module_cron:
            logger.info("Registered %s", entry.describe())
        # Each register() call of the config goes through this scheduler's register, as in RQ,
        # so a subclass's override sees them (django-rq's sets its connection there).
        for data in registered:
            with config_errors(config_path, data):
                self.register(**data)
        logger.info("Successfully registered %d cron jobs from %r", len(self.cron) - before, config_path)

    def get_jobs(self) -> list[CronJob]:
        """The periodic jobs of this scheduler."""
        return list(self.cron)

    # -- firing ----------------------------------------------------------------------------------

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self.broker)
        return self._queues[name]

    def tick(self, now: datetime.datetime | None = None) -> list[Job]:
        """Enqueue every tick of each job that has not fired yet and is at most its
        ``misfire_grace`` late, oldest first; the jobs this call enqueued. Due by ``now`` when
        given, else by the store's clock, as every scheduler of the store counts: a scheduler
        whose machine's clock is ahead neither fires early nor moves a marker past ticks that
        the others have yet to fire."""
        return [job for _entry, jobs in self._fire_all(now or self._now()) for job in jobs]

    def enqueue_jobs(self) -> list[CronJob]:
        """Enqueue what is due now (RQ's name); the periodic jobs that were enqueued."""
        return [entry for entry, _jobs in self._fire_all(self._now())]

    def _now(self) -> datetime.datetime:
        """Now by the store's clock (:meth:`jq.broker.Broker.now`), as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.broker.now(), tz=_UTC)

    def _fire_all(self, moment: datetime.datetime) -> list[tuple[CronJob, list[Job]]]:
        """Each job that fired at ``moment``, with the jobs it enqueued."""
        fired: list[tuple[CronJob, list[Job]]] = []
        for entry in self.cron:
            jobs = self._fire_anchored(entry, moment) if _anchored(entry) else self._fire_due(entry, moment)
            if jobs:
                entry.set_enqueue_time(moment)
                fired.append((entry, jobs))
        return fired

    def _fire_due(self, entry: CronJob, moment: datetime.datetime) -> list[Job]:
        latest = entry.latest_tick(moment)
        seen = self._seen.get(entry.marker_name)
        if seen is not None and latest.timestamp() <= seen:
            # Every tick up to this one was fired (here or elsewhere) or skipped: no round trip.
            return []
        reached = self.broker.marker(_marker(entry))
        oldest = moment - datetime.timedelta(seconds=entry.misfire_grace)
        if reached is None:
            # Never fired: earlier ticks were not missed, they came before the job existed. With
            # RQ's timing, the first tick is the first one after the scheduler started.
            first = self.created_at if entry.timing == "rq" else oldest
            due = [latest] if latest >= max(oldest, first) else []
        else:
            after = datetime.datetime.fromtimestamp(reached, tz=_UTC)
            # A tick exactly misfire_grace late still fires: start just before the oldest moment.
            after = max(after, oldest - datetime.timedelta(microseconds=1))
            due = [tick for tick in entry.ticks_between(after, moment) if tick >= oldest]
        fired = [job for tick in due if (job := self._fire(entry, tick)) is not None]
        self._seen[entry.marker_name] = latest.timestamp()
        return fired

    def _fire_anchored(self, entry: CronJob, moment: datetime.datetime) -> list[Job]:
        """An interval job of RQ's timing: ticks every interval from the latest one fired (the
        marker), so every scheduler finds the same ones; when there is none yet, or each one due
        is more than ``misfire_grace`` late, the job starts again from now (see :meth:`_restart`)."""
        assert entry.interval is not None
        step, now = entry.interval, moment.timestamp()
        seen = self._seen.get(entry.marker_name)
        if seen is not None and now < seen + step:
            return []
        reached = self.broker.marker(_marker(entry))
        if reached is None:
            return self._restart(entry, moment)
        last = math.floor((now - reached) / step)
        if last < 1:  # the next tick has not come yet
            self._seen[entry.marker_name] = reached
            return []
        first = max(1, math.ceil((now - entry.misfire_grace - reached) / step))
        if first > last:
            return self._restart(entry, moment)
        ticks = [datetime.datetime.fromtimestamp(reached + k * step, tz=_UTC) for k in range(first, last + 1)]
        fired = [job for tick in ticks if (job := self._fire(entry, tick)) is not None]
        self._seen[entry.marker_name] = ticks[-1].timestamp()
        return fired

    def _restart(self, entry: CronJob, moment: datetime.datetime) -> list[Job]:
        """Fire an interval job of RQ's timing now and count its interval from here, under a lock:
        schedulers that start together must not each fire it."""
        lock, token = f"cron-start:{entry.marker_name}", uuid.uuid4().hex
        if not self.broker.acquire_lock(lock, token, _START_LOCK_TTL):
            return []  # another scheduler is starting it; its marker tells the next look
        try:
            reached = self.broker.marker(_marker(entry))
            assert entry.interval is not None
            oldest = moment.timestamp() - entry.misfire_grace
            if reached is not None and reached + entry.interval >= oldest:
                return []  # started (or fired on time) meanwhile: the next look fires what is due
            job = self._fire(entry, moment)
            self._seen[entry.marker_name] = moment.timestamp()
            return [job] if job is not None else []
        finally:
            self.broker.release_lock(lock, token)

    def _fire(self, entry: CronJob, tick: datetime.datetime) -> Job | None:
        queue = self._queue(entry.queue)
        job = queue.create_job(entry.func_path, args=entry.args, kwargs=entry.kwargs,
                               **enqueue_options(entry.job_options))  # fmt: skip
        job.meta.setdefault("cron", entry.name)
        job.meta.setdefault("cron_tick", tick.isoformat())
        # Refused when another scheduler fired this tick or a later one: the marker only moves
        # forward, and every scheduler fires ticks oldest first, so none is skipped.
        if not queue.enqueue_job_once(job, _marker(entry), tick.timestamp()):
            return None
        logger.info("cron %s: fired the tick of %s (job %s)", entry.name, tick.isoformat(), job.id)
        return job

    def seconds_to_next_tick(self, now: datetime.datetime | None = None) -> float:
        """Seconds until the soonest next tick of any job (from ``now``, else from now by the
        store's clock)."""
        moment = now or self._now()
        soonest = min((self._next_due(entry, moment) for entry in self.cron),
                      default=moment + datetime.timedelta(seconds=_MAX_SLEEP))  # fmt: skip
        return max((soonest - moment).total_seconds(), 0.0)

    def _next_due(self, entry: CronJob, moment: datetime.datetime) -> datetime.datetime:
        if not _anchored(entry):
            return entry.next_tick(moment)
        assert entry.interval is not None
        seen = self._seen.get(entry.marker_name)
        return moment if seen is None else datetime.datetime.fromtimestamp(seen + entry.interval, tz=_UTC)

    def calculate_sleep_interval(self) -> float:
        """Seconds until the next job is due, at most 60 (RQ's name)."""
        return min(self.seconds_to_next_tick(), _MAX_SLEEP)

    # -- running ---------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop :meth:`work`."""
        self._stop.set()

    def work(self, max_sleep: float = 1.0) -> None:
        """Fire ticks as they come until stopped (SIGINT/SIGTERM in the main thread).

        With no jobs it waits, saying so, until stopped: a config may register jobs only under
        some condition (RQ's configs do).
        """
        if not len(self.cron):
            logger.warning("CronScheduler %s: no cron jobs registered; waiting until stopped", self.name)

        def step() -> float:
            self.tick()
            return min(self.seconds_to_next_tick(), max_sleep)

        run_until_stopped(step, self._stop, self.broker, "cron")

    def start(self) -> None:
        """Run until SIGINT or SIGTERM (RQ's name for :meth:`work`)."""
        logger.info("CronScheduler %s: starting...", self.name)
        try:
            self.work()
        except KeyboardInterrupt:
            logger.info("CronScheduler %s: received KeyboardInterrupt", self.name)
        logger.info("CronScheduler %s: shutdown complete", self.name)

    def to_dict(self) -> dict[str, Any]:
        """The scheduler and its jobs as plain values (RQ's keys)."""
        return {
            "hostname": self.hostname,
            "pid": str(self.pid),
            "name": self.name,
            "created_at": self.created_at.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "config_file": self.config_file,
            "cron_jobs": json.dumps([entry.to_dict() for entry in self.cron]),
        }


def _anchored(entry: CronJob) -> bool:
    return entry.interval is not None and entry.timing == "rq"


def _marker(entry: CronJob) -> str:
    return f"cron:{entry.marker_name}"


def create_cron(connection: Any) -> CronScheduler:
    """A :class:`CronScheduler` with every job :func:`register` collected so far (RQ's
    ``create_cron``); the collection starts again empty."""
    scheduler = CronScheduler(connection)
    for data in take_registered():
        scheduler.register(**data)
    return scheduler


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.cron", CronScheduler)
