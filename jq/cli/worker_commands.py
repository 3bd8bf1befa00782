"""``jqueue worker`` and ``jqueue worker-pool``: run workers with every option RQ's ``rq worker``
and ``rq worker-pool`` have (see :mod:`jq.cli.worker_options`)."""

from __future__ import annotations

import inspect
import logging
import logging.config
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import click

from jq.base.logutils import PACKAGE_LOGGER, setup_logging
from jq.cli.config import ConfigModule, Settings
from jq.cli.errors import RuntimeFailure, UserError, import_object
from jq.cli.options import (
    Classes,
    Session,
    StoreOptions,
    load_settings,
    open_session,
    resolve_classes,
    store_options,
)
from jq.cli.sentry import init_sentry
from jq.cli.worker_options import WorkerOptions, check_date_format, check_log_format, worker_options
from jq.exceptions import JQError
from jq.plugins.hookspecs import ExceptionHandler
from jq.scheduling.cron import load_cron
from jq.worker import BaseWorker, SimpleWorker, Worker
from jq.worker.pool import WorkerPool

__all__ = [
    "WorkerOptions",
    "WorkerPlan",
    "apply_dict_config",
    "check_date_format",
    "check_log_format",
    "plan_worker",
    "worker",
    "worker_pool",
]

logger = logging.getLogger("jq.worker")

# RQ's worker classes that only change the queue order, which --dequeue-strategy now chooses.
_STRATEGY_CLASSES = {"RoundRobinWorker": "round_robin", "RandomWorker": "random"}


@dataclass(frozen=True)
class WorkerPlan:
    """Everything needed to build and run a worker, checked before connecting."""

    settings: Settings
    classes: Classes
    worker_class: type[BaseWorker]
    worker_kwargs: dict[str, Any]
    work_kwargs: dict[str, Any]
    dict_config: Mapping[str, Any] | None = None


def _exception_handlers(options: WorkerOptions, settings: Settings) -> list[ExceptionHandler]:
    handlers: list[ExceptionHandler] = []
    if settings.sentry_dsn.value:
        # First, so that a later handler returning False cannot keep a failure from Sentry.
        handlers.append(init_sentry(settings.sentry_dsn.value))
    for path in options.exception_handler:
        handler = import_object(path, "exception handler")
        if not callable(handler):
            raise UserError(f"exception handler {path!r} is not callable")
        handlers.append(handler)
    return handlers


def _horse_kwargs(options: WorkerOptions, worker_class: type[BaseWorker], given: str) -> dict[str, Any]:
    """``--fork-per-job`` and ``--reuse-horse``: how a :class:`jq.Worker` runs its jobs."""
    if options.fork_per_job and options.reuse_horse:
        raise click.UsageError("give at most one of --fork-per-job and --reuse-horse")
    flag = "--fork-per-job" if options.fork_per_job else "--reuse-horse" if options.reuse_horse else None
    if flag is None:
        return {}
    if not issubclass(worker_class, Worker):
        raise UserError(f"{flag} applies to jq.Worker and its subclasses, not {given}")
    return {"reuse_horse": options.reuse_horse}


def _concurrency(
    options: WorkerOptions, settings: Settings, worker_class: type[BaseWorker], given: str | None
) -> tuple[type[BaseWorker], dict[str, Any]]:
    """``--concurrency`` and ``--pool`` (or their variables and settings): the worker class that
    runs them (jq.SimpleWorker unless one is given), and its keyword arguments."""
    concurrency, pool = settings.concurrency.value, settings.pool.value
    if concurrency is None and pool is None:
        return worker_class, {}
    asked = " ".join(
        part
        for part in (
            f"--concurrency {concurrency}" if concurrency is not None else "",
            f"--pool {pool}" if pool is not None else "",
        )
        if part
    )
    horse = "--fork-per-job" if options.fork_per_job else "--reuse-horse" if options.reuse_horse else None
    if horse is not None:
        raise UserError(
            f"{horse} applies to work horses, which run one job at a time: it cannot go with {asked}"
        )
    if given is None:
        worker_class = SimpleWorker
    elif issubclass(worker_class, Worker):
        raise UserError(
            f"{asked}: {given} runs each job in a work horse process, one at a time; use "
            "--worker-class jq.SimpleWorker (the default with --concurrency), whose jobs run on "
            "threads or an event loop of the worker's own process"
        )
    kwargs: dict[str, Any] = {"concurrency": concurrency or 1}
    if pool is not None:
        kwargs["pool"] = pool
    return worker_class, kwargs


def _dequeue_strategy(options: WorkerOptions, worker_class: type[BaseWorker]) -> dict[str, Any]:
    strategy = options.dequeue_strategy
    replaced = _STRATEGY_CLASSES.get(worker_class.__qualname__)
    if replaced is not None:
        logger.warning(
            "%s is deprecated: use the default worker class with --dequeue-strategy %s",
            worker_class.__qualname__,
            replaced,
        )
    if strategy == "default":
        return {}
    if "dequeue_strategy" not in inspect.signature(worker_class.work).parameters:
        raise UserError(
            f"--dequeue-strategy {strategy}: {worker_class.__qualname__}.work() takes no dequeue_strategy"
        )
    return {"dequeue_strategy": strategy}


def plan_worker(store: StoreOptions, options: WorkerOptions, queues: tuple[str, ...]) -> WorkerPlan:
    """Resolve settings and import every class and handler; user mistakes surface here, before
    anything connects."""
    settings, module = load_settings(store, options.flag_settings(store, queues))
    classes = resolve_classes(store)
    worker_class, concurrency = _concurrency(options, settings, classes.worker, store.worker_class)
    if worker_class is not classes.worker:
        classes = replace(classes, worker=worker_class)
    worker_kwargs: dict[str, Any] = {
        "log_job_description": not options.disable_job_desc_logging,
        "disable_default_exception_handler": options.disable_default_exception_handler,
        "serializer": settings.serializer.value,
        "queue_class": classes.queue,
        "exception_handlers": _exception_handlers(options, settings),
        **_horse_kwargs(options, worker_class, store.worker_class or "jq.Worker"),
        **concurrency,
    }
    if classes.job is not None:
        worker_kwargs["job_class"] = classes.job
    optional = {
        "default_result_ttl": options.results_ttl,
        "worker_ttl": options.worker_ttl,
        "maintenance_interval": options.maintenance_interval,
        "job_monitoring_interval": options.job_monitoring_interval,
        "batch_size": options.batch_size,
    }
    worker_kwargs.update({key: value for key, value in optional.items() if value is not None})
    if options.cron is not None:
        worker_kwargs["cron"] = _load_cron(options.cron)
    work_kwargs: dict[str, Any] = {
        "burst": options.burst,
        "logging_level": settings.logging_level.value,
        "log_format": options.log_format,
        "date_format": options.date_format,
        "max_jobs": options.max_jobs,
        "max_idle_time": options.max_idle_time,
        "with_scheduler": options.with_scheduler,
        **_dequeue_strategy(options, worker_class),
    }
    return WorkerPlan(settings, classes, worker_class, worker_kwargs, work_kwargs, _dict_config(module))


def _dict_config(module: ConfigModule | None) -> Mapping[str, Any] | None:
    return module.dict_config if module is not None else None


def _load_cron(location: str) -> Any:
    try:
        return load_cron(location)
    except JQError as exc:
        raise UserError(str(exc)) from None


def apply_dict_config(dict_config: Mapping[str, Any] | None, module: str | None) -> None:
    """``DICT_CONFIG`` of the config module: :func:`logging.config.dictConfig` before the worker
    (or cron) sets its own logging up, which then leaves the handlers it configured alone."""
    if not dict_config:
        return
    try:
        logging.config.dictConfig(dict(dict_config))
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        raise UserError(
            f"DICT_CONFIG in config module {module!r} is not a logging configuration: {exc}"
        ) from None


def _start_logging(plan: WorkerPlan, store: StoreOptions) -> None:
    apply_dict_config(plan.dict_config, store.config)
    # The level of every jq logger, not only the worker's: the scheduler, cron and the store's
    # driver speak for the worker too, and --verbose should show what they say.
    setup_logging(
        logging.getLogger(PACKAGE_LOGGER),
        plan.work_kwargs["logging_level"],
        plan.work_kwargs["log_format"],
        plan.work_kwargs["date_format"],
    )
    logger.debug("settings: %s", plan.settings.sources())


def write_pid(path: str | None) -> None:
    """``--pid FILE``: write this process's id to FILE (``~`` expanded)."""
    if path is None:
        return
    try:
        with open(os.path.expanduser(path), "w") as file:
            file.write(str(os.getpid()))
    except OSError as exc:
        raise UserError(f"--pid {path!r}: cannot write the process id: {exc.strerror or exc}") from None


@click.command()
@click.argument("queues", nargs=-1)
@store_options()
@worker_options(name_short=True)
def worker(queues: tuple[str, ...], store: StoreOptions, options: WorkerOptions) -> None:
    """Run a worker on QUEUES, in the order given (default: JQ_QUEUES, the config module's
    QUEUES, else 'default'). On a suspended system it does not start (exit status 1).

    \b
    Examples:
      jqueue worker --url redis://localhost:6379/0 high default low
      jqueue worker --burst -u redis://localhost:6379/0 default
      jqueue worker -c settings --with-scheduler
      jqueue worker -u redis://localhost:6379/0 --serializer json --exception-handler app.errors.notify
    """
    write_pid(options.pid)
    plan = plan_worker(store, options, queues)
    _start_logging(plan, store)
    session: Session = open_session(store, plan.settings, plan.classes)
    if session.broker.is_suspended():
        # RQ's rule: a worker started on a suspended system stops at once, saying so.
        raise RuntimeFailure(
            f"the workers of {session.broker.url} are suspended: run 'jqueue resume' to let them take jobs"
        )
    instance = plan.worker_class(
        [session.queue(name) for name in plan.settings.queues.value],
        name=plan.settings.name.value,
        connection=session.worker_connection,
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
@store_options()
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
    write_pid(options.pid)
    plan = plan_worker(store, options, queues)
    _start_logging(plan, store)
    session = open_session(store, plan.settings, plan.classes)
    work_kwargs = dict(plan.work_kwargs)
    pool = WorkerPool(
        list(plan.settings.queues.value),
        connection=session.worker_connection,
        num_workers=num_workers,
        worker_class=plan.worker_class,
        name=plan.settings.name.value,
        **plan.worker_kwargs,
    )
    burst = work_kwargs.pop("burst")
    finite = burst or work_kwargs.get("max_jobs") is not None or work_kwargs.get("max_idle_time") is not None
    pool.start(burst=burst, logging_level=work_kwargs.pop("logging_level"), **work_kwargs)
    if pool.gave_up:
        raise RuntimeFailure(
            f"the pool stopped: its workers kept dying at start ({pool.deaths} died); their errors "
            "are logged above"
        )
    if finite and pool.deaths:
        # A run meant to end: it did, but not every worker ended as asked.
        raise RuntimeFailure(f"{pool.deaths} worker(s) of the pool died; their errors are logged above")
