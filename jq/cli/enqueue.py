"""``jqueue enqueue``: RQ's ``rq enqueue``, with its argument syntax, options and output line.

Each ARG is read as RQ reads it (:func:`jq.cli.helpers.parse_function_args`):

==============  ==================  ==================  ==================
\\               plain text          JSON                Python literal
==============  ==================  ==================  ==================
positional      ``value``           ``:value``          ``%value``
keyword         ``key=value``       ``key:=value``      ``key%=value``
==============  ==================  ==================  ==================

and a value ``@path`` is the text of that file first (``key:=@data.json``).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import click

from jq.cli.errors import UserError
from jq.cli.helpers import parse_function_args
from jq.cli.options import StoreOptions, connect, parse_delay, store_options
from jq.compat.helpers import get_call_string
from jq.core.retry import Retry

__all__ = ["enqueue", "parse_arguments", "parse_when"]


def parse_when(text: str) -> datetime.datetime:
    """``--schedule-at``: an ISO 8601 date and time. Without a UTC offset it is the local time of
    this machine, as RQ reads it (``2030-01-31T09:30:00``); ``Z`` or ``+01:00`` say otherwise."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(cleaned)
        # A naive time is the host's: astimezone() reads it so, daylight saving included. Near
        # year 1 or 9999 it may fall outside what datetime holds: as unreadable as a typo.
        return moment if moment.tzinfo is not None else moment.astimezone()
    except (ValueError, OverflowError):
        raise click.BadParameter(
            f"{text!r} is not an ISO date and time such as 2030-01-31T09:30:00 (local time) or "
            "2030-01-31T09:30:00+01:00",
            param_hint="--schedule-at",
        ) from None


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


def parse_arguments(arguments: tuple[str, ...], kwargs_json: str | None) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments: RQ's syntax for each ARG, and ``--kwargs`` (jq's) merged in."""
    try:
        args, kwargs = parse_function_args(arguments)
    except click.FileError as exc:
        # click's exit status for a file error is 1; a file named by the user is a usage mistake.
        raise UserError(f"cannot read the argument file {exc.ui_filename!r}: {exc.message}") from None
    extra = _parse_kwargs(kwargs_json)
    both = sorted(set(kwargs) & set(extra))
    if both:
        raise click.UsageError(f"keyword argument {both[0]!r} given both as an ARG and in --kwargs")
    return args, {**kwargs, **extra}


def _when(schedule_in: int | None, schedule_at: str | None) -> datetime.datetime | datetime.timedelta | None:
    if schedule_in is not None and schedule_at is not None:
        raise click.UsageError("give at most one of --schedule-in (--in) and --schedule-at (--at)")
    if schedule_at is not None:
        return parse_when(schedule_at)
    if schedule_in is not None:
        # A delay, counted from the store's clock (enqueue_in), not from this machine's.
        return datetime.timedelta(seconds=schedule_in)
    return None


@click.command()
@click.argument("function")
@click.argument("arguments", nargs=-1)
@click.option(
    "--queue", "-q", "queue", default="default", show_default=True, metavar="NAME", help="The queue."
)
@click.option("--timeout", metavar="SECONDS", help="Stop the job after this long: 180, 10m, 1h (-1: never).")
@click.option("--result-ttl", metavar="TTL", help="Keep its result this long (0: not at all, -1: forever).")
@click.option("--ttl", metavar="TTL", help="Discard the job if it waited this long without starting.")
@click.option("--failure-ttl", metavar="TTL", help="Keep it this long if it fails.")
@click.option("--description", metavar="TEXT", help="The job's description (default: the call).")
@click.option(
    "--depends-on", multiple=True, metavar="JOB_ID", help="Run only after this job finished (repeatable)."
)
@click.option("--job-id", metavar="ID", help="The job's id (default: a new UUID).")
@click.option("--at-front", is_flag=True, help="Put the job at the front of the queue.")
@click.option(
    "--retry-max",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="N",
    help="Retry a failure up to N times.",
)
@click.option(
    "--retry-interval",
    type=click.IntRange(min=0),
    multiple=True,
    default=[0],
    show_default=True,
    metavar="SECONDS",
    help="Seconds before each retry (repeatable: the n-th for the n-th retry; the last repeats).",
)
@click.option(
    "--schedule-in",
    "--in",
    "schedule_in",
    callback=parse_delay,
    metavar="DURATION",
    help="Queue the job after this long: 30, 10s, 5m, 2h, 1d (0: now, through the scheduler).",
)
@click.option(
    "--schedule-at",
    "--at",
    "schedule_at",
    metavar="DATETIME",
    help="Queue the job at this ISO date and time: 2030-01-31T09:30:00 (local time), ...Z, ...+01:00.",
)
@click.option("--quiet", is_flag=True, help="Print nothing (errors still go to stderr).")
@click.option("--id-only", is_flag=True, help="Print only the job's id: id=$(jqueue enqueue --id-only ...).")
@click.option("--kwargs", "kwargs_json", metavar="JSON", help="More keyword arguments, as a JSON object.")
@store_options()
def enqueue(
    function: str,
    arguments: tuple[str, ...],
    queue: str,
    timeout: str | None,
    result_ttl: str | None,
    ttl: str | None,
    failure_ttl: str | None,
    description: str | None,
    depends_on: tuple[str, ...],
    job_id: str | None,
    at_front: bool,
    retry_max: int,
    retry_interval: tuple[int, ...],
    schedule_in: int | None,
    schedule_at: str | None,
    quiet: bool,
    id_only: bool,
    kwargs_json: str | None,
    store: StoreOptions,
) -> None:
    """Put FUNCTION(ARGUMENTS...) on a queue, as RQ's 'rq enqueue' does.

    FUNCTION is a dotted path the worker imports. Each ARGUMENT is text (abc), a keyword
    argument (key=abc), JSON (':[1, 2]', 'key:={"a": 1}'), or a Python literal ('%(1, 2)',
    'key%=True'); a value @path is read from that file (key=@notes.txt, ':@data.json'). Put --
    before arguments that start with -.

    \b
    Examples:
      jqueue enqueue -u redis://localhost:6379/0 app.tasks.send_report ops@example.com count:=3
      jqueue enqueue -u redis://localhost:6379/0 --queue low --schedule-in 10m app.tasks.cleanup
      jqueue enqueue -u redis://localhost:6379/0 --retry-max 3 --retry-interval 10 app.tasks.fetch url=https://example.com
      jqueue enqueue -u redis://localhost:6379/0 --schedule-at 2030-01-31T09:30:00 app.tasks.report
    """
    when = _when(schedule_in, schedule_at)
    if retry_max == 0 and tuple(retry_interval) != (0,):
        # Without retries the waits between them would be dropped without a word.
        raise click.UsageError("--retry-interval sets the waits between retries: give --retry-max N too")
    args, kwargs = parse_arguments(arguments, kwargs_json)
    call = get_call_string(function, args, kwargs) or function
    options: dict[str, Any] = {
        "result_ttl": result_ttl,
        "ttl": ttl,
        "failure_ttl": failure_ttl,
        "description": description or call,
        "depends_on": list(depends_on) or None,
        "job_id": job_id,
        "retry": Retry(retry_max, list(retry_interval)) if retry_max > 0 else None,
    }
    session = connect(store)
    target = session.queue(queue)
    if when is None:
        job = target.enqueue_call(function, args, kwargs, timeout=timeout, at_front=at_front, **options)
    else:
        if at_front:
            # Only when asked: a queue that cannot keep at_front for a scheduled job refuses it.
            options["at_front"] = True
        call_options = {"args": args, "kwargs": kwargs, "job_timeout": timeout, **options}
        if isinstance(when, datetime.timedelta):
            job = target.enqueue_in(when, function, **call_options)
        else:
            job = target.enqueue_at(when, function, **call_options)
    if id_only:
        click.echo(job.id)
    elif not quiet:
        click.echo(f"Enqueued {click.style(call, fg='blue')} with job-id '{job.id}'.")
