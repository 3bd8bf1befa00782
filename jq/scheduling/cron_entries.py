"""What a cron fires: :class:`CronJob` (one periodic job and its ticks) and :class:`Cron` (a set).

Two ways to describe a periodic job, one engine (:class:`jq.cron.CronScheduler`) for both:

* jq's: ``Cron().register(func, cron=... | interval=..., queue=, timezone=, name=, ...)``. Cron
  strings are read in ``timezone`` (UTC unless given); interval ticks are counted from the Unix
  epoch, so every process agrees on them without asking anyone.
* RQ's: ``jq.cron.register(func, queue_name, interval=... | cron=..., job_timeout=, ...)`` in a
  config module, or ``CronScheduler.register(...)``. Timing follows RQ's documentation: cron
  strings are read in the scheduler's local time (``TZ``), and an interval job fires when the
  scheduler starts, then every ``interval`` seconds from then; a cron string fires at its first
  tick after the scheduler started (see :attr:`CronJob.timing`).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from cronsim import CronSim, CronSimError

from jq.base.utils import now as utc_now
from jq.base.utils import public_module, validate_queue_name
from jq.core.callbacks import function_path
from jq.core.job_call import callable_reference
from jq.core.webhook import Webhook
from jq.defaults import DEFAULT_RESULT_TTL
from jq.exceptions import ConfigurationError, UnsupportedByBrokerError
from jq.queueing.queue import Queue

__all__ = [
    "DEFAULT_MISFIRE_GRACE",
    "TIMINGS",
    "Cron",
    "CronJob",
    "enqueue_options",
    "local_timezone",
    "no_cron_history",
]

logger = logging.getLogger("jq.cron")

#: Seconds a tick may be late and still fire.
DEFAULT_MISFIRE_GRACE: Final = 60.0
#: Whose timing a job follows: jq's (interval ticks on multiples of the interval since the Unix
#: epoch; a job that never fired fires its latest tick if it is at most ``misfire_grace`` late) or
#: RQ's (an interval job fires when a scheduler starts, then every interval from that run; a cron
#: string fires from its first tick after the scheduler started).
TIMINGS: Final = ("jq", "rq")
_JOB_OPTIONS: Final = frozenset(
    {"job_timeout", "result_ttl", "ttl", "failure_ttl", "description", "meta", "retry", "on_success",
     "on_failure", "on_stopped", "webhooks"}
)  # fmt: skip
_UTC = datetime.timezone.utc


def local_timezone() -> datetime.tzinfo:
    """The time zone of this process, daylight-saving rules included: ``TZ`` when it names a zone
    (``Asia/Jakarta``, ``:Europe/Riga``, a zoneinfo file), else ``/etc/localtime``, else the
    fixed offset the C library reports."""
    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name and os.path.isabs(name):
            with open(name, "rb") as file:
                return zoneinfo.ZoneInfo.from_file(file, key=name)
        if name:
            return zoneinfo.ZoneInfo(name)
        localtime = Path("/etc/localtime")
        if localtime.exists():
            # The zone's name, when /etc/localtime links into a zoneinfo tree.
            target = str(localtime.resolve())
            key = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else None
            with localtime.open("rb") as file:
                return zoneinfo.ZoneInfo.from_file(file, key=key)
    except (OSError, ValueError, zoneinfo.ZoneInfoNotFoundError):
        pass
    # A POSIX TZ rule such as "EST5EDT,M3.2.0,M11.1.0", or no zone database: the offset now.
    found = datetime.datetime.now().astimezone().tzinfo
    return found if found is not None else _UTC


def _zone(timezone: str | datetime.tzinfo | None) -> datetime.tzinfo:
    if timezone is None:
        return local_timezone()
    if isinstance(timezone, datetime.tzinfo):
        return timezone
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Riga'"
        ) from exc


def _utc_text(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_or_none(value: Any) -> str | None:
    if not value:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return "<not JSON serializable>"


def _call_arguments(args: Any, kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A cron job's ``args`` and ``kwargs``, checked as an enqueue checks them: refused here, not
    at every tick."""
    if args is not None and (isinstance(args, str | bytes) or not isinstance(args, Sequence)):
        raise ConfigurationError(f"a cron job's args must be a list or a tuple, not {type(args).__name__}")
    if kwargs is not None and not (
        isinstance(kwargs, Mapping) and all(isinstance(key, str) for key in kwargs)
    ):
        raise ConfigurationError("a cron job's kwargs must be a dict with string keys")
    return tuple(args or ()), dict(kwargs or {})


class CronJob:
    """One periodic job: what to call, when, and where to enqueue it.

    :param func: a module-level function or its dotted path.
    :param cron: a five-field cron string (``"*/5 * * * *"``); or
    :param interval: seconds between ticks.
    :param queue: the queue name.
    :param name: a stable name, unique in its :class:`Cron` (default: from the function and schedule).
    :param timezone: the IANA time zone (or a ``tzinfo``) the cron string is read in; None: the
        scheduler's local time.
    :param misfire_grace: seconds a tick may be late and still fire.
    :param timing: ``"jq"``: interval ticks fall on multiples of the interval since the Unix
        epoch, and a job that never fired fires its latest tick if it is at most ``misfire_grace``
        late. ``"rq"`` (RQ's documented timing): an interval job fires as soon as a scheduler
        looks (and again whenever every tick it missed is more than ``misfire_grace`` late), then
        every interval from that run; a cron string that never fired starts with its first tick
        after the scheduler started.
    :param job_options: ``job_timeout``, ``result_ttl``, ``ttl``, ``failure_ttl``, ``description``,
        ``meta``, ``retry``, ``on_success``, ``on_failure``, ``on_stopped``, ``webhooks``.

    RQ's attribute names read the same values: :attr:`queue_name`, :attr:`func_name`, :attr:`func`
    (the function when one was given), :attr:`job_options`; and, as this process's schedulers see
    them, :attr:`latest_enqueue_time` and :attr:`next_enqueue_time`.
    """

    def __init__(
        self,
        func: Callable[..., Any] | str,
        *,
        cron: str | None = None,
        interval: float | None = None,
        queue: str = "default",
        name: str | None = None,
        args: Sequence[Any] | None = (),
        kwargs: Mapping[str, Any] | None = None,
        timezone: str | datetime.tzinfo | None = "UTC",
        misfire_grace: float = DEFAULT_MISFIRE_GRACE,
        timing: str = "jq",
        **job_options: Any,
    ) -> None:
        if (cron is None) == (interval is None):
            raise ConfigurationError("a cron job needs exactly one of cron='* * * * *' or interval=seconds")
        unknown = set(job_options) - _JOB_OPTIONS
        if unknown:
            raise ConfigurationError(f"unknown cron job options: {', '.join(sorted(unknown))}")
        webhooks = job_options.get("webhooks")
        # Checked when registered, not at every tick: each fire would be refused the same way.
        if webhooks and (
            not isinstance(webhooks, list | tuple) or not all(isinstance(hook, Webhook) for hook in webhooks)
        ):
            raise TypeError("webhooks must be a sequence of Webhook instances")
        if timing not in TIMINGS:
            raise ConfigurationError(f"timing must be one of {', '.join(TIMINGS)}, not {timing!r}")
        if not isinstance(func, str):
            # Every tick enqueues it: a lambda or a nested function, which a worker cannot import,
            # is refused now, as enqueue refuses it, not failed at each tick.
            callable_reference(func)
        self.func_path = function_path(func, what="a cron job's function")
        #: The function itself when one was given (RQ's ``CronJob.func``), else None.
        self.func: Callable[..., Any] | None = None if isinstance(func, str) else func
        self.cron = cron
        self.interval = interval
        self.queue = validate_queue_name(queue)
        self.args, self.kwargs = _call_arguments(args, kwargs)
        self.misfire_grace = misfire_grace
        self.timing = timing
        self.job_options = {key: value for key, value in job_options.items() if value is not None}
        self.timezone = _zone(timezone)
        if cron is not None:
            if not isinstance(cron, str):
                raise ConfigurationError(
                    f"cron must be a five-field string such as '*/5 * * * *', not {cron!r}"
                )
            try:
                CronSim(cron, datetime.datetime.now(self.timezone))
            except CronSimError as exc:
                raise ConfigurationError(f"cron string {cron!r} is not valid: {exc}") from exc
        elif (
            isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval < math.inf
        ):
            raise ConfigurationError(f"interval must be a positive number of seconds, not {interval!r}")
        self.name = name or f"{self.func_path}@{cron if cron is not None else f'every {interval:g}s'}"
        #: The name of the marker that records the latest tick fired (one per job of a cron).
        self.marker_name = self.name
        #: When a scheduler of this process last enqueued the job (aware UTC), else None.
        self.latest_enqueue_time: datetime.datetime | None = None
        #: When this process's schedulers will next enqueue it (aware UTC), else None.
        self.next_enqueue_time: datetime.datetime | None = None
        if cron is not None:
            self.next_enqueue_time = self.next_tick(utc_now())

    # -- RQ's names ----------------------------------------------------------------------------

    @property
    def queue_name(self) -> str:
        """The queue's name (RQ's name for :attr:`queue`)."""
        return self.queue

    @property
    def func_name(self) -> str:
        """The function's dotted path (RQ's name for :attr:`func_path`)."""
        return self.func_path

    @property
    def job_history_key(self) -> str:
        """RQ's list of the jobs a cron job enqueued: jq keeps none (see :meth:`get_job_ids`)."""
        raise no_cron_history()

    def get_job_ids(self, connection: Any = None, start: int = 0, end: int = -1) -> list[str]:
        """Refused: jq keeps no history of the jobs a cron job enqueued. Each fired job has
        ``meta["cron"]`` (the cron job's name) and ``meta["cron_tick"]``."""
        raise no_cron_history()

    def should_run(self) -> bool:
        """Whether this process's view says the job is due: an interval job of RQ's timing that
        never ran is; otherwise when :attr:`next_enqueue_time` has come."""
        if self.latest_enqueue_time is None and self.interval is not None and self.timing == "rq":
            return True
        if self.next_enqueue_time is None:
            self.next_enqueue_time = self.next_tick(utc_now())
        return utc_now() >= self.next_enqueue_time

    def get_next_enqueue_time(self) -> datetime.datetime:
        """When the job is next due after its latest enqueue (or after now, if never)."""
        if self.interval is not None and self.timing == "rq":
            if self.latest_enqueue_time is None:
                return utc_now()
            return self.latest_enqueue_time + datetime.timedelta(seconds=self.interval)
        return self.next_tick(self.latest_enqueue_time or utc_now())

    def set_enqueue_time(self, time: datetime.datetime) -> None:
        """Record that the job was enqueued at ``time`` and work out the next time."""
        self.latest_enqueue_time = time if time.tzinfo is not None else time.replace(tzinfo=_UTC)
        self.next_enqueue_time = self.get_next_enqueue_time()

    def enqueue(self, connection: Any) -> Any:
        """Enqueue the job on its queue now, whatever its schedule says (outside of any tick:
        every call enqueues one more job); returns the :class:`jq.job.Job`."""
        job = Queue(self.queue, connection=connection).enqueue_call(
            self.func_path, args=self.args, kwargs=self.kwargs, **enqueue_options(self.job_options)
        )
        self.set_enqueue_time(utc_now())
        return job

    def to_dict(self) -> dict[str, Any]:
        """The job's settings and times as plain values (RQ's keys)."""
        data: dict[str, Any] = {
            "func_name": self.func_name,
            "name": self.name,
            "queue_name": self.queue_name,
            "args": _json_or_none(list(self.args)),
            "kwargs": _json_or_none(self.kwargs),
            "interval": self.interval,
            "cron": self.cron,
            "latest_enqueue_time": _utc_text(self.latest_enqueue_time),
            "next_enqueue_time": _utc_text(self.next_enqueue_time),
        }
        for key in ("job_timeout", "result_ttl", "ttl", "failure_ttl"):
            if self.job_options.get(key) is not None:
                data[key] = self.job_options[key]
        if self.job_options.get("meta"):
            data["meta"] = _json_or_none(self.job_options["meta"])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CronJob:
        """A job from :meth:`to_dict`'s values (its function by its dotted path)."""
        options = {
            key: data[key] for key in ("job_timeout", "result_ttl", "ttl", "failure_ttl") if data.get(key)
        }
        decoded = {
            key: json.loads(data[key]) if data.get(key) else None for key in ("args", "kwargs", "meta")
        }
        job = cls(
            data["func_name"],
            cron=data.get("cron"),
            interval=data.get("interval"),
            queue=data.get("queue_name", "default"),
            name=data.get("name") or None,
            args=decoded["args"],
            kwargs=decoded["kwargs"],
            meta=decoded["meta"],
            **options,
        )
        for attribute in ("latest_enqueue_time", "next_enqueue_time"):
            if data.get(attribute):
                text = str(data[attribute]).replace("Z", "+00:00")
                setattr(job, attribute, datetime.datetime.fromisoformat(text))
        return job

    # -- ticks ---------------------------------------------------------------------------------

    def latest_tick(self, moment: datetime.datetime) -> datetime.datetime:
        """The last tick at or before ``moment`` (aware); intervals counted from the epoch."""
        if self.interval is not None:
            stamp = math.floor(moment.timestamp() / self.interval) * self.interval
            return datetime.datetime.fromtimestamp(stamp, tz=_UTC)
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
                datetime.datetime.fromtimestamp(n * self.interval, tz=_UTC) for n in range(first, last + 1)
            ]
        assert self.cron is not None
        ticks: list[datetime.datetime] = []
        for tick in CronSim(self.cron, after.astimezone(self.timezone)):
            if tick > until:
                break
            ticks.append(tick)
        return ticks

    def next_tick(self, moment: datetime.datetime) -> datetime.datetime:
        """The first tick after ``moment`` (aware); intervals counted from the epoch."""
        if self.interval is not None:
            stamp = (math.floor(moment.timestamp() / self.interval) + 1) * self.interval
            return datetime.datetime.fromtimestamp(stamp, tz=_UTC)
        assert self.cron is not None
        return next(CronSim(self.cron, moment.astimezone(self.timezone)))

    def describe(self) -> str:
        """What the job does and when, in words (the line RQ logs when a job is registered)."""
        if self.interval is not None:
            when = f"every {self.interval:g} seconds"
        else:
            when = f"with cron schedule {self.cron!r}"
        return f"{self.func_path!r} to run on {self.queue} {when}"

    def __repr__(self) -> str:
        return f"CronJob({self.name!r}, queue={self.queue!r})"


def no_cron_history() -> UnsupportedByBrokerError:
    """The error of RQ's cron job history functions: jq keeps none."""
    return UnsupportedByBrokerError(
        "jq keeps no history of the jobs a cron job enqueued: each has meta['cron'] (the cron job's "
        "name) and meta['cron_tick'] (see docs/scheduling.md)"
    )


def enqueue_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A cron job's options as :meth:`jq.Queue.enqueue_call` and ``create_job`` name them
    (``job_timeout`` is ``timeout``)."""
    named = dict(options)
    if "job_timeout" in named:
        named["timeout"] = named.pop("job_timeout")
    return named


class Cron:
    """A set of periodic jobs, by name."""

    def __init__(self) -> None:
        self._jobs: dict[str, CronJob] = {}

    def register(self, func: Callable[..., Any] | str, **options: Any) -> CronJob:
        """Add a :class:`CronJob` (same arguments); refuses a name already taken."""
        entry = CronJob(func, **options)
        if entry.marker_name in self._jobs:
            raise ConfigurationError(f"a cron job named {entry.name!r} is already registered; give it name=")
        self._jobs[entry.marker_name] = entry
        return entry

    def register_rq(
        self,
        func: Callable[..., Any] | str,
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
        """Add a job as RQ's ``register`` describes it (RQ's timing: local time, intervals from the
        first run). Several jobs may share a name, as in RQ; each still gets a marker of its own
        (``<name>@<schedule>``, then ``#2``, ``#3``... in the order they are registered)."""
        if interval and cron:
            raise ConfigurationError("give either interval or cron for a cron job, not both")
        entry = CronJob(
            func,
            cron=cron or None,
            interval=interval or None,
            queue=queue_name,
            args=args,
            kwargs=kwargs,
            timezone=None,
            timing="rq",
            job_timeout=job_timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            meta=meta,
            webhooks=list(webhooks) if webhooks else None,
        )
        # RQ's name: the function's path unless given. The marker must be unique whatever it is.
        entry.name = name or entry.func_path
        schedule = cron if cron else f"every {interval:g}s"
        base = f"{entry.name}@{schedule}"
        marker, number = base, 1
        while marker in self._jobs:
            number += 1
            marker = f"{base}#{number}"
        entry.marker_name = marker
        self._jobs[marker] = entry
        return entry

    def extend(self, other: Cron) -> None:
        """Add every job of ``other`` (a name already taken is refused)."""
        for entry in other:
            if entry.marker_name in self._jobs:
                raise ConfigurationError(f"a cron job named {entry.name!r} is already registered")
            self._jobs[entry.marker_name] = entry

    def __iter__(self) -> Iterator[CronJob]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.cron", Cron, CronJob)
