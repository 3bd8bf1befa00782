"""Commands about jobs: ``job``, ``cancel`` and ``requeue`` (``enqueue`` is :mod:`jq.cli.enqueue`)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from jq.admin import actions
from jq.base.utils import format_timestamp
from jq.cli.options import Session, StoreOptions, connect, store_options
from jq.cli.output import echo_error, print_out, progress, stdout_console
from jq.core.job import Job
from jq.exceptions import DeserializationError
from jq.queueing.queue import Queue

__all__ = ["cancel", "job", "requeue"]


def _show(report: actions.Report) -> None:
    """Print one line per id of ``report``: what was done, or (on stderr) why not; any id not
    acted on makes the exit status 1 once every id was tried."""
    for job_id, problem in report.outcomes:
        if problem is None:
            click.echo(f"{report.action} {job_id}")
        else:
            echo_error(problem)
    if report.skipped:
        raise click.exceptions.Exit(1)


def _fetch(session: Session, job_id: str) -> Job:
    return actions.fetch_job(_any_queue(session), job_id)


def _any_queue(session: Session) -> Queue:
    """A queue of the session's classes: what job actions read jobs with (any queue's jobs)."""
    return session.queue("default")


def _outcome(job_: Job) -> tuple[str, Any]:
    """``("result", value)``, ``("traceback", text)``, or ``("result", _NO_RESULT)`` before any."""
    latest = job_.latest_result()
    if latest is None:
        return "result", _NO_RESULT
    if latest.exc_string is not None:
        return "traceback", latest.exc_string
    try:
        return "result", latest.return_value
    except DeserializationError as exc:
        return "result", f"<cannot be read: {exc}>"


class _NoResult:
    """The result of a job that has not ended yet: ``-`` in tables, ``null`` in JSON."""

    def __repr__(self) -> str:
        return "-"


_NO_RESULT = _NoResult()


def _job_fields(job_: Job) -> dict[str, Any]:
    def when(moment: datetime.datetime | None) -> str | None:
        return format_timestamp(moment) if moment is not None else None

    return {
        "id": job_.id,
        "status": job_.get_status(refresh=False).value,
        "queue": job_.origin,
        "description": job_.description,
        "created_at": when(job_.created_at),
        "enqueued_at": when(job_.enqueued_at),
        "started_at": when(job_.started_at),
        "ended_at": when(job_.ended_at),
        "worker": job_.worker_name,
    }


def _jsonable(value: Any) -> Any:
    if value is _NO_RESULT:
        return None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


@click.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@store_options()
def job(job_id: str, as_json: bool, store: StoreOptions) -> None:
    """Show a job: its status, timestamps, and its result or traceback.

    \b
    Examples:
      jqueue job -u redis://localhost:6379/0 5f1c3e0a-...
      jqueue job -u redis://localhost:6379/0 --json 5f1c3e0a-... | jq .status
    """
    session = connect(store)
    found = _fetch(session, job_id)
    fields = _job_fields(found)
    kind, outcome = _outcome(found)
    if as_json:
        click.echo(json.dumps({**fields, kind: _jsonable(outcome)}, indent=2))
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in fields.items():
        grid.add_row(name.replace("_", " "), Text("-" if value is None else str(value)))
    if kind == "result":
        grid.add_row("result", Text(repr(outcome)))
    print_out(stdout_console(), grid)
    if kind == "traceback":
        # Printed as is: rich would wrap and re-style the lines of a traceback.
        click.echo("traceback:")
        click.echo(str(outcome).rstrip())


@click.command()
@click.argument("job_ids", nargs=-1, required=True)
@store_options()
def cancel(job_ids: tuple[str, ...], store: StoreOptions) -> None:
    """Cancel jobs (any status but canceled): they end 'canceled' and never run (again).

    \b
    Examples:
      jqueue cancel -u redis://localhost:6379/0 5f1c3e0a-... 9b2d77c1-...
    """
    session = connect(store)
    _show(actions.cancel_jobs(_any_queue(session), job_ids))


@click.command()
@click.argument("job_ids", nargs=-1)
@click.option(
    "--queue",
    "-q",
    "queue",
    default="default",
    show_default=True,
    help="The queue whose failed registry holds the jobs.",
)
@click.option("--all", "-a", "all", is_flag=True, help="Requeue every failed job of the queue.")
@store_options()
def requeue(job_ids: tuple[str, ...], queue: str, all: bool, store: StoreOptions) -> None:
    """Put failed jobs (JOB_IDS, or --all) of a queue's failed registry back on the queue.
    With neither, there is nothing to do (exit status 0).

    \b
    Examples:
      jqueue requeue -u redis://localhost:6379/0 --queue default 5f1c3e0a-... 9b2d77c1-...
      jqueue requeue -u redis://localhost:6379/0 --queue default --all
    """
    if all and job_ids:
        raise click.UsageError("give either job ids or --all, not both")
    session = connect(store)
    target = session.queue(queue)
    if not all and not job_ids:
        click.echo("Nothing to do")
        return
    if not all:
        _show(actions.requeue_failed(target, job_ids))
        return
    ids = target.failed_job_registry.get_job_ids()
    if not ids:
        click.echo("Nothing to do")
        return
    with progress(f"Requeuing {queue}", len(ids)) as advance:
        # An id gone meanwhile (expired, or requeued by someone else) has nothing to put back.
        report = actions.requeue_failed(target, ids, advance)
    click.echo(f"requeued {len(report.done)} job(s) from the failed registry of {queue}")
