"""Periodic jobs: cron strings and plain intervals, fired exactly once per tick.

Register jobs on a :class:`Cron`, by code or in a module that defines one named ``cron``::

    # cron_config.py
    from jq.cron import Cron
    cron = Cron()
    cron.register("reports.nightly", cron="0 3 * * *", timezone="Europe/Riga", queue="low")
    cron.register("health.ping", interval=30)

and run a :class:`CronScheduler` for it anywhere — in as many processes as you like
(``jqueue cron cron_config``, or workers given ``cron=``). Each tick is enqueued exactly once,
whoever fires it: the enqueue and the advance of the tick's marker are one atomic step. There is
no leader to lose: while at least one scheduler runs, no tick is missed. Ticks that passed while
no scheduler looked (all were down or busy) are fired late, oldest first, each once, as long as
they are at most ``misfire_grace`` seconds late; older ones are skipped. A job that never fired
before fires its latest tick only.

Cron strings use the usual five fields (``minute hour day month weekday``) in the job's
``timezone`` (an IANA name, ``UTC`` by default), daylight-saving changes included; intervals are
counted in seconds from the Unix epoch, so every process agrees on the ticks.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import logging
import math
import threading
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cronsim import CronSim, CronSimError

from jq.broker import Broker
from jq.callbacks import function_path
from jq.connections import resolve_broker
from jq.exceptions import ConfigurationError
from jq.job import Job
from jq.periodic import run_until_stopped
from jq.queue import Queue
from jq.utils import now as utc_now
from jq.utils import validate_queue_name

__all__ = ["DEFAULT_MISFIRE_GRACE", "Cron", "CronJob", "CronScheduler", "load_cron"]

logger = logging.getLogger("jq.cron")

#: Seconds a tick may be late and still fire.
DEFAULT_MISFIRE_GRACE = 60.0
_JOB_OPTIONS = frozenset(
    {"job_timeout", "result_ttl", "ttl", "failure_ttl", "description", "meta", "retry", "on_success",
     "on_failure", "on_stopped", "webhooks"}
)  # fmt: skip


class CronJob:
    """One periodic job: what to call, when, and where to enqueue it.

    :param func: a module-level function or its dotted path.
    :param cron: a five-field cron string (``"*/5 * * * *"``); or
    :param interval: seconds between ticks.
    :param queue: the queue name.
    :param name: a stable name, unique in its :class:`Cron` (default: from the function and schedule).
    :param timezone: the IANA time zone the cron string is read in.
    :param misfire_grace: seconds a tick may be late and still fire.
    :param job_options: ``job_timeout``, ``result_ttl``, ``ttl``, ``failure_ttl``, ``description``,
        ``meta``, ``retry``, ``on_success``, ``on_failure``, ``on_stopped``, ``webhooks`` (each
        tick's job sends them: a heartbeat monitor's URL, say).
    """

    def __init__(
        self,
        func: Callable[..., Any] | str,
        *,
        cron: str | None = None,
        interval: float | None = None,
        queue: str = "default",
        name: str | None = None,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        timezone: str = "UTC",
        misfire_grace: float = DEFAULT_MISFIRE_GRACE,
        **job_options: Any,
    ) -> None:
        if (cron is None) == (interval is None):
            raise ConfigurationError("a cron job needs exactly one of cron='* * * * *' or interval=seconds")
        unknown = set(job_options) - _JOB_OPTIONS
        if unknown:
            raise ConfigurationError(f"unknown cron job options: {', '.join(sorted(unknown))}")
        webhooks = job_options.get("webhooks")
        if webhooks:
            from jq.webhook import Webhook

            if not isinstance(webhooks, list | tuple) or not all(
                isinstance(hook, Webhook) for hook in webhooks
            ):
                raise TypeError("webhooks must be a sequence of Webhook instances")
        self.func_path = function_path(func, what="a cron job's function")
        self.cron = cron
        self.interval = interval
        self.queue = validate_queue_name(queue)
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.misfire_grace = misfire_grace
        self.job_options = job_options
        try:
            self.timezone = zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(
                f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Riga'"
            ) from exc
        if cron is not None:
            try:
                CronSim(cron, datetime.datetime.now(self.timezone))
            except CronSimError as exc:
                raise ConfigurationError(f"cron string {cron!r} is not valid: {exc}") from exc
        elif interval is None or not interval > 0 or math.isinf(interval):
            raise ConfigurationError(f"interval must be a positive number of seconds, not {interval!r}")
        self.name = name or f"{self.func_path}@{cron if cron is not None else f'every {interval:g}s'}"

    def latest_tick(self, moment: datetime.datetime) -> datetime.datetime:
        """The last tick at or before ``moment`` (aware)."""
        if self.interval is not None:
            stamp = math.floor(moment.timestamp() / self.interval) * self.interval
            return datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc)
        assert self.cron is not None
        # CronSim's reverse iteration yields ticks strictly before its start, and older cronsims
        # first cut the start down (2.6 to the minute, 2.7 to the second): start at the minute
        # after ``moment``'s. Cron ticks fall on whole minutes, so none is skipped or added.
        local = moment.astimezone(self.timezone).replace(second=0, microsecond=0)
        local += datetime.timedelta(minutes=1)
        return next(CronSim(self.cron, local, reverse=True))

    def ticks_between(self, after: datetime.datetime, until: datetime.datetime) -> list[datetime.datetime]:
        """The ticks later than ``after`` and at or before ``until``, oldest first (aware)."""
        if self.interval is not None:
            first = math.floor(after.timestamp() / self.interval) + 1
            last = math.floor(until.timestamp() / self.interval)
            return [
                datetime.datetime.fromtimestamp(n * self.interval, tz=datetime.timezone.utc)
                for n in range(first, last + 1)
            ]
        assert self.cron is not None
        ticks: list[datetime.datetime] = []
        for tick in CronSim(self.cron, after.astimezone(self.timezone)):
            if tick > until:
                break
            ticks.append(tick)
        return ticks

    def next_tick(self, moment: datetime.datetime) -> datetime.datetime:
        """The first tick after ``moment`` (aware)."""
        if self.interval is not None:
            stamp = (math.floor(moment.timestamp() / self.interval) + 1) * self.interval
            return datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc)
        assert self.cron is not None
        return next(CronSim(self.cron, moment.astimezone(self.timezone)))

    def __repr__(self) -> str:
        return f"CronJob({self.name!r}, queue={self.queue!r})"


class Cron:
    """A set of periodic jobs, by name."""

    def __init__(self) -> None:
        self._jobs: dict[str, CronJob] = {}

    def register(self, func: Callable[..., Any] | str, **options: Any) -> CronJob:
        """Add a :class:`CronJob` (same arguments); refuses a name already taken."""
        entry = CronJob(func, **options)
        if entry.name in self._jobs:
            raise ConfigurationError(f"a cron job named {entry.name!r} is already registered; give it name=")
        self._jobs[entry.name] = entry
        return entry

    def __iter__(self) -> Iterator[CronJob]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)


def load_cron(location: str) -> Cron:
    """The :class:`Cron` named ``cron`` in a module (dotted path or ``.py`` file)."""
    try:
        if location.endswith(".py"):
            path = Path(location)
            spec = importlib.util.spec_from_file_location(f"jq_cron_config_{path.stem}", path)
            if spec is None or spec.loader is None or not path.exists():
                raise ConfigurationError(f"cron config file {location!r} does not exist")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(location)
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"cron config {location!r} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    found = getattr(module, "cron", None)
    if not isinstance(found, Cron):
        raise ConfigurationError(f"cron config {location!r} must define cron = jq.cron.Cron() with its jobs")
    return found


class CronScheduler:
    """Fires the due ticks of a :class:`Cron`; run as many as you like, each tick fires once."""

    def __init__(self, cron: Cron, connection: Any = None) -> None:
        self.cron = cron
        self.broker: Broker = resolve_broker(connection)
        self._queues: dict[str, Queue] = {}
        # Per job name: the latest tick this scheduler saw fired or skipped (a timestamp).
        self._seen: dict[str, float] = {}
        self._stop = threading.Event()

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self.broker)
        return self._queues[name]

    def tick(self, now: datetime.datetime | None = None) -> list[Job]:
        """Enqueue every tick of each job that has not fired yet and is at most its
        ``misfire_grace`` late, oldest first; the jobs this call enqueued."""
        moment = now or utc_now()
        fired: list[Job] = []
        for entry in self.cron:
            fired.extend(self._fire_due(entry, moment))
        return fired

    def _fire_due(self, entry: CronJob, moment: datetime.datetime) -> list[Job]:
        latest = entry.latest_tick(moment)
        seen = self._seen.get(entry.name)
        if seen is not None and latest.timestamp() <= seen:
            # Every tick up to this one was fired (here or elsewhere) or skipped: no round trip.
            return []
        marker = f"cron:{entry.name}"
        reached = self.broker.marker(marker)
        oldest = moment - datetime.timedelta(seconds=entry.misfire_grace)
        if reached is None:
            # Never fired: earlier ticks were not missed, they came before the job existed.
            due = [latest] if latest >= oldest else []
        else:
            after = datetime.datetime.fromtimestamp(reached, tz=datetime.timezone.utc)
            # A tick exactly misfire_grace late still fires: start just before the oldest moment.
            after = max(after, oldest - datetime.timedelta(microseconds=1))
            due = [tick for tick in entry.ticks_between(after, moment) if tick >= oldest]
        fired: list[Job] = []
        queue = self._queue(entry.queue)
        for tick in due:
            job = queue.create_job(entry.func_path, args=entry.args, kwargs=entry.kwargs,
                                   **_create_options(entry.job_options))  # fmt: skip
            job.meta.setdefault("cron", entry.name)
            job.meta.setdefault("cron_tick", tick.isoformat())
            # Refused when another scheduler fired this tick or a later one: the marker only
            # moves forward, and every scheduler fires ticks oldest first, so none is skipped.
            if queue.enqueue_job_once(job, marker, tick.timestamp()):
                logger.info("cron %s: fired the tick of %s (job %s)", entry.name, tick.isoformat(), job.id)
                fired.append(job)
        self._seen[entry.name] = latest.timestamp()
        return fired

    def seconds_to_next_tick(self, now: datetime.datetime | None = None) -> float:
        """Seconds until the soonest next tick of any job."""
        moment = now or utc_now()
        soonest = min(
            (entry.next_tick(moment) for entry in self.cron), default=moment + datetime.timedelta(seconds=60)
        )
        return max((soonest - moment).total_seconds(), 0.0)

    def request_stop(self) -> None:
        """Stop :meth:`work`."""
        self._stop.set()

    def work(self, max_sleep: float = 1.0) -> None:
        """Fire ticks as they come until stopped (SIGINT/SIGTERM in the main thread)."""
        if not len(self.cron):
            raise ConfigurationError("the cron has no jobs: register some with cron.register(...)")

        def step() -> float:
            self.tick()
            return min(self.seconds_to_next_tick(), max_sleep)

        run_until_stopped(step, self._stop, self.broker, "cron")


def _create_options(options: dict[str, Any]) -> dict[str, Any]:
    """A cron job's options as :meth:`Queue.create_job` names them."""
    named = dict(options)
    if "job_timeout" in named:
        named["timeout"] = named.pop("job_timeout")
    return named
