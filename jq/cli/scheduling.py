"""``jqueue scheduler`` and ``jqueue cron``: schedulers on their own, without running jobs."""

from __future__ import annotations

import logging

import click

from jq.cli.errors import UserError
from jq.cli.options import StoreOptions, connect, store_options
from jq.exceptions import JQError
from jq.logutils import setup_logging

__all__ = ["cron", "scheduler"]


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
    from jq.scheduler import Scheduler

    setup_logging(logging.getLogger("jq.scheduler"))
    session = connect(store)
    try:
        instance = Scheduler(list(queues), connection=session.broker, interval=interval, lock_ttl=lock_ttl)
    except JQError as exc:
        raise UserError(str(exc)) from None
    instance.work()


@click.command()
@click.argument("cron_config", metavar="CONFIG")
@store_options()
def cron(cron_config: str, store: StoreOptions) -> None:
    """Fire the periodic jobs of CONFIG (a module or .py file defining ``cron = jq.cron.Cron()``).
    Run as many as you like: each tick is enqueued once. Stops on SIGINT/SIGTERM.

    \b
    Examples:
      jqueue cron -u redis://localhost:6379/0 myapp.cron_config
      jqueue cron -u redis://localhost:6379/0 ./cron_config.py
    """
    from jq.cron import CronScheduler, load_cron

    setup_logging(logging.getLogger("jq.cron"))
    try:
        entries = load_cron(cron_config)
    except JQError as exc:
        raise UserError(str(exc)) from None
    session = connect(store)
    try:
        CronScheduler(session.broker, cron=entries).work()
    except JQError as exc:
        raise UserError(str(exc)) from None
