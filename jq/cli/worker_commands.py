"""``jqueue worker`` and ``jqueue worker-pool``: run workers with every option RQ's ``rq worker`` has."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import click

from jq.cli.config import LOGGING_LEVELS, FlagSettings, Settings
from jq.cli.errors import UserError, import_object, import_subclass
from jq.cli.options import Session, StoreOptions, load_settings, open_session, parse_ttl, store_options
from jq.cli.sentry import init_sentry
from jq.exceptions import JQError
from jq.job import Job
from jq.logutils import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT, PACKAGE_LOGGER, setup_logging
from jq.plugins.hookspecs import ExceptionHandler
from jq.queue import Queue
from jq.worker import BaseWorker, Worker

__all__ = [
    "WorkerOptions",
    "WorkerPlan",
    "check_date_format",
    "check_log_format",
    "plan_worker",
    "worker",
    "worker_pool",
]

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("jq.worker")


@dataclass(frozen=True)
class WorkerOptions:
    """The worker flags of ``worker`` and ``worker-pool``."""

    burst: bool
    name: str | None
    worker_class: str
    job_class: str | None
    queue_class: str | None
    results_ttl: int | None
    log_format: str
    date_format: str
    disable_job_desc_logging: bool
    max_jobs: int | None
    max_idle_time: float | None
    exception_handlers: tuple[str, ...]
    disable_default_exception_handler: bool
    with_scheduler: bool
    logging_level: str | None
    quiet: bool
    verbose: bool
    sentry_dsn: str | None
    cron: str | None
    fork_per_job: bool

    def flag_settings(self, store: StoreOptions, queues: tuple[str, ...]) -> FlagSettings:
        """The flags that take part in the flags > environment > config precedence."""
        return FlagSettings(
            url=store.url,
            queues=queues,
            name=self.name,
            serializer=store.serializer,
            logging_level=self._level(),
            sentry_dsn=self.sentry_dsn,
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
            "--worker-class",
            "-w",
            default="jq.Worker",
            show_default=True,
            metavar="CLASS",
            help="The worker class: jq.Worker runs jobs in a work horse process, jq.SimpleWorker "
            "in its own process.",
        ),
        click.option("--job-class", "-j", metavar="CLASS", help="The jq.job.Job subclass for jobs."),
        click.option("--queue-class", metavar="CLASS", help="The jq.Queue subclass for the queues."),
        click.option(
            "--results-ttl",
            callback=parse_ttl,
            metavar="TTL",
            help="Keep results this long unless a job says otherwise (default 500; -1: forever).",
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
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Exit after waiting this long for a job.",
        ),
        click.option(
            "--exception-handler",
            "exception_handlers",
            multiple=True,
            metavar="PATH",
            help="Dotted path of an exception handler (repeatable; run in order).",
        ),
        click.option(
            "--disable-default-exception-handler",
            is_flag=True,
            help="Do not keep failed jobs in the failed registry.",
        ),
        click.option("--with-scheduler", is_flag=True, help="Also queue scheduled jobs when they are due."),
        click.option(
            "--logging-level",
            type=click.Choice(LOGGING_LEVELS, case_sensitive=False),
            help="The level of the worker's logs (default INFO) (env: JQ_LOGGING_LEVEL).",
        ),
        click.option("--quiet", "-q", is_flag=True, help="Log warnings and errors only."),
        click.option("--verbose", "-v", is_flag=True, help="Log everything, with the settings used."),
        click.option(
            "--cron",
            metavar="MODULE",
            help="Also fire the periodic jobs of this cron config (a module or .py file defining cron).",
        ),
        click.option(
            "--fork-per-job",
            is_flag=True,
            help="jq.Worker: fork a fresh work horse for every job (RQ's way) instead of reusing one.",
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


@dataclass(frozen=True)
class WorkerPlan:
    """Everything needed to build and run a worker, checked before connecting."""

    settings: Settings
    worker_class: type[BaseWorker]
    worker_kwargs: dict[str, Any]
    work_kwargs: dict[str, Any]


def _exception_handlers(options: WorkerOptions, settings: Settings) -> list[ExceptionHandler]:
    handlers: list[ExceptionHandler] = []
    if settings.sentry_dsn.value:
        # First, so that a later handler returning False cannot keep a failure from Sentry.
        handlers.append(init_sentry(settings.sentry_dsn.value))
    for path in options.exception_handlers:
        handler = import_object(path, "exception handler")
        if not callable(handler):
            raise UserError(f"exception handler {path!r} is not callable")
        handlers.append(handler)
    return handlers


def plan_worker(store: StoreOptions, options: WorkerOptions, queues: tuple[str, ...]) -> WorkerPlan:
    """Resolve settings and import every class and handler; user mistakes surface here, before
    anything connects."""
    settings, _module = load_settings(store, options.flag_settings(store, queues))
    worker_kwargs: dict[str, Any] = {
        "log_job_description": not options.disable_job_desc_logging,
        "disable_default_exception_handler": options.disable_default_exception_handler,
        "serializer": settings.serializer.value,
    }
    if options.job_class:
        worker_kwargs["job_class"] = import_subclass(options.job_class, Job, "job class")
    if options.queue_class:
        worker_kwargs["queue_class"] = import_subclass(options.queue_class, Queue, "queue class")
    if options.results_ttl is not None:
        worker_kwargs["default_result_ttl"] = options.results_ttl
    worker_class = import_subclass(options.worker_class, BaseWorker, "worker class")
    worker_kwargs["exception_handlers"] = _exception_handlers(options, settings)
    if options.cron is not None:
        worker_kwargs["cron"] = _load_cron(options.cron)
    if options.fork_per_job:
        if not issubclass(worker_class, Worker):
            raise UserError(
                f"--fork-per-job applies to jq.Worker and its subclasses, not {options.worker_class}"
            )
        worker_kwargs["fork_per_job"] = True
    work_kwargs: dict[str, Any] = {
        "burst": options.burst,
        "logging_level": settings.logging_level.value,
        "log_format": options.log_format,
        "date_format": options.date_format,
        "max_jobs": options.max_jobs,
        "max_idle_time": options.max_idle_time,
        "with_scheduler": options.with_scheduler,
    }
    return WorkerPlan(settings, worker_class, worker_kwargs, work_kwargs)


def _load_cron(location: str) -> Any:
    from jq.cron import load_cron

    try:
        return load_cron(location)
    except JQError as exc:
        raise UserError(str(exc)) from None


def _start_logging(plan: WorkerPlan) -> None:
    # The level of every jq logger, not only the worker's: the scheduler, cron and the store's
    # driver speak for the worker too, and --verbose should show what they say.
    setup_logging(
        logging.getLogger(PACKAGE_LOGGER),
        plan.work_kwargs["logging_level"],
        plan.work_kwargs["log_format"],
        plan.work_kwargs["date_format"],
    )
    logger.debug("settings: %s", plan.settings.sources())


@click.command()
@click.argument("queues", nargs=-1)
@store_options(with_serializer=True)
@worker_options(name_short=True)
def worker(queues: tuple[str, ...], store: StoreOptions, options: WorkerOptions) -> None:
    """Run a worker on QUEUES, in the order given (default: JQ_QUEUES, the config module's
    QUEUES, else 'default').

    \b
    Examples:
      jqueue worker --url redis://localhost:6379/0 high default low
      jqueue worker --burst -u redis://localhost:6379/0 default
      jqueue worker -c settings --with-scheduler
      jqueue worker -u redis://localhost:6379/0 --serializer json --exception-handler app.errors.notify
    """
    plan = plan_worker(store, options, queues)
    _start_logging(plan)
    session: Session = open_session(store, plan.settings)
    instance = plan.worker_class(
        list(plan.settings.queues.value),
        name=plan.settings.name.value,
        connection=session.broker,
        **plan.worker_kwargs,
    )
    instance.work(**plan.work_kwargs)


@click.command("worker-pool")
@click.argument("queues", nargs=-1)
@click.option(
    "--num-workers",
    "-n",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="How many worker processes.",
)
@store_options(with_serializer=True)
@worker_options(name_short=False)
def worker_pool(
    queues: tuple[str, ...], num_workers: int, store: StoreOptions, options: WorkerOptions
) -> None:
    """Run N workers on QUEUES (default as for 'worker'); restart any that dies; SIGTERM or
    SIGINT stops them all (a second one: at once).

    \b
    Examples:
      jqueue worker-pool -n 4 --url redis://localhost:6379/0 high default low
      jqueue worker-pool -n 2 -c settings --burst
    """
    from jq.worker_pool import WorkerPool

    plan = plan_worker(store, options, queues)
    _start_logging(plan)
    session = open_session(store, plan.settings)
    work_kwargs = dict(plan.work_kwargs)
    pool = WorkerPool(
        list(plan.settings.queues.value),
        connection=session.broker,
        num_workers=num_workers,
        worker_class=plan.worker_class,
        name=plan.settings.name.value,
        **plan.worker_kwargs,
    )
    pool.start(burst=work_kwargs.pop("burst"), logging_level=work_kwargs.pop("logging_level"), **work_kwargs)
