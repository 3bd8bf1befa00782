"""The options of ``jqueue worker`` and ``jqueue worker-pool``: every option of RQ's ``rq worker``
(with its spellings: ``--logging_level``, ``-s``, ``-d``, ``-ds``), and jq's own."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Final, TypeVar

import click

from jq.base.logutils import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from jq.base.utils import MAX_SECONDS
from jq.cli.config import LOGGING_LEVELS, POOLS, FlagSettings
from jq.cli.options import Seconds, StoreOptions, parse_ttl

__all__ = [
    "DEQUEUE_STRATEGIES",
    "WorkerOptions",
    "check_date_format",
    "check_log_format",
    "worker_options",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The orders in which a worker looks at its queues (RQ's ``--dequeue-strategy``).
DEQUEUE_STRATEGIES: Final = ("default", "random", "round_robin")


@dataclass(frozen=True)
class WorkerOptions:
    """The worker flags of ``worker`` and ``worker-pool`` (the shared ones are a
    :class:`~jq.cli.options.StoreOptions`)."""

    burst: bool
    name: str | None
    results_ttl: int | None
    worker_ttl: int | None
    maintenance_interval: float | None
    job_monitoring_interval: float | None
    log_format: str
    date_format: str
    disable_job_desc_logging: bool
    max_jobs: int | None
    max_idle_time: float | None
    exception_handler: tuple[str, ...]
    disable_default_exception_handler: bool
    with_scheduler: bool
    dequeue_strategy: str
    pid: str | None
    logging_level: str | None
    quiet: bool
    verbose: bool
    sentry_dsn: str | None
    cron: str | None
    fork_per_job: bool
    reuse_horse: bool
    concurrency: int | None
    pool: str | None
    batch_size: int | None

    def flag_settings(self, store: StoreOptions, queues: tuple[str, ...]) -> FlagSettings:
        """The flags that take part in the flags > environment > config precedence."""
        return FlagSettings(
            url=store.url,
            queues=queues,
            name=self.name,
            serializer=store.serializer,
            logging_level=self._level(),
            sentry_dsn=self.sentry_dsn,
            concurrency=self.concurrency,
            pool=self.pool,
        )

    def _level(self) -> str | None:
        chosen: list[str] = []
        if self.logging_level is not None:
            chosen.append(self.logging_level.upper())
        if self.quiet:
            chosen.append("WARNING")
        if self.verbose:
            chosen.append("DEBUG")
        if len(chosen) > 1:
            raise click.UsageError("give only one of --logging-level, --quiet and --verbose")
        return chosen[0] if chosen else None


def _sample_record() -> logging.LogRecord:
    """A record like the worker's own lines, to try a format on."""
    return logging.LogRecord("jq.worker", logging.INFO, __file__, 1, "worker %s started", ("w-1",), None)


def check_log_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A click callback: ``value`` must format a log record (``%(nosuch)s`` would not, and logging
    would print a traceback for every line instead of failing once)."""
    try:
        logging.Formatter(value).format(_sample_record())
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise click.BadParameter(
            f"{value!r} is not a logging format: {exc} (use fields such as %(asctime)s, %(levelname)s, "
            "%(name)s and %(message)s)"
        ) from None
    return value


def check_date_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A click callback: ``value`` must be a ``strftime`` format."""
    try:
        logging.Formatter("%(asctime)s", value).format(_sample_record())
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(f"{value!r} is not a strftime format: {exc}") from None
    return value


#: Seconds above 0 and at most what Redis and jq keep (``2**31 - 1``).
_SECONDS = Seconds(min=0, min_open=True, max=MAX_SECONDS)


def _worker_params(name_short: bool) -> list[Callable[[F], F]]:
    name_flags = ("--name", "-n") if name_short else ("--name",)
    return [
        click.option("--burst", "-b", is_flag=True, help="Run until the queues are empty, then exit."),
        click.option(
            *name_flags,
            "name",
            metavar="NAME",
            help="The worker's name, unique among live workers (a pool: the start of each "
            "name) (env: JQ_NAME).",
        ),
        click.option(
            "--results-ttl",
            callback=parse_ttl,
            metavar="TTL",
            help="Keep results this long unless a job says otherwise: seconds, 10m, 1h; 0: not "
            "at all; -1: forever (default 500).",
        ),
        click.option(
            "--worker-ttl",
            type=click.IntRange(min=1, max=MAX_SECONDS),
            metavar="SECONDS",
            help="How long the worker's record lives without a heartbeat (default 420).",
        ),
        click.option(
            "--maintenance-interval",
            type=_SECONDS,
            metavar="SECONDS",
            help="Seconds between maintenance runs, which end the jobs of dead workers (default 60).",
        ),
        click.option(
            "--job-monitoring-interval",
            type=_SECONDS,
            metavar="SECONDS",
            help="Seconds between the heartbeats of a running job (default 30).",
        ),
        click.option(
            "--log-format",
            default=DEFAULT_LOGGING_FORMAT,
            show_default=True,
            callback=check_log_format,
            help="The logging format of the worker's log lines.",
        ),
        click.option(
            "--date-format",
            default=DEFAULT_LOGGING_DATE_FORMAT,
            show_default=True,
            callback=check_date_format,
            help="The strftime format of %(asctime)s in log lines.",
        ),
        click.option(
            "--disable-job-desc-logging",
            is_flag=True,
            help="Log job ids, not job descriptions (which show arguments).",
        ),
        click.option("--max-jobs", type=click.IntRange(min=1), metavar="N", help="Exit after N jobs."),
        click.option(
            "--max-idle-time",
            type=_SECONDS,
            metavar="SECONDS",
            help="Exit after waiting this long for a job.",
        ),
        click.option(
            "--exception-handler",
            "exception_handler",
            multiple=True,
            metavar="PATH",
            help="Dotted path of an exception handler (repeatable; run in order).",
        ),
        click.option(
            "--disable-default-exception-handler",
            "-d",
            is_flag=True,
            help="Do not keep failed jobs in the failed registry.",
        ),
        click.option(
            "--with-scheduler", "-s", is_flag=True, help="Also queue scheduled jobs when they are due."
        ),
        click.option(
            "--dequeue-strategy",
            "-ds",
            type=click.Choice(DEQUEUE_STRATEGIES),
            default="default",
            show_default=True,
            help="The order queues are looked at: as given, random, or round_robin.",
        ),
        click.option("--pid", metavar="FILE", help="Write the process id to FILE."),
        click.option(
            "--logging-level",
            "--logging_level",
            "-l",
            "logging_level",
            type=click.Choice(LOGGING_LEVELS, case_sensitive=False),
            help="The level of the worker's logs (default INFO) (env: JQ_LOGGING_LEVEL).",
        ),
        click.option("--quiet", "-q", is_flag=True, help="Log warnings and errors only."),
        click.option("--verbose", "-v", is_flag=True, help="Log everything, with the settings used."),
        click.option(
            "--cron",
            metavar="MODULE",
            help="Also fire the periodic jobs of this cron config (a module or .py file).",
        ),
        click.option(
            "--fork-per-job",
            is_flag=True,
            help="jq.Worker: fork a fresh work horse for every job (RQ's way).",
        ),
        click.option(
            "--reuse-horse",
            is_flag=True,
            help="jq.Worker: run job after job in one work horse (jq's faster mode).",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1),
            metavar="N",
            help="Run up to N jobs at once in the worker's process (async def jobs on an event "
            "loop, others on threads); needs a worker class that runs jobs in its own process, "
            "jq.SimpleWorker when none is given (env: JQ_CONCURRENCY).",
        ),
        click.option(
            "--pool",
            type=click.Choice(POOLS, case_sensitive=False),
            help="Where --concurrency runs jobs: asyncio (default: async def jobs as tasks of one "
            "event loop, plain functions on threads) or threads (every job on a thread) (env: JQ_POOL).",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            metavar="N",
            help="jq.SimpleWorker: take up to N jobs per claim from a deep queue of short jobs, "
            "reserving those it does not start yet (default 1: one job per claim).",
        ),
        click.option(
            "--sentry-dsn",
            metavar="DSN",
            help="Report failed jobs to Sentry (needs sentry-sdk) (env: JQ_SENTRY_DSN).",
        ),
    ]


def worker_options(*, name_short: bool) -> Callable[[F], F]:
    """Add the worker flags to a command; it receives them as ``options: WorkerOptions``."""
    names = [field.name for field in fields(WorkerOptions)]

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            options = WorkerOptions(**{name: kwargs.pop(name) for name in names})
            return func(*args, options=options, **kwargs)

        decorated: Any = wrapper
        for param in reversed(_worker_params(name_short)):
            decorated = param(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate
