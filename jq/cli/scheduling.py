"""``jqueue scheduler`` and ``jqueue cron``: schedulers on their own, without running jobs."""

from __future__ import annotations

import logging

import click

from jq.base.logutils import PACKAGE_LOGGER, setup_logging
from jq.cli.config import LOGGING_LEVELS, FlagSettings
from jq.cli.errors import UserError
from jq.cli.options import StoreOptions, connect, load_settings, open_session, store_options
from jq.cli.worker_commands import apply_dict_config
from jq.exceptions import JQError
from jq.scheduling.cron import CronScheduler, load_cron
from jq.scheduling.scheduler import Scheduler

__all__ = ["cron", "scheduler"]

logger = logging.getLogger("jq.cron")


@click.command()
@click.argument("queues", nargs=-1, required=True)
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Seconds between looks for due jobs.")  # fmt: skip
@click.option("--lock-ttl", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Seconds a dead scheduler's lock lasts before another scheduler takes over.")  # fmt: skip
@store_options()
def scheduler(queues: tuple[str, ...], interval: float, lock_ttl: float, store: StoreOptions) -> None:
    """Queue the due scheduled jobs (enqueue_at, enqueue_in, retries with intervals) of QUEUES,
    as their one active scheduler; run several for failover. Stops on SIGINT/SIGTERM.

    \b
    Examples:
      jqueue scheduler -u redis://localhost:6379/0 default low
    """
    setup_logging(logging.getLogger("jq.scheduler"))
    session = connect(store)
    try:
        instance = Scheduler(list(queues), connection=session.broker, interval=interval, lock_ttl=lock_ttl)
    except JQError as exc:
        raise UserError(str(exc)) from None
    instance.work()


@click.command()
@click.argument("config_path", metavar="CONFIG")
@click.option(
    "--logging-level",
    "--logging_level",
    "-l",
    "logging_level",
    type=click.Choice(LOGGING_LEVELS, case_sensitive=False),
    help="The level of the cron scheduler's logs (default INFO) (env: JQ_LOGGING_LEVEL).",
)
@store_options()
def cron(config_path: str, logging_level: str | None, store: StoreOptions) -> None:
    """Fire the periodic jobs of CONFIG: a module path or a .py file that calls
    jq.cron.register(...) (RQ's rq.cron.register) for each job, or defines cron = jq.cron.Cron().
    Run as many as you like: each tick is enqueued once. Stops on SIGINT/SIGTERM.

    \b
    Examples:
      jqueue cron -u redis://localhost:6379/0 myapp.config_path
      jqueue cron -u redis://localhost:6379/0 ./config_path.py
      jqueue cron -c settings -l WARNING config_path
    """
    flags = FlagSettings(url=store.url, serializer=store.serializer, logging_level=logging_level)
    settings, module = load_settings(store, flags)
    apply_dict_config(module.dict_config if module is not None else None, store.config)
    try:
        entries = load_cron(config_path)
    except JQError as exc:
        raise UserError(str(exc)) from None
    # Logging starts once the config is loaded: a mistake in it is one line, nothing before.
    setup_logging(logging.getLogger(PACKAGE_LOGGER), settings.logging_level.value)
    for entry in entries:
        logger.info("Registered %s", entry.describe())
    logger.info("Successfully registered %d cron jobs from %r", len(entries), config_path)
    session = open_session(store, settings)
    scheduler = CronScheduler(session.broker, cron=entries)
    scheduler.config_file = config_path
    try:
        scheduler.start()
    except JQError as exc:
        raise UserError(str(exc)) from None
