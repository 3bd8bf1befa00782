"""Commands about jobs: ``enqueue``, ``job``, ``cancel`` and ``requeue``."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from jq.cli.options import Session, StoreOptions, connect, parse_duration, store_options
from jq.cli.output import echo_error, print_out, progress, stdout_console
from jq.exceptions import DeserializationError, InvalidJobOperation, NoSuchJobError
from jq.job import Job
from jq.queue import Queue
from jq.registry import FailedJobRegistry
from jq.utils import format_timestamp

__all__ = ["cancel", "enqueue", "job", "parse_argument", "parse_when", "requeue"]


def parse_argument(text: str) -> Any:
    """A command-line job argument: JSON when it parses (``42``, ``true``, ``[1, 2]``, ``"42"``),
    else the text itself (``hello``)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_kwargs(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--kwargs") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object such as '{\"x\": 1}'", param_hint="--kwargs")
    return value


def parse_when(text: str) -> datetime.datetime:
    """An ISO 8601 date and time; without a UTC offset it is taken as UTC (``Z`` works too)."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(cleaned)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO date and time such as 2030-01-31T09:30:00+01:00", param_hint="--at"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


def _run_each(ids: Sequence[str], action: Callable[[str], str]) -> None:
    """Apply ``action`` to every id, printing its message; each failure is one error line and
    makes the exit status 1 once every id was tried."""
    failures = 0
    for job_id in ids:
        try:
            click.echo(action(job_id))
        except (NoSuchJobError, InvalidJobOperation) as exc:
            echo_error(str(exc))
            failures += 1
    if failures:
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("func")
@click.argument("args", nargs=-1)
@click.option("--kwargs", "kwargs_json", metavar="JSON", help="Keyword arguments as a JSON object.")
@click.option("--queue", "-q", "queue_name", default="default", show_default=True, help="The queue.")
@click.option("--at", "at_text", metavar="DATETIME", help="Run at this ISO date and time (UTC unless given).")
@click.option(
    "--in", "delay", callback=parse_duration, metavar="DURATION", help="Run after this long: 30, 10m, 2h."
)
@store_options(with_serializer=True)
def enqueue(
    func: str,
    args: tuple[str, ...],
    kwargs_json: str | None,
    queue_name: str,
    at_text: str | None,
    delay: int | None,
    store: StoreOptions,
) -> None:
    """Put FUNC(ARGS...) on a queue and print the job's id.

    FUNC is a dotted path the worker imports. Each ARG is parsed as JSON when it can be (42,
    true, null, "[1, 2]", '"42"' for the string 42), else taken as a string.

    \b
    Examples:
      jqueue enqueue -u redis://localhost:6379/0 app.tasks.send_report ops@example.com 3
      jqueue enqueue -u redis://localhost:6379/0 app.tasks.resize --kwargs '{"width": 640}'
      jqueue enqueue -u redis://localhost:6379/0 --queue low --in 10m app.tasks.cleanup
      jqueue enqueue -u redis://localhost:6379/0 --at 2030-01-31T09:30:00Z app.tasks.report
    """
    if at_text is not None and delay is not None:
        raise click.UsageError("give at most one of --at and --in")
    when = parse_when(at_text) if at_text is not None else None
    call_kwargs = _parse_kwargs(kwargs_json)
    call_args = [parse_argument(arg) for arg in args]
    session = connect(store)
    queue = Queue(queue_name, connection=session.broker, serializer=session.serializer)
    if when is not None:
        job_ = queue.enqueue_at(when, func, args=call_args, kwargs=call_kwargs)
    elif delay is not None:
        job_ = queue.enqueue_in(datetime.timedelta(seconds=delay), func, args=call_args, kwargs=call_kwargs)
    else:
        job_ = queue.enqueue(func, args=call_args, kwargs=call_kwargs)
    click.echo(job_.id)


def _fetch(session: Session, job_id: str) -> Job:
    return Job.fetch(job_id, connection=session.broker, serializer=session.serializer)


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
@store_options(with_serializer=True)
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

    def cancel_one(job_id: str) -> str:
        _fetch(session, job_id).cancel()
        return f"canceled {job_id}"

    _run_each(job_ids, cancel_one)


@click.command()
@click.argument("job_ids", nargs=-1)
@click.option(
    "--queue",
    "-q",
    "queue_name",
    default="default",
    show_default=True,
    help="The queue whose failed registry holds the jobs.",
)
@click.option("--all", "-a", "requeue_all", is_flag=True, help="Requeue every failed job of the queue.")
@store_options()
def requeue(job_ids: tuple[str, ...], queue_name: str, requeue_all: bool, store: StoreOptions) -> None:
    """Put failed jobs (JOB_IDS, or --all) of a queue's failed registry back on the queue.

    \b
    Examples:
      jqueue requeue -u redis://localhost:6379/0 --queue default 5f1c3e0a-... 9b2d77c1-...
      jqueue requeue -u redis://localhost:6379/0 --queue default --all
    """
    if requeue_all == bool(job_ids):
        raise click.UsageError("give either job ids or --all")
    session = connect(store)
    registry = FailedJobRegistry(queue_name, connection=session.broker, serializer=session.serializer)
    if not requeue_all:
        _run_each(job_ids, lambda job_id: f"requeued {registry.requeue(job_id).id}")
        return
    ids = registry.get_job_ids()
    skipped = 0
    with progress(f"Requeuing {queue_name}", len(ids)) as advance:
        for job_id in ids:
            try:
                registry.requeue(job_id)
            except (NoSuchJobError, InvalidJobOperation):
                # Gone meanwhile (expired, or requeued by someone else): nothing to put back.
                skipped += 1
            advance(1)
    click.echo(f"requeued {len(ids) - skipped} job(s) from the failed registry of {queue_name}")
