"""``jqueue``: run workers from the command line.

User mistakes (a bad URL, an unknown class, no queues) print one line on stderr and exit with
status 2; they never show a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from jq import __version__
from jq.exceptions import JQError
from jq.utils import import_attribute


class UserError(click.ClickException):
    """A mistake in what the user asked for: printed as one line, exit status 2."""

    exit_code = 2


def _import(path: str, what: str) -> Any:
    try:
        return import_attribute(path)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"{what} {path!r} cannot be imported: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jqueue")
def cli() -> None:
    """jq: background jobs for Python."""


@cli.command()
@click.argument("queues", nargs=-1)
@click.option("--url", "-u", envvar="JQ_URL", help="Store URL: redis://host:port/db, unix://..., memory://")
@click.option("--burst", "-b", is_flag=True, help="Run until the queues are empty, then exit.")
@click.option("--name", "-n", help="The worker's name (unique among live workers).")
@click.option(
    "--worker-class", "-w", default="jq.Worker", show_default=True, help="Dotted path of the worker class."
)
@click.option("--max-jobs", type=click.IntRange(min=1), help="Exit after this many jobs.")
@click.option("--path", "-P", multiple=True, help="Add a directory to sys.path (repeatable).")
@click.option("--with-scheduler", is_flag=True, help="Also queue due scheduled jobs.")
@click.option("--logging-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING or ERROR.")
def worker(
    queues: tuple[str, ...],
    url: str | None,
    burst: bool,
    name: str | None,
    worker_class: str,
    max_jobs: int | None,
    path: tuple[str, ...],
    with_scheduler: bool,
    logging_level: str,
) -> None:
    """Run a worker on QUEUES (default: 'default'), in the order given.

    \b
    Examples:
      jqueue worker --url redis://localhost:6379/0 high default low
      jqueue worker --burst default
    """
    from jq.worker import BaseWorker

    for directory in reversed(path):
        sys.path.insert(0, directory)
    cls = _import(worker_class, "worker class")
    if not (isinstance(cls, type) and issubclass(cls, BaseWorker)):
        raise UserError(f"worker class {worker_class!r} is not a subclass of jq.worker.BaseWorker")
    try:
        instance = cls(list(queues) or ["default"], name=name, connection=url)
        instance.work(
            burst=burst, max_jobs=max_jobs, with_scheduler=with_scheduler, logging_level=logging_level
        )
    except JQError as exc:
        raise UserError(str(exc)) from None


@cli.command("worker-pool")
@click.argument("queues", nargs=-1)
@click.option(
    "--num-workers", "-n", type=click.IntRange(min=1), default=2, show_default=True, help="How many workers."
)
@click.option(
    "--url", "-u", envvar="JQ_URL", help="Store URL: redis://host:port/db, rediss://..., unix://..."
)
@click.option("--burst", "-b", is_flag=True, help="Each worker stops once the queues are empty.")
@click.option("--name", help="The start of every worker's name.")
@click.option(
    "--worker-class", "-w", default="jq.Worker", show_default=True, help="Dotted path of the worker class."
)
@click.option("--path", "-P", multiple=True, help="Add a directory to sys.path (repeatable).")
@click.option("--logging-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING or ERROR.")
def worker_pool(
    queues: tuple[str, ...],
    num_workers: int,
    url: str | None,
    burst: bool,
    name: str | None,
    worker_class: str,
    path: tuple[str, ...],
    logging_level: str,
) -> None:
    """Run N workers on QUEUES (default: 'default'); restart any that dies; stop all on SIGTERM.

    \b
    Examples:
      jqueue worker-pool -n 4 --url redis://localhost:6379/0 high default low
    """
    from jq.worker import BaseWorker
    from jq.worker_pool import WorkerPool

    for directory in reversed(path):
        sys.path.insert(0, directory)
    cls = _import(worker_class, "worker class")
    if not (isinstance(cls, type) and issubclass(cls, BaseWorker)):
        raise UserError(f"worker class {worker_class!r} is not a subclass of jq.worker.BaseWorker")
    try:
        pool = WorkerPool(list(queues) or ["default"], connection=url, num_workers=num_workers,
                          worker_class=cls, name=name)  # fmt: skip
        pool.start(burst=burst, logging_level=logging_level)
    except JQError as exc:
        raise UserError(str(exc)) from None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``jqueue`` console script."""
    cli.main(args=argv, prog_name="jqueue")
